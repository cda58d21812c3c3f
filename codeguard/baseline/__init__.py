"""Accepted findings: baseline files keyed by content, and inline allow comments."""
