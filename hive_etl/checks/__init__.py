"""Checks: the proofs a migration gives before it replaces anything."""
