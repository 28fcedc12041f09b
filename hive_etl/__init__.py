"""hive-etl: move a Hive AI TypeScript-era store into the Rust-era schema (version 13)."""

__version__ = "0.1.0"
