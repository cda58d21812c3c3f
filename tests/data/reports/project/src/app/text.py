"""Text helpers."""


def edit_distance(a, b):
    """How many single-character edits turn one string into the other."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            ins = cur[j - 1] + 1
            dele = prev[j] + 1
            sub = prev[j - 1] + (x != y)
            cur.append(min(ins, dele, sub))
        prev = cur
    return prev[-1]
