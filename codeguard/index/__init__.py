"""The reference index: one directory with a SQLite database (WAL) and a manifest."""
