"""License expressions: ScanCode keys <-> SPDX ids, categories, and SPDX-License-Identifier tags.

Expressions are parsed with the ``license-expression`` library (the same grammar ScanCode and
the SPDX spec use: ``AND``, ``OR``, ``WITH``, parentheses) and rendered back with nested groups
of the same operator flattened: ``(a OR b) OR c`` reads ``a OR b OR c``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from license_expression import ExpressionError, LicenseSymbol, LicenseWithExceptionSymbol, Licensing

from codeguard.errors import ConfigError

UNKNOWN_SPDX_KEY = "unknown-spdx"

_LICENSING = Licensing()

# "SPDX-License-Identifier: <expr>", tolerant of spacing, case and "_"/" " for "-".
_TAG_RE = re.compile(r"spdx[-_ ]?license[-_ ]?identifiers?\s*[:=]?\s*", re.IGNORECASE)
# Metadata fields whose value is an SPDX expression by their format's spec: core metadata's
# ``License-Expression:`` (PEP 639), package.json's ``"license": "..."``, Cargo.toml's and
# pyproject's ``license = "..."``, and a ``License:`` line (METADATA, Debian, READMEs). They are
# read as tags only when they join known ids with operators (``MIT OR Apache-2.0``): rules
# cannot see that ``MIT`` and ``Zlib`` there are licenses, nor that an OR is a choice.
_FIELD_RE = re.compile(
    r"""^\W*(?:license[-_ ]expression\s*[:=]|"license"\s*:\s*"|licen[cs]e\s*=\s*["']|licen[cs]es?\s*:)\s*""",
    re.IGNORECASE,
)
_OPERATOR = re.compile(r"\s(?:and|or|with)\s", re.IGNORECASE)
# What may follow in an expression; anything else (a comment closer, a quote) ends it.
_EXPR_CHARS = re.compile(r"[A-Za-z0-9.+\-:() _]+")


# Deprecated SPDX ids that stood for a license with an exception, and their current form
# (SPDX license list, "deprecated identifiers"). Keys are lowercase.
DEPRECATED_SPDX = {
    "ecos-2.0": "GPL-2.0-or-later WITH eCos-exception-2.0",
    "gpl-2.0-with-autoconf-exception": "GPL-2.0-only WITH Autoconf-exception-2.0",
    "gpl-2.0-with-bison-exception": "GPL-2.0-only WITH Bison-exception-2.2",
    "gpl-2.0-with-classpath-exception": "GPL-2.0-only WITH Classpath-exception-2.0",
    "gpl-2.0-with-font-exception": "GPL-2.0-only WITH Font-exception-2.0",
    "gpl-2.0-with-gcc-exception": "GPL-2.0-only WITH GCC-exception-2.0",
    "gpl-3.0-with-autoconf-exception": "GPL-3.0-only WITH Autoconf-exception-3.0",
    "gpl-3.0-with-gcc-exception": "GPL-3.0-only WITH GCC-exception-3.1",
    "wxwindows": "LGPL-2.0-or-later WITH WxWindows-exception-3.1",
    "nunit": "zlib-acknowledgement",
    "standardml-nj": "SMLNJ",
}


class UnknownLicenseError(ConfigError):
    """A license id that neither ScanCode's database nor SPDX knows."""


@dataclass(frozen=True)
class Tag:
    """One SPDX-License-Identifier tag found in a text."""

    line: int  # 1-based
    key: str  # ScanCode expression
    spdx: str  # SPDX expression
    raw: str  # the expression as written


class LicenseTable:
    """ScanCode license keys with their SPDX ids and categories (from the index metadata)."""

    def __init__(self, licenses: Mapping[str, Mapping[str, Any]]) -> None:
        self._by_key = licenses
        self._key_by_spdx: dict[str, str] = {}
        # Primary SPDX ids of current licenses first, so an id listed as an alias of a
        # deprecated or related key never shadows the license that owns it.
        ordered = sorted(licenses.items(), key=lambda kv: (bool(kv[1].get("is_deprecated")), kv[0]))
        for key, info in ordered:
            self._key_by_spdx.setdefault(str(info["spdx"]).lower(), key)
        for key, info in ordered:
            for other in info.get("other_spdx") or ():
                self._key_by_spdx.setdefault(str(other).lower(), key)
        for key, _info in ordered:
            self._key_by_spdx.setdefault(f"licenseref-scancode-{key}", key)

    def spdx_of(self, key: str) -> str:
        """SPDX id of a ScanCode key (``LicenseRef-scancode-<key>`` for unknown keys)."""
        info = self._by_key.get(key)
        return str(info["spdx"]) if info else f"LicenseRef-scancode-{key}"

    def key_of_spdx(self, spdx_id: str) -> str | None:
        """ScanCode key of an SPDX id (case-insensitive), or None."""
        return self._key_by_spdx.get(spdx_id.lower())

    def category_of(self, spdx_or_key: str) -> str:
        """ScanCode category of a key or SPDX id; UnknownLicenseError when neither is known."""
        ident = spdx_or_key.strip()
        key = ident if ident in self._by_key else self.key_of_spdx(ident)
        if key is None and ident.lower() in self._by_key:
            key = ident.lower()
        if key is None:
            raise UnknownLicenseError(
                f"unknown license id {spdx_or_key!r}: use an SPDX id (https://spdx.org/licenses/) "
                "or a ScanCode license key"
            )
        return str(self._by_key[key]["category"])


def _render(expr: Any, name: Callable[[str], str]) -> str:
    """Render a parsed expression with every symbol renamed by ``name``."""
    if isinstance(expr, LicenseWithExceptionSymbol):
        return f"{name(expr.license_symbol.key)} WITH {name(expr.exception_symbol.key)}"
    if isinstance(expr, LicenseSymbol):
        return name(expr.key)
    op = " AND " if isinstance(expr, _LICENSING.AND) else " OR "
    parts = []
    for arg in _flatten(expr):
        text = _render(arg, name)
        is_group = isinstance(arg, (_LICENSING.AND, _LICENSING.OR))
        parts.append(f"({text})" if is_group else text)
    return op.join(parts)


def _flatten(expr: Any) -> list[Any]:
    out: list[Any] = []
    for arg in expr.args:
        if type(arg) is type(expr):
            out.extend(_flatten(arg))
        else:
            out.append(arg)
    return out


# How license-expression's tokenizer splits text before it matches license names: lowercased,
# at whitespace and parentheses (license_expression._pyahocorasick.get_tokens).
_NAME_TOKENS = re.compile(r"[^\s()]+|[()]")


def _name_tokens(text: str) -> str:
    return " ".join(_NAME_TOKENS.findall(text.lower()))


@lru_cache(maxsize=1)
def _spdx_entries() -> tuple[list[dict[str, Any]], list[tuple[str, ...]]]:
    """license-expression's SPDX symbols as ``get_spdx_licensing`` builds them (its vendored
    ScanCode index, SPDX keys first), and the tokenized names (key, aliases) of each."""
    from license_expression import get_license_index

    entries = [
        {
            "key": lic.get("spdx_license_key", ""),
            "aliases": lic.get("other_spdx_license_keys", []),
            "is_deprecated": lic.get("is_deprecated", False),
            "is_exception": lic.get("is_exception", False),
        }
        for lic in get_license_index()
        if lic.get("spdx_license_key")
    ]
    names = [tuple(_name_tokens(n) for n in (e["key"], *e["aliases"]) if n) for e in entries]
    return entries, names


@lru_cache(maxsize=256)
def _licensing_of(chosen: tuple[int, ...]) -> Licensing:
    entries, _ = _spdx_entries()
    return Licensing([LicenseSymbol(**entries[i]) for i in chosen])


