"""Core helpers of the app."""

import math


def area(radius):
    """Area of a circle."""
    return math.pi * radius ** 2


def merge_intervals(intervals):
    """Merge overlapping closed intervals and return them sorted by start."""
    if not intervals:
        return []
    ordered = sorted(intervals, key=lambda pair: pair[0])
    merged = [list(ordered[0])]
    for start, end in ordered[1:]:
        last = merged[-1]
        if start <= last[1]:
            last[1] = max(last[1], end)
        else:
            merged.append([start, end])
    result = []
    for pair in merged:
        result.append((pair[0], pair[1]))
    return result
