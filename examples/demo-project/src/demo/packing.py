"""Compact storage of repetitive sensor readings."""


def run_length_encode(data):
    """Compress runs of repeated items: 'aaab' -> [('a', 3), ('b', 1)]."""
    runs = []
    i = 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        runs.append((data[i], j - i))
        i = j
    return runs


def describe(runs):
    """One line per run, for logs."""
    return "\n".join(f"{value} x{n}" for value, n in runs)
