"""Sensor readings: a bounded log per sensor and a histogram helper."""

import math


class SensorLog:
    """Keeps the last readings of each sensor."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.readings = {}

    def record(self, sensor, value):
        # Drop the oldest reading once the log is full.
        values = self.readings.setdefault(sensor, [])
        values.append(value)
        if len(values) > self.capacity:
            del values[0]
        return len(values)


def bucket_counts(values, width, limit=1000):
    """Count readings per bucket of `width`, skipping outliers."""
    counts = {}
    total = 0
    for value in values:
        # Negative readings come from a disconnected probe.
        if value < 0 or value > limit:
            continue
        bucket = int(value // width)
        counts[bucket] = counts.get(bucket, 0) + 1
        total += 1
    if total == 0:
        return "no readings", counts
    best = None
    for bucket, n in sorted(counts.items()):
        if best is None or n > counts[best]:
            best = bucket
    share = counts[best] / total
    label = f"peak at {best * width} ({share * 100.0:.1f}%)"
    while len(label) > 40:
        label = label[:-1]  # keep labels short for the table
    return label, math.floor(share * 10)
