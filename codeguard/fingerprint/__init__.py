"""Fingerprints: stable k-gram hashes, winnowing and alignment. NumPy only.

This package knows nothing about tree-sitter, torch or FAISS: it takes arrays of token ids
(see ``codeguard.parsing``) and returns hashes, positions and aligned fragments.
"""
