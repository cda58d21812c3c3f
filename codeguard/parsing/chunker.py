"""Parse a file with tree-sitter into two parallel token streams and chunks.

Normalization: identifiers become one ``$ID`` token and literals one ``$LIT`` token (code
interpolated into a literal, as in f-strings and templates, is tokenized after it), comments
(and Python docstrings) are dropped, every other leaf keeps its node kind. Renaming variables
and reformatting therefore leave the stream unchanged. The *raw* stream has the same tokens at
the same positions but keeps what identifiers and literals say (their text; a literal without
its quote characters, which formatters change), so an identical raw run is strong evidence of a
copy at a length where a normalized run is an idiom. Each token keeps its byte span, from which
lines are derived, so fragments map back to line ranges on both sides, and a flag: whether it
belongs to boilerplate (import, package, include and using statements), which is never
evidence of copying on its own.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from codeguard.model import Chunk
from codeguard.parsing.languages import (
    DROP,
    ID_TOKEN,
    LIT_TOKEN,
    LITERAL,
    Grammar,
    grammar,
    stable_token_id,
)

# Top-level code outside functions and classes is cut into windows of at most this many lines,
# so that a copied block of module-level code is a chunk of its own.
WINDOW_LINES = 40
# Bounds on the chunks of one file, so that no input within the size limit costs more than a
# fixed budget downstream (every chunk is aligned and embedded on its own, and a nested chunk's
# text contains its children's): functions nested deeper than this are part of their enclosing
# chunk, not chunks of their own (20,000 nested functions once cost 24 GB), and a file keeps at
# most this many chunks, the outermost first.
MAX_CHUNK_DEPTH = 10
MAX_CHUNKS = 2000

_LIT = stable_token_id(LIT_TOKEN)
_ID = stable_token_id(ID_TOKEN)
# Token flag bits (``ParsedFile.flags``).
BOILERPLATE = 1
# Statements up to this deep below the root are checked for boilerplate (imports inside
# `if TYPE_CHECKING:`, `try:` or `#ifdef` blocks), never inside functions or classes.
_BOILERPLATE_DEPTH = 3
_QUOTES = b"'\"`"


@dataclass
class ParsedFile:
    """A file as the matcher sees it: token ids, their byte spans and lines, and its chunks."""

    language: str
    tokens: np.ndarray  # uint32 stable token ids
    starts: np.ndarray  # uint32 byte offset of each token
    ends: np.ndarray  # uint32 byte end of each token
    lines: np.ndarray  # uint32 1-based first line of each token
    end_lines: np.ndarray  # uint32 1-based last line of each token
    chunks: list[Chunk]
    n_lines: int
    has_errors: bool
    raw: np.ndarray | None = None  # uint32 raw token ids (identifiers and literals kept)
    flags: np.ndarray | None = None  # uint8 per token: BOILERPLATE
    dropped_chunks: int = 0  # chunks left out by MAX_CHUNK_DEPTH / MAX_CHUNKS

    @property
    def raw_tokens(self) -> np.ndarray:
        return self.tokens if self.raw is None else self.raw

    @property
    def flags_or_zero(self) -> np.ndarray:
        return np.zeros(len(self.tokens), dtype=np.uint8) if self.flags is None else self.flags

    @cached_property
    def boilerplate(self) -> np.ndarray:
        """Per token: whether it belongs to a boilerplate statement (computed once: every
        candidate pair of the file reads it)."""
        if self.flags is None:
            return np.zeros(len(self.tokens), dtype=bool)
        out: np.ndarray = (self.flags & BOILERPLATE) != 0
        return out


def token_lines(source: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last 1-based line of each token from its byte span."""
    newlines = np.flatnonzero(np.frombuffer(source, dtype=np.uint8) == 10)
    first = np.searchsorted(newlines, starts, side="right") + 1
    last = np.searchsorted(newlines, np.maximum(ends.astype(np.int64) - 1, starts), side="right") + 1
    return first.astype(np.uint32), last.astype(np.uint32)


