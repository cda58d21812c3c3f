"""Batching."""


def chunked(items, size):
    """Split a sequence into lists of at most ``size`` items, keeping their order."""
    if size <= 0:
        raise ValueError("size must be positive")
    batches = []
    current = []
    for item in items:
        current.append(item)
        if len(current) == size:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches
