"""Verdict benchmark: planted copies of real code, for the scanner's copy / not-copy verdict.

Real code comes from this machine, read-only (nothing is copied into the repository, only into the
OUT directory given on the command line):

- Python: the CPython stdlib (``PSF-2.0``);
- Java: the JDK's ``src.zip`` (``java.base/java/{util,io,text,time,nio,net,math}``;
  ``GPL-2.0-only WITH Classpath-exception-2.0``);
- JavaScript: npm's bundled ``node_modules`` (``MIT`` for the whole corpus).

Split: per language the candidate files (sorted, identical contents kept once) go to pool
``int(sha1(path), 16) % 4``; pools 0 and 1 are the train split, 2 and 3 the test split. Within a
split, reference files and host files are drawn disjointly (``random.Random(f"{split}-{lang}")``),
so the two splits never share a reference or host file. The train split trains the verdict
classifier (``bench/verdict_train.py``), the test split measures it.

Donor functions of the reference files are planted into copies of the host files:

- ``identical``: the function byte for byte;
- ``renamed``: consistent renaming of the function name, parameters and locals (``v_<hash>``), and
  in about half the cases a string literal slightly changed;
- ``edited``: renamed plus 1-3 statement edits (delete, duplicate-and-modify, insert a print);
- ``partial``: a 5-15-line slice of a long donor's statements, inserted into the body of a host
  function (size is "long": the donor's size class);
- ``dead_code``: identical plus 2-4 dead statements;
- ``reordered``: renamed plus two adjacent independent simple statements swapped.

Negatives: ``boilerplate`` files (only the license header and import block of references) and
``unrelated`` units (the host files' own functions). Real duplication inside the stdlib / JDK / npm
can make some "unrelated" units true duplicates of a reference; ``run`` prints every finding on a
negative unit so a human can check.

Sub-commands::

    python bench/verdict_bench.py build OUT --split train|test [--per-kind 6]
    python bench/verdict_bench.py show OUT [--n 4]
    python bench/verdict_bench.py run OUT [--with-model] [--json results.json] [--verdict PATH]

``build`` writes ``OUT/refs/<source>/...``, ``OUT/suspect/<lang>/...``, ``OUT/truth.json`` and
``OUT/manifest.json`` (the reference and host files of both splits) and prints the split check;
``show`` prints a few planted units next to their origin lines; ``run`` indexes the references
(fingerprints only unless ``--with-model``), scans the suspect files and prints markdown tables.
Everything is deterministic. Stdlib plus tree-sitter (from this checkout's venv).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tree_sitter as ts
import tree_sitter_java as tsj
import tree_sitter_javascript as tsjs
import tree_sitter_python as tsp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from _common import codeguard_cmd, norm_path, run_cmd  # noqa: E402

LANGS = ("python", "java", "javascript")
PREFIX = {"python": "py", "java": "java", "javascript": "js"}
EXT = {"python": ".py", "java": ".java", "javascript": ".js"}
LICENSE = {"python": "PSF-2.0", "java": "GPL-2.0-only WITH Classpath-exception-2.0", "javascript": "MIT"}
PY_ROOT = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
JAVA_ZIPS = [
    "/usr/lib/jvm/java-17-openjdk-amd64/lib/src.zip",
    *sorted(glob.glob("/usr/lib/jvm/*/lib/src.zip")),
]
JAVA_DIRS = tuple(f"java.base/java/{d}/" for d in ("util", "io", "text", "time", "nio", "net", "math"))
JS_ROOT = Path("/usr/lib/node_modules/npm/node_modules")
N_REF = {"python": 60, "java": 60, "javascript": 80}
N_HOST = 30
SEED = "verdict-bench-v1"
KINDS = ("identical", "renamed", "edited", "partial", "dead_code", "reordered")
NEG_KINDS = ("boilerplate", "unrelated")
SIZES = {"short": (5, 15), "long": (16, 80)}
MAX_DONORS_PER_REF = 4
MAX_UNRELATED = 40
BINS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 0.95), (0.95, 1.0001))
GATE = 0.9

BLOCKS = {"python": {"block"}, "java": {"block", "constructor_body"}, "javascript": {"statement_block"}}
COMMENTS = {"comment", "line_comment", "block_comment"}
SIMPLE = {
    "python": {"expression_statement"},
    "java": {"expression_statement", "local_variable_declaration"},
    "javascript": {"expression_statement", "lexical_declaration", "variable_declaration"},
}
CONTROL = {"return_statement", "raise_statement", "throw_statement", "break_statement", "continue_statement"}
STRING_CONTENT = {"python": "string_content", "java": "string_fragment", "javascript": "string_fragment"}
NAMES = {"identifier", "property_identifier", "field_identifier", "shorthand_property_identifier"}
COMMENT_LEADS = (b"#", b"//", b"/*", b"*")
KEEP_NAMES = {b"self", b"cls", b"this", b"arguments", b"super"}

_PARSERS: dict[str, ts.Parser] = {}


def parser(lang: str) -> ts.Parser:
    """A (cached) tree-sitter parser for ``lang``."""
    if lang not in _PARSERS:
        mod = {"python": tsp, "java": tsj, "javascript": tsjs}[lang]
        _PARSERS[lang] = ts.Parser(ts.Language(mod.language()))
    return _PARSERS[lang]


def sha1(data: bytes | str) -> str:
    """Hex SHA-1 of bytes or a UTF-8 string."""
    return hashlib.sha1(data if isinstance(data, bytes) else data.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Candidate files


def _ok_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\r" not in data and b"\x00" not in data


def java_zip() -> str:
    """The first readable JDK src.zip (the JDK 17 link may dangle; other JDKs stand in)."""
    for cand in JAVA_ZIPS:
        if os.path.isfile(cand):
            return cand
    sys.exit("no JDK src.zip found")


def candidates(lang: str) -> dict[str, bytes]:
    """Candidate files of ``lang`` (relative path -> bytes); identical contents kept once."""
    found: dict[str, bytes] = {}
    if lang == "python":
        for root, dirs, files in os.walk(PY_ROOT):
            rel_root = os.path.relpath(root, PY_ROOT)
            dirs[:] = sorted(
                d
                for d in dirs
                if d not in {"site-packages", "test", "tests", "idlelib", "__pycache__"}
                and not (rel_root == "." and d in {"test", "idlelib"})
            )
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    if os.path.getsize(path) <= 200_000:
                        found[os.path.relpath(path, PY_ROOT)] = Path(path).read_bytes()
    elif lang == "java":
        with zipfile.ZipFile(java_zip()) as zf:
            for info in zf.infolist():
                if info.filename.startswith(JAVA_DIRS) and info.filename.endswith(".java"):
                    if info.file_size <= 200_000:
                        found[info.filename] = zf.read(info)
    else:
        for root, dirs, files in os.walk(JS_ROOT):
            dirs.sort()
            for name in files:
                if name.endswith(".js") and not name.endswith(".min.js"):
                    path = os.path.join(root, name)
                    if os.path.getsize(path) <= 100_000:
                        data = Path(path).read_bytes()
                        if data.count(b"\n") >= 30:
                            found[os.path.relpath(path, JS_ROOT)] = data
    out: dict[str, bytes] = {}
    seen: set[str] = set()
    for rel in sorted(found):
        data = found[rel]
        digest = sha1(data)
        if digest in seen or not _ok_text(data):
            continue
        seen.add(digest)
        out[rel] = data
    return out


def pool_split(rel: str) -> str:
    """The split of a candidate path: sha1 pool 0/1 -> train, 2/3 -> test."""
    return "train" if int(sha1(rel), 16) % 4 < 2 else "test"


# --------------------------------------------------------------------------------------------
# Parsed files and functions


@dataclass
class Func:
    """A function / method of a parsed file (rows 0-based, inclusive)."""

    node: ts.Node
    start: int
    end: int
    name: bytes
    top: bool  # can be planted whole (top-level function; Java: method of a top-level class)
    body: ts.Node | None

    @property
    def n_lines(self) -> int:
        return self.end - self.start + 1


@dataclass
class Parsed:
    """A parsed source file: its lines (bytes, no newline), tree and functions."""

    lang: str
    rel: str
    data: bytes
    lines: list[bytes]
    tree: ts.Tree
    funcs: list[Func]
    line_start: list[int]


def split_lines(data: bytes) -> list[bytes]:
    """Lines without their newline (a final newline ends the last line, it adds none)."""
    if data.endswith(b"\n"):
        data = data[:-1]
    return data.split(b"\n")


def whole_line(node: ts.Node, p: Parsed) -> bool:
    """Whether ``node`` alone occupies its lines (only whitespace before and after it)."""
    first = p.lines[node.start_point.row]
    last = p.lines[node.end_point.row] if node.end_point.row < len(p.lines) else b""
    return not first[: node.start_point.column].strip() and not last[node.end_point.column :].strip()


def walk(node: ts.Node) -> list[ts.Node]:
    """All nodes below ``node`` (pre-order, itself included)."""
    out, stack = [], [node]
    while stack:
        cur = stack.pop()
        out.append(cur)
        stack.extend(reversed(cur.children))
    return out


def _func(node: ts.Node, top: bool, body: ts.Node | None) -> Func:
    name = node.child_by_field_name("name")
    return Func(node, node.start_point.row, node.end_point.row, name.text if name else b"", top, body)


def find_funcs(lang: str, root: ts.Node) -> list[Func]:
    """The functions of a tree, each with whether it can be planted whole."""
    funcs: list[Func] = []
    for node in walk(root):
        parent = node.parent
        if lang == "python" and node.type == "function_definition":
            top = parent is not None and parent.type == "module"
            funcs.append(_func(node, top, node.child_by_field_name("body")))
        elif lang == "java" and node.type in {"method_declaration", "constructor_declaration"}:
            body = node.child_by_field_name("body")
            if body is None:
                continue
            top = (
                node.type == "method_declaration"
                and parent is not None
                and parent.type == "class_body"
                and parent.parent is not None
                and parent.parent.type == "class_declaration"
                and parent.parent.parent is not None
                and parent.parent.parent.type == "program"
                and node.start_point.column == 4
            )
            funcs.append(_func(node, top, body))
        elif lang == "javascript":
            if node.type in {"function_declaration", "generator_function_declaration", "method_definition"}:
                top = node.type != "method_definition" and parent is not None and parent.type == "program"
                funcs.append(_func(node, top, node.child_by_field_name("body")))
            elif node.type in {"lexical_declaration", "variable_declaration"}:
                decls = [c for c in node.named_children if c.type == "variable_declarator"]
                if len(decls) != 1:
                    continue
                value = decls[0].child_by_field_name("value")
                name = decls[0].child_by_field_name("name")
                if value is None or name is None or name.type != "identifier":
                    continue
                if value.type not in {"function_expression", "arrow_function", "function"}:
                    continue
                body = value.child_by_field_name("body")
                if body is None or body.type != "statement_block":
                    continue
                top = parent is not None and parent.type == "program"
                funcs.append(Func(node, node.start_point.row, node.end_point.row, name.text, top, body))
    return funcs


def parse_file(lang: str, rel: str, data: bytes) -> Parsed | None:
    """Parse a candidate file; None when tree-sitter reports a syntax error."""
    tree = parser(lang).parse(data)
    if tree.root_node.has_error:
        return None
    lines = split_lines(data)
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    return Parsed(lang, rel, data, lines, tree, find_funcs(lang, tree.root_node), starts)


# --------------------------------------------------------------------------------------------
# Statement helpers


def statements(p: Parsed, func: Func) -> list[ts.Node]:
    """Whole-line statements of every block inside ``func`` (comments and docstrings left out)."""
    out = []
    for node in walk(func.node):
        if node.type in BLOCKS[p.lang] and node.parent is not None:
            for i, child in enumerate(node.named_children):
                if child.type in COMMENTS or not whole_line(child, p):
                    continue
                if p.lang == "python" and i == 0 and is_docstring(child):
                    continue
                out.append(child)
    return out


def is_docstring(node: ts.Node) -> bool:
    """A Python expression statement that is a bare string."""
    return (
        node.type == "expression_statement"
        and bool(node.named_children)
        and node.named_children[0].type in {"string", "concatenated_string"}
    )


def simple(p: Parsed, node: ts.Node) -> bool:
    """A single-line, whole-line simple statement (no control flow, no docstring, no yield)."""
    return (
        node.type in SIMPLE[p.lang]
        and node.start_point.row == node.end_point.row
        and whole_line(node, p)
        and not is_docstring(node)
        and b"yield" not in node.text
        and b"await" not in node.text
    )


def ident_set(node: ts.Node) -> set[bytes]:
    """Identifier-like leaf texts under ``node`` (self/this left out)."""
    return {n.text for n in walk(node) if n.type in NAMES} - KEEP_NAMES


def indent_of(line: bytes) -> bytes:
    """The leading whitespace of a line."""
    return line[: len(line) - len(line.lstrip())]


# --------------------------------------------------------------------------------------------
# Renaming


def _targets(lang: str, node: ts.Node | None, out: set[bytes]) -> None:
    """Collect the identifiers a binding target (pattern) binds."""
    if node is None:
        return
    if node.type == "identifier":
        out.add(node.text)
    elif node.type in {
        "pattern_list",
        "tuple_pattern",
        "list_pattern",
        "array_pattern",
        "list_splat_pattern",
        "parenthesized_expression",
        "tuple",
        "list",
        "rest_pattern",
        "as_pattern_target",
    }:
        for child in node.named_children:
            _targets(lang, child, out)
    elif node.type == "assignment_pattern":
        _targets(lang, node.child_by_field_name("left"), out)
    elif node.type == "object_pattern":
        for child in node.named_children:
            if child.type == "pair_pattern":
                _targets(lang, child.child_by_field_name("value"), out)


def bindings(lang: str, func: Func) -> set[bytes]:
    """Names the function binds: its own name, its parameters and its local variables."""
    names: set[bytes] = {func.name} if func.name else set()
    glob_names: set[bytes] = set()
    for node in walk(func.node):
        t = node.type
        if lang == "python":
            if t == "parameters" or t == "lambda_parameters":
                for c in node.named_children:
                    if c.type == "identifier":
                        names.add(c.text)
                    elif c.type in {"default_parameter", "typed_default_parameter"}:
                        _targets(lang, c.child_by_field_name("name"), names)
                    elif c.type in {"typed_parameter", "list_splat_pattern", "dictionary_splat_pattern"}:
                        ids = [x for x in c.named_children if x.type == "identifier"]
                        if ids:
                            names.add(ids[0].text)
            elif t in {"assignment", "augmented_assignment"}:
                _targets(lang, node.child_by_field_name("left"), names)
            elif t in {"for_statement", "for_in_clause"}:
                _targets(lang, node.child_by_field_name("left"), names)
            elif t == "as_pattern":
                _targets(lang, node.child_by_field_name("alias"), names)
            elif t == "named_expression":
                _targets(lang, node.child_by_field_name("name"), names)
            elif t in {"global_statement", "nonlocal_statement"}:
                glob_names |= {c.text for c in node.named_children if c.type == "identifier"}
        elif lang == "java":
            if t in {"formal_parameter", "catch_formal_parameter", "enhanced_for_statement", "resource"}:
                _targets(lang, node.child_by_field_name("name"), names)
            elif t == "variable_declarator":
                _targets(lang, node.child_by_field_name("name"), names)
            elif t == "spread_parameter":
                for c in node.named_children:
                    if c.type == "variable_declarator":
                        _targets(lang, c.child_by_field_name("name"), names)
            elif t == "inferred_parameters":
                _targets(lang, node, names)
            elif t == "lambda_expression":
                par = node.child_by_field_name("parameters")
                if par is not None and par.type == "identifier":
                    names.add(par.text)
        else:
            if t == "formal_parameters":
                for c in node.named_children:
                    _targets(lang, c, names)
            elif t == "variable_declarator":
                _targets(lang, node.child_by_field_name("name"), names)
            elif t in {"for_in_statement"}:
                _targets(lang, node.child_by_field_name("left"), names)
            elif t == "catch_clause":
                _targets(lang, node.child_by_field_name("parameter"), names)
            elif t == "arrow_function":
                _targets(lang, node.child_by_field_name("parameter"), names)
    return names - glob_names - KEEP_NAMES


def shape(node: ts.Node) -> str:
    """A digest of a subtree's leaves with identifiers, strings and comments blanked."""
    out = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type in COMMENTS:
            continue
        if cur.type in NAMES or cur.type == "type_identifier":
            out.append(b"I")
        elif cur.type in {"string", "string_literal", "template_string", "concatenated_string"}:
            out.append(b"S")
        elif not cur.children:
            out.append(cur.text or b"")
        else:
            stack.extend(reversed(cur.children))
    return sha1(b" ".join(out))


