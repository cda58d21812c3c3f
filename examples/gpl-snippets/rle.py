# SPDX-License-Identifier: GPL-3.0-or-later
# Run-length coding, written for codeguard's quick start as a stand-in for copyleft code from
# another project.


def run_length_encode(data):
    """Compress runs of repeated items: 'aaab' -> [('a', 3), ('b', 1)]."""
    if not data:
        return []
    runs = []
    current = data[0]
    count = 1
    for item in data[1:]:
        if item == current:
            count += 1
        else:
            runs.append((current, count))
            current = item
            count = 1
    runs.append((current, count))
    return runs


def run_length_decode(runs):
    """Expand [(item, count), ...] back into a list of items."""
    items = []
    for item, count in runs:
        if count < 0:
            raise ValueError("negative run length")
        items.extend([item] * count)
    return items
