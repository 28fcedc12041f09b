"""Transform stages: value normalisation, model identifiers, derived tables."""
