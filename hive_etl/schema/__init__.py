"""The Rust-era target schema and the TypeScript-era source schema, as facts and as DDL."""

from .compare import diff_migrations, diff_tables
from .create import (
    create_fresh_target,
    create_indexes,
    create_tables,
    format_timestamp,
    index_statements,
    missing_indexes,
    record_migrations,
    seed_fresh_rows,
)
from .introspect import introspect, migration_rows
from .spec import SCHEMA_VERSION, source_spec, target_spec

__all__ = [
    "SCHEMA_VERSION",
    "create_fresh_target",
    "create_indexes",
    "create_tables",
    "diff_migrations",
    "diff_tables",
    "format_timestamp",
    "index_statements",
    "missing_indexes",
    "introspect",
    "migration_rows",
    "record_migrations",
    "seed_fresh_rows",
    "source_spec",
    "target_spec",
]
