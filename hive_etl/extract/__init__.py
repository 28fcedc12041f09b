"""Extract stages: read the TypeScript-era sources without ever writing to them."""
