"""Demo package for codeguard's quick start."""