def spdx_licensing_for(expression: str) -> Licensing:
    """A Licensing that parses and validates ``expression`` exactly as license-expression's
    ``get_spdx_licensing()`` does, made of only the SPDX symbols whose key or an alias occurs in
    it: building all 2,400 symbols and their matching automaton cost 0.03-0.1 s of every scan.

    Its tokenizer matches a name where the name's tokens occur in a row among the text's, so a
    symbol whose tokens do not occur that way cannot match; keeping every symbol that passes the
    weaker substring test below keeps every match, in the table's order (no two symbols share
    a name: license-expression refuses such tables)."""
    text = _name_tokens(expression)
    _, names = _spdx_entries()
    chosen = tuple(i for i, ns in enumerate(names) if any(n and n in text for n in ns))
    return _licensing_of(chosen)


def parse(expression: str) -> Any:
    """Parse a license expression; ExpressionError when it is malformed."""
    return _LICENSING.parse(expression, validate=False, strict=False)


@lru_cache(maxsize=4096)
def normalize(expression: str) -> str:
    """The expression re-rendered canonically (flattened groups, single spaces)."""
    try:
        parsed = parse(expression)
    except ExpressionError:
        return " ".join(expression.split())
    return _render(parsed, lambda k: k) if parsed is not None else ""


def map_expression(expression: str, name: Callable[[str], str]) -> str:
    """Rename every symbol of an expression (malformed input: renamed as one symbol)."""
    try:
        parsed = parse(expression)
    except ExpressionError:
        return name(expression.strip())
    return _render(parsed, name) if parsed is not None else ""


def find_tags(text: str, table: LicenseTable) -> list[Tag]:
    """Every ``SPDX-License-Identifier:`` tag of ``text`` with its expression mapped.

    Ids unknown to SPDX and ScanCode become ``unknown-spdx`` (SPDX
    ``LicenseRef-scancode-unknown-spdx``), as does a malformed expression: a typo in a tag is
    still a license statement worth reporting, never a crash.
    """
    tags: list[Tag] = []
    lowered = text.lower()
    if "spdx" not in lowered and "licen" not in lowered:
        return tags
    for lineno, line in enumerate(text.split("\n"), 1):  # lines as the tokenizer counts them
        found = _TAG_RE.search(line)
        field = None if found else _FIELD_RE.match(line)
        if not (found or field):
            continue
        rest = _EXPR_CHARS.match(line, (found or field).end())  # type: ignore[union-attr]
        raw = rest.group(0).strip(" -:") if rest else ""
        raw = _balance(raw)
        if not raw or (field and not _OPERATOR.search(f" {raw} ")):
            continue
        key, spdx = _map_tag(raw, table)
        if field and UNKNOWN_SPDX_KEY in key:
            continue  # prose after "License:", not an expression of known ids
        tags.append(Tag(lineno, key, spdx, raw))
    return tags


def _balance(raw: str) -> str:
    """Drop unmatched parentheses (a comment closer like ``*)``, a missing one in a typo)."""
    drop: set[int] = set()
    stack: list[int] = []
    for i, ch in enumerate(raw):
        if ch == "(":
            stack.append(i)
        elif ch == ")":
            if stack:
                stack.pop()
            else:
                drop.add(i)
    drop.update(stack)
    return "".join(ch for i, ch in enumerate(raw) if i not in drop).strip()


def _map_tag(raw: str, table: LicenseTable) -> tuple[str, str]:
    try:
        parsed = parse(raw)
    except ExpressionError:
        parsed = None
    if parsed is None:
        return UNKNOWN_SPDX_KEY, table.spdx_of(UNKNOWN_SPDX_KEY)

    def to_key(symbol: str) -> str:
        modern = DEPRECATED_SPDX.get(symbol.lower())
        if modern is not None:
            return map_expression(modern, to_key)
        key = table.key_of_spdx(symbol)
        if key is not None:
            return key
        words = symbol.split()
        if len(words) > 1 and all(table.key_of_spdx(w) for w in words):
            # pre-expression lists such as U-Boot's "GPL-2.0+ BSD-2-Clause": a choice
            return " OR ".join(to_key(w) for w in words)
        return UNKNOWN_SPDX_KEY

    key = _render(parsed, to_key)
    return key, map_expression(key, table.spdx_of)
