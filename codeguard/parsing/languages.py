"""The language registry: name -> extensions, grammar, chunk node types, token classes.

Grammars come from the official per-language wheels (offline). Each language is one entry in
``LANGUAGES``; adding a language means adding an entry here, nothing else.
"""

from __future__ import annotations

import importlib
import re
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

# Per-kind actions of the normalizing walk.
EMIT = 0  # a leaf token: emit its (abstracted) kind
LITERAL = 1  # a literal: emit one LIT token, do not descend
DROP = 2  # a comment (or docstring): emit nothing, do not descend
DESCEND = 3  # an inner node: descend

ID_TOKEN = "$ID"
LIT_TOKEN = "$LIT"

# Kinds whose names look like literals but hold code (Go's composite literals, Kotlin lambdas...).
_CODE_LITERALS = frozenset(
    {
        "composite_literal",
        "compound_literal_expression",
        "func_literal",
        "lambda_literal",
        "collection_literal",
        "object_literal",
        "list_literal",
        "literal_value",
        "literal_element",
        "class_literal",
        "string_interpolation",
        "interpolation",
        "template_substitution",
        "character_literal_content",
    }
)
_LITERAL_RE = re.compile(
    r"(^|_)(string|literal|integer|float|number|char|character|regex|heredoc|boolean|symbol|"
    r"nowdoc_string|encapsed_string|rune)($|_)"
)
# `_operator`: Python's boolean_operator (`a and b`, `a or b`) matches "boolean" but is code.
_LITERAL_EXCLUDE_RE = re.compile(
    r"(_content|_start|_end|_fragment|_delimiter|_type|_flags|_pattern|_operator)$"
)
# Value keywords are literals like 1 and "a": the Rust, C# and PHP grammars already name them
# boolean_literal / null_literal / boolean, while Python, JS, Go, Ruby, C and Java give them kinds
# of their own; without this, turning `true` into `false` changed the stream in some languages only.
_VALUE_KEYWORDS = frozenset({"true", "false", "null", "nil", "none"})
_MAX_KIND = 1 << 16
_IDENT_NAMES = frozenset({"constant", "name", "simple_identifier", "self", "this"})


@dataclass(frozen=True)
class LanguageSpec:
    """One language: how to find it, load its grammar and cut it into chunks."""

    name: str
    extensions: tuple[str, ...]
    module: str
    factory: str = "language"
    family: str = ""  # token streams of one family are comparable (C with C++, JS with TS)
    function_kinds: frozenset[str] = frozenset()
    class_kinds: frozenset[str] = frozenset()
    extra_literals: frozenset[str] = frozenset()
    docstring_statement: str | None = None  # a statement holding only a string is a comment
    # Nodes whose own outer parentheses are dropped: redundant parentheses come and go with
    # reformatting (black, ast.unparse) and must not change the token stream.
    paren_kinds: frozenset[str] = frozenset({"parenthesized_expression"})
    # (node kind, only named child kind): parentheses also dropped, e.g. f((x for x in y)).
    paren_wrappers: tuple[tuple[str, str], ...] = ()
    # Nodes inside a literal that hold code (f-string / template substitutions, PHP variables in
    # "..."): the literal stays one LIT token, but the code inside is tokenized, not hidden.
    interpolation_kinds: frozenset[str] = frozenset()
    # Function kinds that are methods wherever they stand (Go: `func (r T) m()` is top level).
    method_kinds: frozenset[str] = frozenset()
    # Class kinds that are chunks only with a body: C++'s `struct stat st;` is a struct_specifier
    # too, a type reference that must not become a two-token class chunk.
    needs_body: frozenset[str] = frozenset()
    # Fields that name a chunk besides ``name`` (Rust: `impl Display for Point` is named by type).
    name_fields: tuple[str, ...] = ()
    # Statements that every file of a language repeats (imports, package and include lines):
    # boilerplate, never evidence of copying on their own (codeguard.parsing.chunker).
    boilerplate_kinds: frozenset[str] = frozenset()
    # Top-level statements whose text makes them boilerplate (JS `const x = require("x")`).
    boilerplate_re: str = ""

    @property
    def fingerprint_family(self) -> str:
        return self.family or self.name