def fresh(name: bytes, salt: str) -> bytes:
    """A fresh identifier for ``name``."""
    return b"v_" + sha1(salt.encode() + b"\0" + name)[:6].encode()


def _renamable(lang: str, node: ts.Node, func_name: bytes) -> bool:
    """Whether an identifier occurrence refers to a local binding (not an attribute, keyword, ...)."""
    parent = node.parent
    if parent is None:
        return True

    def is_field(name: str) -> bool:
        other = parent.child_by_field_name(name)
        return other is not None and other.start_byte == node.start_byte and other.end_byte == node.end_byte

    if lang == "python":
        return not (
            (parent.type == "attribute" and is_field("attribute"))
            or (parent.type == "keyword_argument" and is_field("name"))
        )
    if lang == "java":
        if parent.type == "field_access" and is_field("field"):
            return False
        if parent.type == "method_invocation" and is_field("name"):
            return parent.child_by_field_name("object") is None and node.text == func_name
        return True
    return True


def rename(p: Parsed, func: Func, salt: str, change_strings: bool) -> tuple[list[bytes], int]:
    """The function's lines with its bindings renamed (and maybe a string or two changed).

    Returns the lines and the number of names renamed. Lines keep their count and order.
    """
    names = bindings(p.lang, func)
    edits: list[tuple[int, int, bytes]] = []
    for node in walk(func.node):
        if node.type == "identifier" and node.text in names and _renamable(p.lang, node, func.name):
            edits.append((node.start_byte, node.end_byte, fresh(node.text, salt)))
    if change_strings:
        changed = 0
        for node in walk(func.node):
            text = node.text or b""
            if node.type == STRING_CONTENT[p.lang] and len(text) >= 3 and text[:1].isalpha() and changed < 2:
                edits.append((node.start_byte, node.start_byte + 1, text[:1].swapcase()))
                changed += 1
    lo = p.line_start[func.start]
    hi = p.line_start[func.end] + len(p.lines[func.end])
    chunk = p.data[lo:hi]
    for start, end, new in sorted(edits, reverse=True):
        chunk = chunk[: start - lo] + new + chunk[end - lo :]
    out = chunk.split(b"\n")
    assert len(out) == func.n_lines
    return out, len({e[2] for e in edits if e[2].startswith(b"v_")})


