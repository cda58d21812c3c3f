"""Words of license texts: the same tokenizer for rule texts and for scanned files.

A token is a lowercase run of letters and digits, with an optional ``+`` inside or at its end
(``gpl2+``, ``lgpl-2.1+`` gives ``lgpl``, ``2``, ``1+``): punctuation, whitespace and comment
markers (``#``, ``//``, ``*``, ``--``, ``;``) vanish. Markup words that litter license texts
copied from HTML, DocBook or batch files (``href``, ``nbsp``, ``rem``, ``dnl``...) are dropped so
that a notice reads the same in a ``.c`` header, an HTML page or a ``.bat`` file.

Rule texts mark required phrases with ``{{ ... }}``: a match of the rule is only valid when each
such phrase is matched whole, in order. ``rule_tokens`` returns their token spans.
"""

from __future__ import annotations

import re
from itertools import repeat

import numpy as np

# Markup and comment-leader words, never part of the legal text itself.
STOPWORDS = frozenset(
    {
        # XML/HTML character references (&quot; &lt; ...)
        "quot", "apos", "lt", "gt", "amp", "nbsp", "x3c", "x3e",
        "ge", "le", "emdash", "mdash", "ndash", "bdquo", "ldquo", "ldquor", "lsaquo", "lsquo",
        "lsquor", "raquo", "rdquo", "rdquor", "rsaquo", "rsquo", "rsquor", "sbquo", "lpar", "rpar",
        "comma", "period", "colon", "semi", "tilde", "emsp", "ensp", "numsp", "puncsp", "thinsp",
        "hairsp", "bull", "bullet",
        # HTML tags and attributes (<a href=...>, <p>, <br/>, ...)
        "a", "href", "p", "br", "div", "em", "span", "class", "pre", "ul", "ol", "li", "hr",
        "tr", "td", "th", "img", "src", "h1", "h2", "h3", "h4", "h5", "blockquote", "body", "id",
        # Debian copyright <s> tags, DocBook tags
        "s", "ulink", "para",
        # comment leaders of batch files and autoconf
        "rem", "dnl",
    }
)  # fmt: skip

_WORD = r"[^_\W]+\+?[^_\W]*"
_QUERY_RE = re.compile(_WORD + r"|\n")
_RULE_RE = re.compile(_WORD + r"|\{\{|\}\}")


NEWLINE = -1
STOP = -2


def query_lookup(vocab: dict[str, int]) -> dict[str, int]:
    """``vocab`` extended for ``query_ids``: newline and stopwords get negative codes."""
    lookup = dict(vocab)
    lookup["\n"] = NEWLINE
    for w in STOPWORDS:
        lookup[w] = STOP
    return lookup


def query_ids(text: str, lookup: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Word ids of ``text`` (0 for words no rule has) and the 1-based line of each.

    ``lookup`` comes from ``query_lookup``. One regex pass and one C-level dict lookup per
    word: the whole scan of a file is dominated by this for files without license text.
    """
    raw = _QUERY_RE.findall(text.lower())
    codes = np.fromiter(map(lookup.get, raw, repeat(0)), dtype=np.int64, count=len(raw))
    newline = codes == NEWLINE
    line = np.cumsum(newline) + 1
    keep = codes >= 0
    return codes[keep], line[keep].astype(np.int32)


def query_words(text: str) -> tuple[list[str], np.ndarray]:
    """The words of ``text`` and the 1-based line of each (stopwords dropped)."""
    raw = _QUERY_RE.findall(text.lower())
    words: list[str] = []
    lines: list[int] = []
    line = 1
    stop = STOPWORDS
    for w in raw:
        if w == "\n":
            line += 1
        elif w not in stop:
            words.append(w)
            lines.append(line)
    return words, np.asarray(lines, dtype=np.int32)


def rule_words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The words of a rule text and its required phrases as ``[start, end)`` word spans.

    Unbalanced or empty ``{{ }}`` markers are ignored rather than rejected: the database is
    data, and one odd rule must not stop the index from building.
    """
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    open_at: int | None = None
    for w in _RULE_RE.findall(text.lower()):
        if w == "{{":
            open_at = len(words)
        elif w == "}}":
            if open_at is not None and len(words) > open_at:
                spans.append((open_at, len(words)))
            open_at = None
        elif w not in STOPWORDS:
            words.append(w)
    return words, spans