def _fs(*names: str) -> frozenset[str]:
    return frozenset(names)


# `"use strict";` and `const {a, b} = require("x");` head most CommonJS files.
_JS_BOILERPLATE = (
    r"""^\s*(['"]use strict['"]"""
    r"""|(const|let|var)\s+[\w${}\s,:]+=\s*require\(\s*['"][^'"]+['"]\s*\)(\.\w+)*)\s*;?\s*$"""
)


LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in [
        LanguageSpec(
            "python",
            (".py", ".pyi", ".pyw"),
            "tree_sitter_python",
            boilerplate_kinds=_fs("import_statement", "import_from_statement", "future_import_statement"),
            function_kinds=_fs("function_definition"),
            class_kinds=_fs("class_definition"),
            docstring_statement="expression_statement",
            paren_wrappers=(("argument_list", "generator_expression"),),
            interpolation_kinds=_fs("interpolation"),
        ),
        LanguageSpec(
            "java",
            (".java",),
            "tree_sitter_java",
            boilerplate_kinds=_fs("package_declaration", "import_declaration"),
            function_kinds=_fs("method_declaration", "constructor_declaration"),
            class_kinds=_fs(
                "class_declaration", "interface_declaration", "enum_declaration", "record_declaration"
            ),
            interpolation_kinds=_fs("string_interpolation"),
        ),
        LanguageSpec(
            "c",
            (".c", ".h"),
            "tree_sitter_c",
            boilerplate_kinds=_fs("preproc_include"),
            family="c",
            function_kinds=_fs("function_definition"),
        ),
        LanguageSpec(
            "cpp",
            (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp"),
            "tree_sitter_cpp",
            boilerplate_kinds=_fs("preproc_include", "using_declaration"),
            family="c",
            function_kinds=_fs("function_definition"),
            class_kinds=_fs("class_specifier", "struct_specifier"),
            needs_body=_fs("class_specifier", "struct_specifier"),
        ),
        LanguageSpec(
            "javascript",
            (".js", ".mjs", ".cjs", ".jsx"),
            "tree_sitter_javascript",
            boilerplate_kinds=_fs("import_statement"),
            boilerplate_re=_JS_BOILERPLATE,
            family="js",
            function_kinds=_fs(
                "function_declaration",
                "generator_function_declaration",
                "method_definition",
                "function_expression",
                "arrow_function",
            ),
            class_kinds=_fs("class_declaration", "class"),
            interpolation_kinds=_fs("template_substitution"),
        ),
        LanguageSpec(
            "typescript",
            (".ts", ".mts", ".cts"),
            "tree_sitter_typescript",
            factory="language_typescript",
            boilerplate_kinds=_fs("import_statement"),
            boilerplate_re=_JS_BOILERPLATE,
            family="js",
            function_kinds=_fs(
                "function_declaration",
                "generator_function_declaration",
                "method_definition",
                "function_expression",
                "arrow_function",
            ),
            class_kinds=_fs(
                "class_declaration", "abstract_class_declaration", "class", "interface_declaration"
            ),
            interpolation_kinds=_fs("template_substitution"),
        ),
        LanguageSpec(
            "tsx",
            (".tsx",),
            "tree_sitter_typescript",
            factory="language_tsx",
            boilerplate_kinds=_fs("import_statement"),
            boilerplate_re=_JS_BOILERPLATE,
            family="js",
            function_kinds=_fs(
                "function_declaration",
                "generator_function_declaration",
                "method_definition",
                "function_expression",
                "arrow_function",
            ),
            class_kinds=_fs(
                "class_declaration", "abstract_class_declaration", "class", "interface_declaration"
            ),
            interpolation_kinds=_fs("template_substitution"),
        ),
        LanguageSpec(
            "go",
            (".go",),
            "tree_sitter_go",
            boilerplate_kinds=_fs("package_clause", "import_declaration"),
            function_kinds=_fs("function_declaration", "method_declaration", "func_literal"),
            method_kinds=_fs("method_declaration"),
        ),
        LanguageSpec(
            "rust",
            (".rs",),
            "tree_sitter_rust",
            boilerplate_kinds=_fs("use_declaration", "extern_crate_declaration"),
            function_kinds=_fs("function_item"),
            # Not mod_item: a module is a namespace (like C++ namespaces and C# namespaces, which
            # are not chunks either); with it, every free function in `mod tests` was a "method".
            class_kinds=_fs("impl_item", "trait_item"),
            name_fields=("type",),
        ),
        LanguageSpec(
            "csharp",
            (".cs",),
            "tree_sitter_c_sharp",
            boilerplate_kinds=_fs("using_directive"),
            function_kinds=_fs(
                "method_declaration",
                "constructor_declaration",
                "local_function_statement",
                "operator_declaration",
            ),
            class_kinds=_fs(
                "class_declaration", "struct_declaration", "interface_declaration", "record_declaration"
            ),
            interpolation_kinds=_fs("interpolation"),
        ),
        LanguageSpec(
            "ruby",
            (".rb",),
            "tree_sitter_ruby",
            boilerplate_re=r"^\s*(require|require_relative|include|extend)\b",
            function_kinds=_fs("method", "singleton_method"),
            class_kinds=_fs("class", "module"),
            interpolation_kinds=_fs("interpolation"),
        ),
        LanguageSpec(
            "php",
            (".php",),
            "tree_sitter_php",
            boilerplate_kinds=_fs("namespace_use_declaration"),
            factory="language_php",
            function_kinds=_fs("function_definition", "method_declaration"),
            class_kinds=_fs("class_declaration", "trait_declaration", "interface_declaration"),
            # "$a $b->c {$d[1]}" holds these directly, without an interpolation node.
            interpolation_kinds=_fs(
                "variable_name",
                "member_access_expression",
                "subscript_expression",
                "dynamic_variable_name",
            ),
        ),
        LanguageSpec(
            "kotlin",
            (".kt", ".kts"),
            "tree_sitter_kotlin",
            boilerplate_kinds=_fs("package_header", "import_list", "import_header"),
            function_kinds=_fs("function_declaration"),
            class_kinds=_fs("class_declaration", "object_declaration"),
            interpolation_kinds=_fs("interpolation"),
        ),
    ]
}

