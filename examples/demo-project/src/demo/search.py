"""Fuzzy search over product names."""
from difflib import SequenceMatcher
from heapq import nlargest as _nlargest


def best_matches(query, names, limit=3, threshold=0.6):
    if not limit > 0:
        raise ValueError("limit must be > 0: %r" % (limit,))
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be in [0.0, 1.0]: %r" % (threshold,))
    scored = []
    matcher = SequenceMatcher()
    matcher.set_seq2(query)
    seen = 0
    for candidate in names:
        seen += 1
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= threshold and \
           matcher.quick_ratio() >= threshold and \
           matcher.ratio() >= threshold:
            scored.append((matcher.ratio(), candidate))
    scored = _nlargest(limit, scored)
    return [name for score, name in scored]


def normalize_query(text):
    """Lower-case a query and collapse its whitespace."""
    return " ".join(text.lower().split())