# --------------------------------------------------------------------------------------------
# Transformations (all keep the line structure bookkeeping on the donor's rows)


def print_line(lang: str, indent: bytes, k: int) -> bytes:
    """A logging line."""
    if lang == "python":
        return indent + b'print("debug: step %d")' % k
    if lang == "java":
        return indent + b'System.out.println("debug: step %d");' % k
    return indent + b'console.log("debug: step %d");' % k


def dead_lines(lang: str, indent: bytes, k: int, rng: random.Random) -> list[bytes]:
    """One dead statement (a never-taken branch, an unused variable or a no-op call)."""
    choice = rng.randrange(3)
    if lang == "python":
        opts = [
            [indent + b"if False:", indent + b"    pass"],
            [indent + b"_unused_%d = %d" % (k, k)],
            [indent + b"str()"],
        ]
    elif lang == "java":
        opts = [
            [indent + b"if (false) {", indent + b'    System.out.println("unreachable");', indent + b"}"],
            [indent + b"int unused%d = %d;" % (k, k)],
            [indent + b"String.valueOf(%d);" % k],
        ]
    else:
        opts = [
            [indent + b"if (false) {", indent + b'  console.log("unreachable");', indent + b"}"],
            [indent + b"var unused%d = %d;" % (k, k)],
            [indent + b"Math.max(%d, 0);" % k],
        ]
    return opts[choice]