_BY_EXTENSION: dict[str, str] = {ext: spec.name for spec in LANGUAGES.values() for ext in spec.extensions}


def language_for_path(path: str) -> LanguageSpec | None:
    """The language of a file by its extension, or None when no grammar covers it."""
    dot = path.rfind(".")
    if dot < 0 or "/" in path[dot:]:
        return None
    name = _BY_EXTENSION.get(path[dot:].lower())
    return LANGUAGES[name] if name else None


def stable_token_id(text: str) -> int:
    """A token id that is identical on every machine and process (never Python's hash())."""
    return zlib.crc32(text.encode("utf-8")) or 1


@dataclass
class Grammar:
    """A loaded grammar with per-kind-id lookup tables for the normalizing walk."""

    spec: LanguageSpec
    language: Any
    parser: Any
    action: np.ndarray  # kind_id -> EMIT/LITERAL/DROP/DESCEND (for nodes with children)
    token: list[int]  # kind_id -> stable token id
    is_ident: list[bool]
    function_ids: frozenset[int]
    class_ids: frozenset[int]
    method_ids: frozenset[int] = field(default_factory=frozenset)
    needs_body_ids: frozenset[int] = field(default_factory=frozenset)
    interpolation_ids: frozenset[int] = field(default_factory=frozenset)
    actions: list[int] = field(default_factory=list)  # ``action`` as a list, for the walk
    docstring_id: int = -1
    string_ids: frozenset[int] = field(default_factory=frozenset)
    paren_ids: frozenset[int] = field(default_factory=frozenset)
    wrapper_ids: dict[int, frozenset[int]] = field(default_factory=dict)
    open_paren: int = -1
    close_paren: int = -1
    boilerplate_ids: frozenset[int] = field(default_factory=frozenset)
    boilerplate_re: re.Pattern[bytes] | None = None