def parse_file(source: bytes, language: str) -> ParsedFile:
    """Parse ``source`` and return its normalized tokens and chunks."""
    g = grammar(language)
    tree = g.parser.parse(source)
    toks, starts, ends, chunk_nodes = _walk(tree, g)
    tok_arr = np.asarray(toks, dtype=np.uint32)
    keep = _significant(tok_arr)
    tok_arr = tok_arr[keep]
    start_arr = np.asarray(starts, dtype=np.uint32)[keep]
    end_arr = np.asarray(ends, dtype=np.uint32)[keep]
    first, last = token_lines(source, start_arr, end_arr)
    n_lines = source.count(b"\n") + (0 if source.endswith(b"\n") or not source else 1)
    chunks, dropped = _chunks(chunk_nodes, g, start_arr, first, last)
    raw = raw_ids(source, tok_arr, start_arr, end_arr)
    flags = np.zeros(len(tok_arr), dtype=np.uint8)
    for s, e in _boilerplate_spans(tree, g, source):
        lo, hi = np.searchsorted(start_arr, [s, e], side="left")
        flags[lo:hi] |= BOILERPLATE
    return ParsedFile(
        language=language,
        tokens=tok_arr,
        starts=start_arr,
        ends=end_arr,
        lines=first,
        end_lines=last,
        chunks=chunks,
        n_lines=n_lines,
        has_errors=bool(tree.root_node.has_error),
        raw=raw,
        flags=flags,
        dropped_chunks=dropped,
    )


