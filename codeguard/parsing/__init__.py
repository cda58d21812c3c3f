"""Parsing: tree-sitter grammars (the only package that imports tree-sitter) and chunking."""
