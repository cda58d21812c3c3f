"""The engine: wires discovery, parsing, fingerprints, the index and reports together."""