def _classify(kind: str, named: bool, spec: LanguageSpec) -> int:
    if named and "comment" in kind:
        return DROP
    if named and kind not in _CODE_LITERALS:
        if kind in spec.extra_literals or kind in _VALUE_KEYWORDS:
            return LITERAL
        if _LITERAL_RE.search(kind) and not _LITERAL_EXCLUDE_RE.search(kind):
            return LITERAL
    return DESCEND


@cache
def grammar(name: str) -> Grammar:
    """Load (once per process) the grammar of a registered language."""
    import tree_sitter as ts

    spec = LANGUAGES[name]
    module = importlib.import_module(spec.module)
    language = ts.Language(getattr(module, spec.factory)())
    parser = ts.Parser(language)
    count = language.node_kind_count
    # Tables cover every 16-bit kind id: ERROR nodes carry the id 65535.
    action = np.full(_MAX_KIND, DESCEND, dtype=np.int8)
    token = [stable_token_id("ERROR")] * _MAX_KIND
    is_ident = [False] * _MAX_KIND
    function_ids, class_ids, string_ids = set(), set(), set()
    method_ids: set[int] = set()
    needs_body_ids: set[int] = set()
    interpolation_ids: set[int] = set()
    docstring_id = -1
    paren_ids: set[int] = set()
    boilerplate_ids: set[int] = set()
    wrapper_kinds = dict(spec.paren_wrappers)
    wrappers: dict[int, set[int]] = {}
    for kid in range(count):
        kind = language.node_kind_for_id(kid) or ""
        named = language.node_kind_is_named(kid)
        action[kid] = _classify(kind, named, spec)
        ident = named and (kind.endswith("identifier") or kind in _IDENT_NAMES)
        is_ident[kid] = ident
        if ident:
            token[kid] = stable_token_id(ID_TOKEN)
        elif action[kid] == LITERAL:
            token[kid] = stable_token_id(LIT_TOKEN)
        else:
            token[kid] = stable_token_id(kind)
        if kind in spec.function_kinds and named:
            function_ids.add(kid)
        if kind in spec.class_kinds and named:
            class_ids.add(kid)
        if kind in spec.method_kinds and named:
            method_ids.add(kid)
        if kind in spec.needs_body and named:
            needs_body_ids.add(kid)
        if kind in spec.interpolation_kinds and named:
            interpolation_ids.add(kid)
        if kind == "string" and named:
            string_ids.add(kid)
        if kind == spec.docstring_statement and named:
            docstring_id = kid
        if kind in spec.paren_kinds and named:
            paren_ids.add(kid)
        if kind in spec.boilerplate_kinds and named:
            boilerplate_ids.add(kid)
    for kid in range(count):
        kind = language.node_kind_for_id(kid) or ""
        if kind in wrapper_kinds and language.node_kind_is_named(kid):
            inner = wrapper_kinds[kind]
            wrappers[kid] = {
                i
                for i in range(count)
                if language.node_kind_for_id(i) == inner and language.node_kind_is_named(i)
            }
    return Grammar(
        spec=spec,
        language=language,
        parser=parser,
        action=action,
        token=token,
        is_ident=is_ident,
        function_ids=frozenset(function_ids),
        class_ids=frozenset(class_ids),
        method_ids=frozenset(method_ids),
        needs_body_ids=frozenset(needs_body_ids),
        interpolation_ids=frozenset(interpolation_ids),
        actions=action.tolist(),
        docstring_id=docstring_id,
        string_ids=frozenset(string_ids),
        paren_ids=frozenset(paren_ids),
        wrapper_ids={k: frozenset(v) for k, v in wrappers.items()},
        # -1 (never a kind id) for a grammar without parentheses
        open_paren=language.id_for_node_kind("(", False) or -1,
        close_paren=language.id_for_node_kind(")", False) or -1,
        boilerplate_ids=frozenset(boilerplate_ids),
        boilerplate_re=re.compile(spec.boilerplate_re.encode()) if spec.boilerplate_re else None,
    )


def grammar_versions() -> dict[str, str]:
    """Installed versions of tree-sitter and every grammar wheel (recorded in index manifests)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for dist in ["tree-sitter"] + sorted({s.module.replace("_", "-") for s in LANGUAGES.values()}):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "missing"
    return out