def edit_plan(p: Parsed, func: Func, rng: random.Random) -> list[tuple[str, ts.Node]]:
    """1-3 statement edits (kind, statement) on distinct statements, keeping >= 60% of the lines."""
    stmts = statements(p, func)
    options: list[tuple[str, ts.Node]] = []
    for node in stmts:
        parent = node.parent
        siblings = [c for c in parent.named_children if c.type not in COMMENTS] if parent else []
        if simple(p, node) and len(siblings) >= 2:
            options.append(("delete", node))
        if simple(p, node) and node.type == "expression_statement" and re.search(rb"\b\d+\b", node.text):
            options.append(("duplicate", node))
        if node.type not in CONTROL or True:
            options.append(("insert", node))
    if not options:
        return []
    limit = max(1, min(3, func.n_lines // 5))
    want = rng.randint(1, limit)
    rng.shuffle(options)
    plan: list[tuple[str, ts.Node]] = []
    used: set[int] = set()
    deleted = 0
    kinds_used: Counter[str] = Counter()
    for kind, node in sorted(options, key=lambda o: (o[0] == "insert", rng.random())):
        if len(plan) >= want:
            break
        row = node.start_point.row
        if row in used or kinds_used[kind] >= 2:
            continue
        if kind == "delete" and (deleted + 1) > 0.4 * func.n_lines:
            continue
        deleted += kind == "delete"
        used.add(row)
        kinds_used[kind] += 1
        plan.append((kind, node))
    return plan


def apply_edits(p: Parsed, func: Func, lines: list[bytes], plan: list[tuple[str, ts.Node]]) -> list[bytes]:
    """Apply an edit plan to the (renamed) function lines; rows are the donor's."""
    out = list(lines)
    for k, (kind, node) in enumerate(sorted(plan, key=lambda e: -e[1].start_point.row)):
        i = node.start_point.row - func.start
        if kind == "delete":
            del out[i]
        elif kind == "duplicate":
            dup = re.sub(rb"\b(\d+)\b", lambda m: b"%d" % (int(m.group(1)) + 1), out[i], count=1)
            out.insert(i + 1, dup)
        else:
            out.insert(i, print_line(p.lang, indent_of(out[i]), k + 1))
    return out


def dead_points(p: Parsed, func: Func) -> list[ts.Node]:
    """Statements before which a dead statement can go (not the function's very first line)."""
    return [n for n in statements(p, func) if n.start_point.row > func.start]


def apply_dead(p: Parsed, func: Func, lines: list[bytes], rng: random.Random) -> list[bytes]:
    """Insert 2-4 dead statements before random statements of the function."""
    points = dead_points(p, func)
    count = rng.randint(2, 4)
    chosen = sorted((rng.choice(points) for _ in range(count)), key=lambda n: -n.start_point.row)
    out = list(lines)
    for k, node in enumerate(chosen):
        i = node.start_point.row - func.start
        out[i:i] = dead_lines(p.lang, indent_of(out[i]), k + 1, rng)
    return out


def swap_pairs(p: Parsed, func: Func) -> list[tuple[ts.Node, ts.Node]]:
    """Adjacent simple statements of one block that share no identifiers."""
    pairs = []
    for node in walk(func.node):
        if node.type not in BLOCKS[p.lang]:
            continue
        kids = [c for c in node.named_children if c.type not in COMMENTS]
        for a, b in zip(kids, kids[1:]):
            if simple(p, a) and simple(p, b) and b.start_point.row == a.start_point.row + 1:
                ia, ib = ident_set(a), ident_set(b)
                if ia and ib and not ia & ib:
                    pairs.append((a, b))
    return pairs


def slices(p: Parsed, func: Func) -> list[tuple[int, int]]:
    """Contiguous runs (>= 2 statements, 5-15 lines) of the function body's statements (rows)."""
    if func.body is None:
        return []
    kids = [c for c in func.body.named_children if c.type not in COMMENTS]
    out = []
    for i in range(len(kids)):
        if not whole_line(kids[i], p) or is_docstring(kids[i]):
            continue
        for j in range(i + 1, len(kids)):
            if not whole_line(kids[j], p):
                break
            first, last = kids[i].start_point.row, kids[j].end_point.row
            span = last - first + 1
            if span > 15:
                break
            if span < 5 or kids[j].type in CONTROL:
                continue
            text = b"\n".join(p.lines[first : last + 1])
            if b'"""' in text or b"'''" in text or b"`" in text or b"\t" in text:
                continue
            code = [
                x for x in p.lines[first : last + 1] if x.strip() and not x.lstrip().startswith(COMMENT_LEADS)
            ]
            if len(code) < 4:
                continue
            out.append((first, last))
    return out


def reindent(lines: list[bytes], indent: bytes) -> list[bytes]:
    """Move lines from the first line's indentation to ``indent`` (blank lines emptied)."""
    base = len(indent_of(lines[0]))
    out = []
    for line in lines:
        if not line.strip():
            out.append(b"")
        elif len(indent_of(line)) >= base:
            out.append(indent + line[base:])
        else:
            out.append(line)
    return out


# --------------------------------------------------------------------------------------------
# Build


@dataclass
class Plant:
    """A planned insertion into a host file."""

    unit: dict[str, Any]
    lines: list[bytes]
    anchor: int  # insert before this row of the original host (len(lines): append)
    pre: int = 0  # blank lines before the unit inside the block
    post: int = 0  # blank lines after it


@dataclass
class Host:
    """A host file, its planned insertions and its negative units."""

    p: Parsed
    out_rel: str
    plants: list[Plant] = field(default_factory=list)
    used_funcs: set[int] = field(default_factory=set)  # start rows of functions that host a partial


def select(lang: str, split: str, files: dict[str, bytes]) -> tuple[list[Parsed], list[Parsed]]:
    """The reference and host files of a split (disjoint; deterministic)."""
    pool = sorted(rel for rel in files if pool_split(rel) == split)
    rng = random.Random(f"{split}-{lang}")
    rng.shuffle(pool)
    refs: list[Parsed] = []
    hosts: list[Parsed] = []
    for rel in pool:
        if len(refs) >= N_REF[lang] and len(hosts) >= N_HOST:
            break
        p = parse_file(lang, rel, files[rel])
        if p is None or not p.funcs:
            continue
        if len(refs) < N_REF[lang]:
            refs.append(p)
        elif host_ok(p):
            hosts.append(p)
    return refs, hosts


def java_class(p: Parsed) -> ts.Node | None:
    """The first top-level class declaration of a Java file, if its closing line is a lone '}'."""
    for child in p.tree.root_node.named_children:
        if child.type in {
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
        }:
            if child.type == "class_declaration" and p.lines[child.end_point.row].strip() == b"}":
                return child
            return None
    return None


def host_ok(p: Parsed) -> bool:
    """Whether a file can host planted code."""
    if p.lang == "python":
        return any(f.top for f in p.funcs) and not any(line.startswith(b"\t") for line in p.lines)
    if p.lang == "java":
        return java_class(p) is not None
    return True


def py_anchors(p: Parsed) -> list[int]:
    """Rows before which a top-level Python definition can go, and the end of the file."""
    rows = [
        c.start_point.row
        for c in p.tree.root_node.named_children
        if c.type in {"function_definition", "class_definition", "decorated_definition"}
    ]
    return rows + [len(p.lines)]


def partial_hosts(p: Parsed) -> list[tuple[Func, int, bytes]]:
    """Host functions for a partial copy: (function, row to insert before, indentation)."""
    out = []
    for func in p.funcs:
        if func.body is None:
            continue
        kids = [c for c in func.body.named_children if c.type not in COMMENTS]
        if len(kids) < 2 or kids[0].type in CONTROL or not whole_line(kids[0], p):
            continue
        first = kids[0]
        if first.start_point.row == func.start:
            continue
        indent = p.lines[first.start_point.row][: first.start_point.column]
        if indent.strip() or b"\t" in indent:
            continue
        out.append((func, first.end_point.row + 1, indent))
    return out


def header_block(p: Parsed) -> tuple[list[bytes], list[bytes]]:
    """A file's leading license/comment header and its import (package / require) block."""
    root = p.tree.root_node
    kids = root.named_children
    comment: list[bytes] = []
    if p.lang == "python":
        rows = []
        for i, line in enumerate(p.lines):
            if line.startswith(b"#!") and i == 0:
                continue
            if line.startswith(b"#"):
                rows.append(i)
            else:
                break
        if len(rows) >= 2 and not p.lines[rows[0]].startswith(b"# -*-"):
            comment = [p.lines[r] for r in rows]
    elif kids and kids[0].type in COMMENTS and kids[0].start_point.row == 0:
        comment = p.lines[: kids[0].end_point.row + 1]
    imports: list[bytes] = []
    if p.lang == "python":
        kinds = {"import_statement", "import_from_statement", "future_import_statement"}
        run = []
        for child in kids:
            if child.type in kinds:
                run.append(child)
            elif run:
                break
        if len(run) >= 2:
            imports = p.lines[run[0].start_point.row : run[-1].end_point.row + 1]
    elif p.lang == "java":
        imps = [c for c in kids if c.type == "import_declaration"]
        pkg = [c for c in kids if c.type == "package_declaration"]
        if pkg and len(imps) >= 3:
            imports = p.lines[pkg[0].start_point.row : imps[-1].end_point.row + 1]
    else:
        run = []
        for child in kids:
            if child.type in COMMENTS:
                continue
            text = child.text or b""
            if child.type == "expression_statement" and text.strip(b";").strip(b"'\"") == b"use strict":
                run.append(child)
            elif child.type in {"lexical_declaration", "variable_declaration"} and b"require(" in text:
                run.append(child)
            else:
                break
        if len([c for c in run if b"require(" in (c.text or b"")]) >= 2:
            imports = p.lines[run[0].start_point.row : run[-1].end_point.row + 1]
    return comment, imports


def boilerplate_files(lang: str, refs: list[Parsed], rng: random.Random) -> list[list[bytes]]:
    """Two header-only files of references (license header + import blocks, verbatim)."""
    heads = [header_block(p) for p in refs]
    comments = [c for c, _ in heads if c]
    imports = [i for _, i in heads if i]
    files = []
    for k in range(2):
        if lang == "java":
            # A header of one file: license comment, package, imports (Java has one package line).
            full = [(c, i) for c, i in heads if c and i]
            if len(full) <= k:
                break
            c, i = full[rng.randrange(len(full))] if k else full[0]
            body = c + [b""] + i if c and c[-1] != i[0] else c + i
            text = b"\n".join(body)
            files.append(p_lines_between(text))
            continue
        if len(imports) < 2:
            break
        picks = rng.sample(imports, 2)
        body = []
        if comments:
            body += comments[rng.randrange(len(comments))] + [b""]
        body += picks[0] + [b""] + picks[1]
        if lang == "python":
            body += [b"", b"", b'if __name__ == "__main__":', b"    main()"]
        files.append(body)
    return files


def p_lines_between(text: bytes) -> list[bytes]:
    """Lines of a text (helper for header files)."""
    return text.split(b"\n")


def suspect_name(rel: str) -> str:
    """A host's file name in suspect/<lang>/ (the relative path flattened)."""
    return rel.replace("/", "__")


def build_split(
    lang: str, split: str, refs: list[Parsed], hosts: list[Parsed], per_kind: int, out: Path
) -> list[dict[str, Any]]:
    """Plant copies for one language and split; write refs and suspects; return the units."""
    rng = random.Random(f"{SEED}-{split}-{lang}-plant")
    source = f"{PREFIX[lang]}-{split}"
    for p in refs:
        dest = out / "refs" / source / p.rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(p.data)
    # A function whose shape (identifiers and strings blanked) occurs more than once among the
    # references is no donor: its origin would be ambiguous (generated codecs, sibling methods).
    shape_count: Counter[str] = Counter(shape(f.node) for p in refs for f in p.funcs)
    donors: list[tuple[Parsed, Func]] = []
    for p in refs:
        for f in p.funcs:
            if shape_count[shape(f.node)] == 1 and whole_line(f.node, p):
                donors.append((p, f))
    rng.shuffle(donors)
    per_ref: Counter[str] = Counter()
    used: set[tuple[str, int]] = set()
    host_objs = [Host(p, f"{PREFIX[lang]}/{suspect_name(p.rel)}") for p in hosts]
    partial_slots = [(h, ph) for h in host_objs for ph in partial_hosts(h.p)]
    rng.shuffle(partial_slots)
    units: list[dict[str, Any]] = []
    host_turn = 0

    def take(pred: Any) -> tuple[Parsed, Func] | None:
        for p, f in donors:
            key = (p.rel, f.start)
            if key in used or per_ref[p.rel] >= MAX_DONORS_PER_REF:
                continue
            if pred(p, f):
                used.add(key)
                per_ref[p.rel] += 1
                return p, f
        return None

    def unit(
        kind: str, size: str | None, p: Parsed, lines: tuple[int, int], label: str = "copy"
    ) -> dict[str, Any]:
        return {
            "id": "",
            "path": "",
            "lines": [0, 0],
            "language": lang,
            "label": label,
            "kind": kind,
            "size": size,
            "origin": {"source": source, "path": p.rel, "lines": [lines[0] + 1, lines[1] + 1]},
        }

    # Most constrained first: reordered donors are the scarcest, partial needs long donors.
    plan: list[tuple[str, str, int]] = [("reordered", s, per_kind) for s in ("short", "long")]
    plan += [("partial", "long", 2 * per_kind)]
    plan += [
        (k, s, per_kind) for k in ("edited", "dead_code", "renamed", "identical") for s in ("short", "long")
    ]
    for kind, size, count in plan:
        lo, hi = SIZES[size]
        for _ in range(count):
            salt = f"{SEED}-{split}-{lang}-{len(units)}"
            if kind == "partial":
                if not partial_slots:
                    break
                pick = take(lambda p, f: 25 <= f.n_lines <= 400 and bool(slices(p, f)))
                if pick is None:
                    break
                p, f = pick
                first, last = rng.choice(slices(p, f))
                # Host function: the next free slot (one partial per host function).
                while partial_slots and partial_slots[0][1][0].start in partial_slots[0][0].used_funcs:
                    partial_slots.pop(0)
                if not partial_slots:
                    break
                host, (hfunc, anchor, indent) = partial_slots.pop(0)
                host.used_funcs.add(hfunc.start)
                u = unit(kind, size, p, (first, last))
                host.plants.append(Plant(u, reindent(p.lines[first : last + 1], indent), anchor))
                units.append(u)
                continue

            def ok(p: Parsed, f: Func, kind: str = kind, lo: int = lo, hi: int = hi) -> bool:
                if not (f.top and lo <= f.n_lines <= hi):
                    return False
                if kind == "identical":
                    return True
                if kind == "dead_code":
                    return bool(dead_points(p, f))
                if len(bindings(p.lang, f)) < 2:
                    return False
                if kind == "edited":
                    return bool(statements(p, f))
                if kind == "reordered":
                    return bool(swap_pairs(p, f))
                return True

            pick = take(ok)
            if pick is None:
                print(f"  warning: {lang}/{split}: no donor left for {kind}/{size}", file=sys.stderr)
                break
            p, f = pick
            orig = p.lines[f.start : f.end + 1]
            if kind == "identical":
                lines = list(orig)
            elif kind == "dead_code":
                lines = apply_dead(p, f, orig, rng)
            else:
                lines, _ = rename(p, f, salt, change_strings=rng.random() < 0.5)
                if kind == "edited":
                    edits = edit_plan(p, f, rng)
                    lines = apply_edits(p, f, lines, edits)
                elif kind == "reordered":
                    a, b = rng.choice(swap_pairs(p, f))
                    ia, ib = a.start_point.row - f.start, b.start_point.row - f.start
                    lines[ia], lines[ib] = lines[ib], lines[ia]
            u = unit(kind, size, p, (f.start, f.end))
            host = host_objs[host_turn % len(host_objs)]
            host_turn += 1
            if lang == "python":
                anchor = rng.choice(py_anchors(host.p))
                at_end = anchor == len(host.p.lines)
                host.plants.append(Plant(u, lines, anchor, pre=2 if at_end else 0, post=0 if at_end else 2))
            elif lang == "java":
                cls = java_class(host.p)
                assert cls is not None
                host.plants.append(Plant(u, lines, cls.end_point.row, pre=1))
            else:
                host.plants.append(Plant(u, lines, len(host.p.lines), pre=2))
            units.append(u)

    # Write hosts with their plants; record the lines of every unit after all insertions.
    negatives: list[dict[str, Any]] = []
    for host in host_objs:
        write_host(host, out / "suspect", negatives, set(shape_count))
    rng.shuffle(negatives)
    negatives = sorted(negatives[:MAX_UNRELATED], key=lambda u: (u["path"], u["lines"][0]))
    # Boilerplate files.
    boiler = []
    for k, lines in enumerate(boilerplate_files(lang, refs, rng)):
        rel = f"{PREFIX[lang]}/header_only_{k + 1}{EXT[lang]}"
        dest = out / "suspect" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"\n".join(lines) + b"\n")
        boiler.append(
            {
                "id": "",
                "path": rel,
                "lines": [1, len(lines)],
                "language": lang,
                "label": "negative",
                "kind": "boilerplate",
                "size": None,
                "origin": None,
            }
        )
    allu = sorted(units, key=lambda u: (u["path"], u["lines"][0])) + negatives + boiler
    for i, u in enumerate(allu):
        u["id"] = f"{PREFIX[lang]}-{i + 1:04d}"
    return allu


def write_host(host: Host, suspect: Path, negatives: list[dict[str, Any]], ref_shapes: set[str]) -> None:
    """Write a host file with its plants; set the plants' lines; add its unrelated units.

    Host functions whose shape occurs among the references (real duplication) are no negatives.
    """
    p = host.p
    by_anchor: dict[int, list[Plant]] = defaultdict(list)
    for plant in host.plants:
        by_anchor[plant.anchor].append(plant)
    out: list[bytes] = []
    new_row: list[int] = []

    def emit(anchor: int) -> None:
        for plant in by_anchor.get(anchor, []):
            out.extend([b""] * plant.pre)
            plant.unit["path"] = host.out_rel
            plant.unit["lines"] = [len(out) + 1, len(out) + len(plant.lines)]
            out.extend(plant.lines)
            out.extend([b""] * plant.post)

    for i, line in enumerate(p.lines):
        emit(i)
        new_row.append(len(out))
        out.append(line)
    emit(len(p.lines))
    dest = suspect / host.out_rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(b"\n".join(out) + b"\n")
    # Verify by re-reading.
    back = split_lines(dest.read_bytes())
    for plant in host.plants:
        s, e = plant.unit["lines"]
        assert back[s - 1 : e] == plant.lines, (host.out_rel, plant.unit)
    # Unrelated negatives: the host's own functions, untouched by insertions.
    anchors = set(by_anchor)
    cands = []
    for f in p.funcs:
        if f.start in host.used_funcs or not 5 <= f.n_lines <= 80:
            continue
        if any(f.start < a <= f.end for a in anchors) or shape(f.node) in ref_shapes:
            continue
        cands.append(f)
    cands.sort(key=lambda f: (not f.top, f.start))
    chosen: list[Func] = []
    for f in cands[:6]:
        if len(chosen) < 2 and not any(
            c.start <= f.start <= c.end or f.start <= c.start <= f.end for c in chosen
        ):
            chosen.append(f)
    for f in chosen:
        s, e = new_row[f.start] + 1, new_row[f.end] + 1
        assert back[s - 1 : e] == p.lines[f.start : f.end + 1]
        negatives.append(
            {
                "id": "",
                "path": host.out_rel,
                "lines": [s, e],
                "language": p.lang,
                "label": "negative",
                "kind": "unrelated",
                "size": None,
                "origin": None,
            }
        )


def do_build(out: Path, split: str, per_kind: int) -> None:
    """Build one split into ``out`` and print the split check and unit counts."""
    if out.exists():
        shutil.rmtree(out)
    (out / "suspect").mkdir(parents=True)
    units: list[dict[str, Any]] = []
    manifest: dict[str, Any] = {}
    problems = 0
    print(f"## Split check ({split})\n")
    print("| language | candidates | train refs/hosts | test refs/hosts | shared paths | shared contents |")
    print("|---|---|---|---|---|---|")
    for lang in LANGS:
        t0 = time.perf_counter()
        files = candidates(lang)
        sel = {s: select(lang, s, files) for s in ("train", "test")}
        names = {s: {p.rel for p in r + h} for s, (r, h) in sel.items()}
        digests = {s: {sha1(p.data) for p in r + h} for s, (r, h) in sel.items()}
        shared = names["train"] & names["test"]
        shared_c = digests["train"] & digests["test"]
        inside = {s: {p.rel for p in r} & {p.rel for p in h} for s, (r, h) in sel.items()}
        problems += len(shared) + len(shared_c) + sum(len(v) for v in inside.values())
        bad_pool = [p.rel for s, (r, h) in sel.items() for p in r + h if pool_split(p.rel) != s]
        problems += len(bad_pool)
        print(
            f"| {lang} | {len(files)} | {len(sel['train'][0])}/{len(sel['train'][1])} | "
            f"{len(sel['test'][0])}/{len(sel['test'][1])} | {len(shared)} | {len(shared_c)} |"
        )
        manifest[lang] = {
            s: {"refs": [p.rel for p in r], "hosts": [p.rel for p in h]} for s, (r, h) in sel.items()
        }
        refs, hosts = sel[split]
        units += build_split(lang, split, refs, hosts, per_kind, out)
        print(f"  ({lang}: {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    print(
        f"\nsplit check: {'OK' if problems == 0 else f'{problems} PROBLEMS'} (no reference or host file, "
        "by path or by content, in both splits; refs and hosts disjoint within a split)\n"
    )
    truth = {
        "split": split,
        "seed": f"{SEED}-{split}",
        "sources": [
            {
                "name": f"{PREFIX[lang]}-{split}",
                "dir": f"refs/{PREFIX[lang]}-{split}",
                "license": LICENSE[lang],
            }
            for lang in LANGS
        ],
        "suspect_dir": "suspect",
        "units": units,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    counts: Counter[tuple[str, str, str]] = Counter()
    for u in units:
        counts[(u["kind"], u["size"] or "-", u["language"])] += 1
    print(f"## Units ({split})\n")
    print("| kind | size | " + " | ".join(LANGS) + " | all |")
    print("|---|---|" + "---|" * (len(LANGS) + 1))
    for kind, size in sorted(
        {(k, s) for k, s, _ in counts}, key=lambda x: ((KINDS + NEG_KINDS).index(x[0]), x[1])
    ):
        row = [counts[(kind, size, lang)] for lang in LANGS]
        print(f"| {kind} | {size} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    print(f"\nwrote {out}/truth.json ({len(units)} units)")


# --------------------------------------------------------------------------------------------
# Show


def do_show(out: Path, n: int) -> None:
    """Print ``n`` units per copy kind next to their origin lines."""
    truth = json.loads((out / "truth.json").read_text())
    src_dirs = {s["name"]: out / s["dir"] for s in truth["sources"]}
    seen: Counter[str] = Counter()
    for u in truth["units"]:
        if u["label"] != "copy" or seen[u["kind"]] >= n:
            continue
        seen[u["kind"]] += 1
        sl = split_lines((out / truth["suspect_dir"] / u["path"]).read_bytes())
        o = u["origin"]
        ol = split_lines((src_dirs[o["source"]] / o["path"]).read_bytes())
        left = sl[u["lines"][0] - 1 : u["lines"][1]]
        right = ol[o["lines"][0] - 1 : o["lines"][1]]
        print(f"=== {u['id']} {u['kind']}/{u['size']} {u['path']}:{u['lines']}  <-  {o['path']}:{o['lines']}")
        for i in range(max(len(left), len(right))):
            a = left[i].decode(errors="replace") if i < len(left) else ""
            b = right[i].decode(errors="replace") if i < len(right) else ""
            mark = " " if a == b else "*"
            print(f"{mark} {a[:70]:<70} | {b[:70]}")


# --------------------------------------------------------------------------------------------
# Run


def index_sources(out: Path, truth: dict[str, Any], with_model: bool) -> float:
    """Index every source into OUT/.index (reused when it holds them all, built the same way)."""
    cg = codeguard_cmd()
    index = out / ".index"
    mode_file = out / ".index-mode.json"
    mode = {"ml": with_model, "sources": sorted(s["name"] for s in truth["sources"])}
    if index.exists() and mode_file.exists() and json.loads(mode_file.read_text()) == mode:
        _, proc = run_cmd(cg + ["index", "list", "--index", str(index), "--json"], out)
        listed = proc.stdout
        if all(f'"{name}"' in listed for name in mode["sources"]):
            print(f"reusing {index}", file=sys.stderr)
            return 0.0
    if index.exists():
        shutil.rmtree(index)
    wall = 0.0
    for src in truth["sources"]:
        cmd = cg + [
            "index",
            "add",
            str(out / src["dir"]),
            "--name",
            src["name"],
            "--license",
            src["license"],
            "--index",
            str(index),
            "-q",
        ]
        wall += run_cmd(cmd + ([] if with_model else ["--no-ml"]), out)[0]
    mode_file.write_text(json.dumps(mode))
    return wall


def scan(out: Path, truth: dict[str, Any], with_model: bool, verdict: str | None) -> tuple[float, list[dict]]:
    """Scan the suspect dir; return the wall seconds and the findings (paths relative to it)."""
    scan_dir = out / truth["suspect_dir"]
    cmd = codeguard_cmd() + [
        "scan",
        str(scan_dir),
        "--index",
        str(out / ".index"),
        "--format",
        "json",
        "--fail-on",
        "none",
        "--project-license",
        "MIT",
        "-q",
    ]
    if not with_model:
        cmd.append("--no-ml")
    if verdict:
        cmd += ["--verdict", verdict]
    wall, proc = run_cmd(cmd, out)
    findings = [dict(f) for f in json.loads(proc.stdout).get("findings", [])]
    for f in findings:
        f["path"] = norm_path(f["path"], scan_dir)
    return wall, findings


def overlaps(a: list[int] | tuple[int, int], b: list[int] | tuple[int, int]) -> bool:
    """Whether two inclusive line ranges overlap."""
    return a[0] <= b[1] and b[0] <= a[1]


def frag_lines(frag: dict[str, Any]) -> tuple[list[int], list[int]]:
    """A fragment's scanned and origin lines (either JSON layout)."""
    if "lines" in frag:
        return list(frag["lines"]), list(frag["origin_lines"])
    return [frag["start_line"], frag["end_line"]], [frag["origin_start_line"], frag["origin_end_line"]]


def names_origin(f: dict[str, Any], u: dict[str, Any]) -> bool:
    """Whether a finding on a copy unit names the unit's origin file and overlaps its lines."""
    o, t = f.get("origin") or {}, u["origin"]
    return (
        o.get("source") == t["source"]
        and o.get("path") == t["path"]
        and overlaps([o.get("start_line", 0), o.get("end_line", 0)], t["lines"])
    )


def origin_accurate(f: dict[str, Any], u: dict[str, Any]) -> bool:
    """Whether the origin span of the finding's fragments on the unit is the truth's (+-1 line)."""
    spans = [ol for sl, ol in map(frag_lines, f.get("fragments") or []) if overlaps(sl, u["lines"])]
    if spans:
        lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
    else:
        lo, hi = f["origin"]["start_line"], f["origin"]["end_line"]
    t = u["origin"]["lines"]
    return abs(lo - t[0]) <= 1 and abs(hi - t[1]) <= 1


def range_accurate(f: dict[str, Any], u: dict[str, Any]) -> bool:
    """Whether the origin range the finding names (what a user reads) is the truth's (+-1 line)."""
    t = u["origin"]["lines"]
    return abs(f["origin"]["start_line"] - t[0]) <= 1 and abs(f["origin"]["end_line"] - t[1]) <= 1


def prob(f: dict[str, Any]) -> float:
    """A finding's probability (0 when it has none)."""
    p = f.get("probability")
    return 0.0 if p is None else float(p)


def evaluate(truth: dict[str, Any], findings: list[dict[str, Any]], threshold: float = 0.0) -> dict[str, Any]:
    """Score findings (those with probability >= threshold) against the truth units."""
    fs = [f for f in findings if prob(f) >= threshold]
    by_path: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for u in truth["units"]:
        by_path[u["path"]].append(u)
    found: dict[str, dict[str, Any]] = {}
    accurate: dict[str, bool] = {}
    in_range: dict[str, bool] = {}
    neg_hits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    labelled: list[tuple[float, bool]] = []
    unlabelled: list[dict[str, Any]] = []
    true = false = 0
    wrong_origin: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for f in fs:
        on = [u for u in by_path.get(f["path"], []) if overlaps([f["start_line"], f["end_line"]], u["lines"])]
        copies = [u for u in on if u["label"] == "copy"]
        hits = [u for u in copies if names_origin(f, u)]
        for u in hits:
            found.setdefault(u["id"], f)
            accurate[u["id"]] = accurate.get(u["id"], False) or origin_accurate(f, u)
            in_range[u["id"]] = in_range.get(u["id"], False) or range_accurate(f, u)
        for u in on:
            if u["label"] == "negative":
                neg_hits[u["id"]].append(f)
        if hits:
            true += 1
            labelled.append((prob(f), True))
        elif on:
            false += 1
            labelled.append((prob(f), False))
            for u in copies:
                wrong_origin.append((f, u))
        else:
            unlabelled.append(f)
    recall: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for u in truth["units"]:
        if u["label"] != "copy":
            continue
        hit = int(u["id"] in found)
        for key in (
            f"{u['kind']}|{u['size']}|{u['language']}",
            f"{u['kind']}|{u['size']}|all",
            f"all|all|{u['language']}",
            "all|all|all",
            f"{u['kind']}|all|all",
            f"all|{u['size']}|all",
        ):
            recall[key][0] += hit
            recall[key][1] += 1
    fp: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for u in truth["units"]:
        if u["label"] == "negative":
            hit = int(u["id"] in neg_hits)
            for key in (f"{u['kind']}|{u['language']}", f"{u['kind']}|all"):
                fp[key][0] += hit
                fp[key][1] += 1
    n_found = len(found)
    return {
        "threshold": threshold,
        "findings": len(fs),
        "true": true,
        "false": false,
        "unlabelled": len(unlabelled),
        "precision": true / (true + false) if true + false else None,
        "recall": dict(recall),
        "fp_rate": dict(fp),
        "origin_accuracy": sum(accurate.values()) / n_found if n_found else None,
        "origin_accurate": sum(accurate.values()),
        "range_accurate": sum(in_range.values()),
        "found": n_found,
        "_found": found,
        "_neg_hits": neg_hits,
        "_labelled": labelled,
        "_unlabelled": unlabelled,
        "_wrong_origin": wrong_origin,
    }


def reliability(labelled: list[tuple[float, bool]]) -> tuple[list[dict[str, Any]], float | None]:
    """Reliability bins (count, mean probability, share true) and the ECE."""
    rows = []
    ece = 0.0
    for lo, hi in BINS:
        inb = [(p, t) for p, t in labelled if lo <= p < hi]
        if inb:
            mean_p = sum(p for p, _ in inb) / len(inb)
            share = sum(t for _, t in inb) / len(inb)
            ece += len(inb) / len(labelled) * abs(mean_p - share)
        else:
            mean_p = share = None
        rows.append({"bin": [lo, min(hi, 1.0)], "count": len(inb), "mean_p": mean_p, "share_true": share})
    return rows, (ece if labelled else None)


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table ('-' for None)."""
    return "-" if value is None else f"{value:.{digits}f}"


def share(pair: list[int] | None) -> str:
    """'k/n (p%)' for a count pair."""
    if not pair or not pair[1]:
        return "-"
    return f"{pair[0]}/{pair[1]} ({100 * pair[0] / pair[1]:.0f}%)"


def where(f: dict[str, Any]) -> str:
    """A finding as 'path:s-e -> source:path:s-e (match, channel, P)'."""
    o = f.get("origin") or {}
    return (
        f"{f['path']}:{f['start_line']}-{f['end_line']} -> {o.get('source')}:{o.get('path')}:"
        f"{o.get('start_line')}-{o.get('end_line')} ({f.get('match_type')}, {f.get('channel')}, "
        f"P={fmt(f.get('probability'), 2)})"
    )


def do_run(out: Path, with_model: bool, json_path: Path | None, verdict: str | None) -> None:
    """Index, scan and print the tables."""
    truth = json.loads((out / "truth.json").read_text())
    index_s = index_sources(out, truth, with_model)
    scan_s, findings = scan(out, truth, with_model, verdict)
    res = evaluate(truth, findings)
    gate = evaluate(truth, findings, GATE)
    units = [u for u in truth["units"] if u["label"] == "copy"]
    print(f"# verdict_bench: {out} (split {truth['split']}, {'with model' if with_model else 'no ML'})\n")
    print(
        f"index {index_s:.1f} s, scan {scan_s:.1f} s; {len(findings)} findings, {len(units)} copy units, "
        f"{len(truth['units']) - len(units)} negative units\n"
    )
    print("## Recall per kind and size (all findings)\n")
    print("| kind | size | " + " | ".join(LANGS) + " | all |")
    print("|---|---|" + "---|" * (len(LANGS) + 1))
    keys = sorted({(u["kind"], u["size"]) for u in units}, key=lambda x: (KINDS.index(x[0]), x[1]))
    rec = res["recall"]
    for kind, size in keys:
        cells = [share(rec.get(f"{kind}|{size}|{lang}")) for lang in LANGS + ("all",)]
        print(f"| {kind} | {size} | " + " | ".join(cells) + " |")
    for size in ("short", "long"):
        print(f"| all | {size} | " + " | ".join(["", "", ""]) + f" | {share(rec.get(f'all|{size}|all'))} |")
    print(
        "| **all** | **all** | "
        + " | ".join(share(rec.get(f"all|all|{lang}")) for lang in LANGS + ("all",))
        + " |"
    )
    print("\n## Precision, origin lines, gate\n")
    print(
        "| findings | threshold | true | false | unlabelled | precision | recall "
        "| origin lines ±1 (fragments) | origin range ±1 (as reported) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in (res, gate):
        print(
            f"| {r['findings']} | ≥ {r['threshold']:.2f} | {r['true']} | {r['false']} | {r['unlabelled']} | "
            f"{fmt(r['precision'])} | {share(r['recall'].get('all|all|all'))} | "
            f"{share([r['origin_accurate'], r['found']])} | {share([r['range_accurate'], r['found']])} |"
        )
    print("\n## False-positive rate per negative kind (units with ≥ 1 finding)\n")
    print("| kind | " + " | ".join(LANGS) + " | all | all (P ≥ 0.9) |")
    print("|---|" + "---|" * (len(LANGS) + 2))
    for kind in NEG_KINDS:
        cells = [share(res["fp_rate"].get(f"{kind}|{lang}")) for lang in LANGS + ("all",)]
        print(f"| {kind} | " + " | ".join(cells) + f" | {share(gate['fp_rate'].get(f'{kind}|all'))} |")
    rows, ece = reliability(res["_labelled"])
    print("\n## Reliability of the probability (labelled findings)\n")
    print("| P bin | count | mean P | share true |")
    print("|---|---|---|---|")
    for row in rows:
        lo, hi = row["bin"]
        print(
            f"| [{lo:.2f}, {hi:.2f}{']' if hi >= 1 else ')'} | {row['count']} | {fmt(row['mean_p'])} | "
            f"{fmt(row['share_true'])} |"
        )
    print(f"\nECE: {fmt(ece)}\n")
    channels: Counter[tuple[str, str]] = Counter()
    for u in units:
        f = res["_found"].get(u["id"])
        channels[(u["kind"], f"{f.get('match_type')}/{f.get('channel')}" if f else "missed")] += 1
    print("## How copy units were found (first matching finding: match_type/channel)\n")
    for kind in KINDS:
        parts = [f"{c}: {n}" for (k, c), n in sorted(channels.items()) if k == kind]
        if parts:
            print(f"- {kind}: " + ", ".join(parts))
    print("\n## Findings on negative units (check by hand: real duplication can make some true)\n")
    neg = {u["id"]: u for u in truth["units"] if u["label"] == "negative"}
    for uid, fs in sorted(res["_neg_hits"].items()):
        for f in fs:
            print(f"- {uid} {neg[uid]['kind']}: {where(f)}")
    print("\n## Findings on copy units naming another origin\n")
    for f, u in res["_wrong_origin"]:
        o = u["origin"]
        print(
            f"- {u['id']} {u['kind']}/{u['size']} (truth {o['source']}:{o['path']}:{o['lines']}): {where(f)}"
        )
    print("\n## Unlabelled findings (on host code that is no unit)\n")
    for f in res["_unlabelled"]:
        print(f"- {where(f)}")
    print("\n## Missed copy units\n")
    for u in units:
        if u["id"] not in res["_found"]:
            o = u["origin"]
            print(
                f"- {u['id']} {u['kind']}/{u['size']} {u['path']}:{u['lines'][0]}-{u['lines'][1]} <- "
                f"{o['source']}:{o['path']}:{o['lines'][0]}-{o['lines'][1]}"
            )
    if json_path:
        payload = {
            "out": str(out),
            "split": truth["split"],
            "with_model": with_model,
            "verdict": verdict,
            "index_s": index_s,
            "scan_s": scan_s,
            "n_findings": len(findings),
            "all": {k: v for k, v in res.items() if not k.startswith("_")},
            "gate": {k: v for k, v in gate.items() if not k.startswith("_")},
            "reliability": rows,
            "ece": ece,
            "found_units": sorted(res["_found"]),
            "missed_units": [u["id"] for u in units if u["id"] not in res["_found"]],
            "negative_hits": {uid: [where(f) for f in fs] for uid, fs in res["_neg_hits"].items()},
            "unlabelled": [where(f) for f in res["_unlabelled"]],
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=1) + "\n")
        print(f"\nwrote {json_path}")


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="plant copies into OUT")
    b.add_argument("out", type=Path)
    b.add_argument("--split", choices=("train", "test"), required=True)
    b.add_argument("--per-kind", type=int, default=6, help="units per copy kind and size (partial: twice)")
    s = sub.add_parser("show", help="print planted units next to their origin")
    s.add_argument("out", type=Path)
    s.add_argument("--n", type=int, default=2)
    r = sub.add_parser("run", help="index, scan and score OUT")
    r.add_argument("out", type=Path)
    r.add_argument("--with-model", action="store_true")
    r.add_argument("--json", type=Path)
    r.add_argument("--verdict")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        do_build(args.out, args.split, args.per_kind)
    elif args.cmd == "show":
        do_show(args.out, args.n)
    else:
        do_run(args.out, args.with_model, args.json, args.verdict)


if __name__ == "__main__":
    main()