def raw_ids(source: bytes, tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The raw token stream: identifiers and literals by their text, other tokens as normalized."""
    raw = tokens.copy()
    crc = zlib.crc32
    for i in np.flatnonzero((tokens == _ID) | (tokens == _LIT)).tolist():
        text = source[int(starts[i]) : int(ends[i])]
        if tokens[i] == _LIT:
            raw[i] = crc(text.translate(None, _QUOTES), 0x4C) or 1
        else:
            raw[i] = crc(text, 0x49) or 1
    return raw


def _boilerplate_spans(tree: object, g: Grammar, source: bytes) -> list[tuple[int, int]]:
    """Byte spans of boilerplate statements outside functions and classes."""
    if not g.boilerplate_ids and g.boilerplate_re is None:
        return []
    chunk_ids = g.function_ids | g.class_ids
    out: list[tuple[int, int]] = []
    stack = [(tree.root_node, 0)]  # type: ignore[attr-defined]
    while stack:
        node, depth = stack.pop()
        for child in node.children:
            kid = child.kind_id
            if kid in g.boilerplate_ids:
                out.append((child.start_byte, child.end_byte))
            elif kid in chunk_ids:
                continue
            elif (
                g.boilerplate_re is not None
                and child.is_named
                and child.end_byte - child.start_byte < 400
                and g.boilerplate_re.match(source[child.start_byte : child.end_byte])
            ):
                out.append((child.start_byte, child.end_byte))
            elif depth < _BOILERPLATE_DEPTH and child.named_child_count:
                stack.append((child, depth + 1))
    return out


_SEMICOLON = stable_token_id(";")
_COMMA = stable_token_id(",")
_CLOSERS = np.array([stable_token_id(c) for c in (")", "]", "}")], dtype=np.uint32)


def _significant(tokens: np.ndarray) -> np.ndarray:
    """Tokens that formatters do not add or remove: semicolons (optional in JS, Go, Ruby,
    Kotlin) and trailing commas before a closing bracket (black, prettier, rustfmt) are not."""
    keep = tokens != _SEMICOLON
    following = np.zeros_like(tokens)
    following[:-1] = tokens[1:]
    keep &= ~((tokens == _COMMA) & np.isin(following, _CLOSERS))
    result: np.ndarray = keep
    return result


def _walk(tree: object, g: Grammar) -> tuple[list[int], list[int], list[int], list[object]]:
    """Pre-order walk of the whole tree: tokens, their byte spans, and the chunk nodes."""
    out: tuple[list[int], list[int], list[int], list[object]] = ([], [], [], [])
    _walk_node(tree.root_node, g, out, set(), set())  # type: ignore[attr-defined]
    return out


def _walk_node(
    root: object,
    g: Grammar,
    out: tuple[list[int], list[int], list[int], list[object]],
    skip_open: set[int],
    skip_close: set[int],
) -> None:
    """Walk one subtree with a cursor (no recursion: deep trees cannot overflow the stack).

    Recursion happens only for code interpolated into a literal, as deep as such nesting goes.
    ``skip_open``/``skip_close`` hold byte offsets of redundant "(" and ")" tokens.
    """
    action = g.actions
    token = g.token
    chunk_ids = g.function_ids | g.class_ids
    doc_id = g.docstring_id
    string_ids = g.string_ids
    paren_ids, wrapper_ids = g.paren_ids, g.wrapper_ids
    open_paren, close_paren = g.open_paren, g.close_paren
    interp_ids, needs_body = g.interpolation_ids, g.needs_body_ids
    toks, starts, ends, chunk_nodes = out
    cursor = root.walk()  # type: ignore[attr-defined]
    while True:
        node = cursor.node
        kid = node.kind_id
        act = action[kid]
        descend = False
        if act == DROP:
            pass
        elif act == LITERAL:
            toks.append(_LIT)
            starts.append(node.start_byte)
            ends.append(node.end_byte)
            if interp_ids and node.child_count:
                for inner in _interpolations(node, interp_ids):
                    _walk_node(inner, g, out, skip_open, skip_close)
        elif node.child_count == 0:
            s, e = node.start_byte, node.end_byte
            if (kid == open_paren and s in skip_open) or (kid == close_paren and e in skip_close):
                pass
            elif e > s:  # zero-width MISSING nodes inserted by error recovery are not tokens
                toks.append(token[kid])
                starts.append(s)
                ends.append(e)
        elif kid == doc_id and node.named_child_count == 1 and node.named_child(0).kind_id in string_ids:
            pass  # a statement that is only a string literal is documentation
        else:
            if kid in chunk_ids:
                if kid not in needs_body or node.child_by_field_name("body") is not None:
                    chunk_nodes.append(node)
            elif kid in paren_ids or (
                kid in wrapper_ids
                and node.named_child_count == 1
                and node.named_child(0).kind_id in wrapper_ids[kid]
            ):
                skip_open.add(node.start_byte)
                skip_close.add(node.end_byte)
            descend = True
        if descend and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return


def _interpolations(literal: object, interp_ids: frozenset[int]) -> list[object]:
    """Code nodes inside a literal, in source order, not looking inside the ones found."""
    found: list[object] = []
    stack = list(reversed(literal.children))  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        if node.kind_id in interp_ids:
            found.append(node)
        elif node.child_count:
            stack.extend(reversed(node.children))
    return found


# Fields of an enclosing node that name the anonymous function or class bound to it:
# `const f = () => {}`, `obj.f = function () {}`, `{f: () => {}}`, `class A { f = () => {} }`.
_BINDING_FIELDS = ("name", "left", "key", "property")
# Fields that never name a chunk: an arrow function `x => x` is not called "x".
_NOT_NAME_FIELDS = frozenset({"parameter", "parameters", "result", "return_type", "body", "type"})


def _text(node: object) -> str:
    return str(node.text.decode("utf-8", "replace")[:200])  # type: ignore[attr-defined]


def _node_name(node: object, name_fields: tuple[str, ...] = ()) -> str:
    """The declared name of a function or class node, following C-style declarators."""
    cur = node
    for _ in range(8):
        name = cur.child_by_field_name("name")  # type: ignore[attr-defined]
        if name is not None:
            return _text(name)
        declarator = cur.child_by_field_name("declarator")  # type: ignore[attr-defined]
        if declarator is None:
            break
        if (
            declarator.child_count == 0
            or declarator.type.endswith("identifier")
            # innermost declarators that are not identifiers: `operator==`, `~A`
            or declarator.child_by_field_name("declarator") is None
        ):
            return _text(declarator)
        cur = declarator
    for field_name in name_fields:
        named = node.child_by_field_name(field_name)  # type: ignore[attr-defined]
        if named is not None:
            return _text(named)
    parent = node.parent  # type: ignore[attr-defined]
    if parent is not None:
        for field_name in _BINDING_FIELDS:
            bound = parent.child_by_field_name(field_name)
            if bound is not None and bound.end_byte <= node.start_byte:  # type: ignore[attr-defined]
                return _text(bound)
    for i, child in enumerate(node.children):  # type: ignore[attr-defined]
        if not child.is_named or node.field_name_for_child(i) in _NOT_NAME_FIELDS:  # type: ignore[attr-defined]
            continue
        if child.type.endswith("identifier") or child.type in ("constant", "name"):
            return _text(child)
    return "<anonymous>"


def _chunks(
    nodes: list[object], g: Grammar, starts: np.ndarray, first: np.ndarray, last: np.ndarray
) -> tuple[list[Chunk], int]:
    """The chunks of a file (at most MAX_CHUNKS, none deeper than MAX_CHUNK_DEPTH) and how
    many were left out."""
    chunks: list[Chunk] = []
    stack: list[tuple[int, bool]] = []  # (end_byte, is_class) of enclosing chunks
    n = len(starts)
    dropped = 0
    for node in nodes:
        sb, eb = node.start_byte, node.end_byte  # type: ignore[attr-defined]
        while stack and stack[-1][0] <= sb:
            stack.pop()
        if len(stack) >= MAX_CHUNK_DEPTH:
            dropped += 1
            continue
        is_class = node.kind_id in g.class_ids  # type: ignore[attr-defined]
        s_tok = int(np.searchsorted(starts, sb, side="left"))
        e_tok = int(np.searchsorted(starts, eb, side="left"))
        if e_tok > s_tok:
            if is_class:
                kind = "class"
            elif (stack and stack[-1][1]) or node.kind_id in g.method_ids:  # type: ignore[attr-defined]
                kind = "method"
            else:
                kind = "function"
            chunks.append(
                Chunk(
                    kind=kind,
                    name=_node_name(node, g.spec.name_fields),
                    start_tok=s_tok,
                    end_tok=e_tok,
                    start_line=node.start_point[0] + 1,  # type: ignore[attr-defined]
                    end_line=node.end_point[0] + 1,  # type: ignore[attr-defined]
                    depth=len(stack),
                )
            )
        stack.append((eb, is_class))
    chunks.extend(_windows(chunks, n, first, last))
    if len(chunks) > MAX_CHUNKS:
        dropped += len(chunks) - MAX_CHUNKS
        chunks.sort(key=lambda c: (c.depth, c.start_tok, -c.end_tok))
        del chunks[MAX_CHUNKS:]
    chunks.sort(key=lambda c: (c.start_tok, -c.end_tok))
    return chunks, dropped


def _windows(chunks: list[Chunk], n: int, first: np.ndarray, last: np.ndarray) -> list[Chunk]:
    """Windows over the tokens that no top-level chunk covers."""
    covered = np.zeros(n + 1, dtype=np.int32)
    for c in chunks:
        if c.depth == 0:
            covered[c.start_tok] += 1
            covered[c.end_tok] -= 1
    free = np.flatnonzero(np.cumsum(covered[:n]) == 0)
    if free.size == 0:
        return []
    # Split free tokens into runs (contiguous positions), then runs into line windows.
    breaks = np.flatnonzero(np.diff(free) != 1) + 1
    out: list[Chunk] = []
    for run in np.split(free, breaks):
        run_lines = first[run].astype(np.int64)
        window_of = (run_lines - run_lines[0]) // WINDOW_LINES
        cuts = np.flatnonzero(np.diff(window_of) != 0) + 1
        for part in np.split(run, cuts):
            s, e = int(part[0]), int(part[-1]) + 1
            out.append(
                Chunk(
                    kind="window",
                    name=f"lines {int(first[s])}-{int(last[e - 1])}",
                    start_tok=s,
                    end_tok=e,
                    start_line=int(first[s]),
                    end_line=int(last[e - 1]),
                    depth=0,
                )
            )
    return out
