"""Path helpers for the demo."""
import genericpath
import os
from posixpath import abspath, commonprefix, join


def relative_to(target, base=None):
    if not target:
        raise ValueError("no path specified")
    target = os.fspath(target)
    if isinstance(target, bytes):
        here, slash, up = b'.', b'/', b'..'
    else:
        here, slash, up = '.', '/', '..'
    if base is None:
        base = here
    else:
        base = os.fspath(base)
    try:
        base_parts = [p for p in abspath(base).split(slash) if p]
        target_parts = [p for p in abspath(target).split(slash) if p]
        shared = len(commonprefix([base_parts, target_parts]))
        parts = [up] * (len(base_parts) - shared) + target_parts[shared:]
        if not parts:
            return here
        return join(*parts)
    except (TypeError, AttributeError, BytesWarning, DeprecationWarning):
        genericpath._check_arg_types('relpath', target, base)
        raise


def ensure_suffix(name, suffix=".txt"):
    """Append a suffix unless the name already has it."""
    return name if name.endswith(suffix) else name + suffix
