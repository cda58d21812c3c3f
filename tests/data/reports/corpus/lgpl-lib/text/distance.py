def levenshtein(source, target):
    """Edit distance between two strings (insertions, deletions, substitutions)."""
    if len(source) < len(target):
        source, target = target, source
    previous = list(range(len(target) + 1))
    for i, left in enumerate(source, 1):
        current = [i]
        for j, right in enumerate(target, 1):
            insert = current[j - 1] + 1
            delete = previous[j] + 1
            replace = previous[j - 1] + (left != right)
            current.append(min(insert, delete, replace))
        previous = current
    return previous[-1]


def similarity(source, target):
    """Similarity in [0, 1] derived from the edit distance."""
    longest = max(len(source), len(target))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(source, target) / longest
