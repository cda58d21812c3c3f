"""The license policy: license categories and rules (YAML in rules/) that decide findings.

A verdict is decided per pair (origin license, project license) by the first matching rule.
SPDX expressions are parsed and normalized with the license-expression library: an OR on the
origin side is a violation only if every alternative violates (the mildest verdict wins), an
AND if any part does (the strictest wins); each of a dual-licensed project's licenses must
accept the code (the strictest wins). ``X WITH exception`` is judged by what the exception grants
(rules/exceptions.yaml): copied source by the base license ``X`` unless the exception covers the
copy itself, and the verdict's reason says which.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from codeguard.errors import ConfigError


@cache
def _loader() -> type:
    """libyaml's parser where PyYAML was built with it (the same nodes and values, ~10x faster).
    PyYAML is imported only when a policy file is read, not when its loaded form is cached."""
    import yaml

    loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


LEVELS = ("none", "note", "warning", "error")
SEVERITY = {name: i for i, name in enumerate(LEVELS)}
CATEGORIES = (
    "public-domain",
    "permissive",
    "weak-copyleft",
    "strong-copyleft",
    "network-copyleft",
    "source-available",
    "proprietary",
    "unknown",
)
# ScanCode's license-database categories -> ours (fallback for ids not in categories.yaml).
_SCANCODE_CATEGORY = {
    "Public Domain": "public-domain",
    "Permissive": "permissive",
    "Copyleft Limited": "weak-copyleft",
    "Copyleft": "strong-copyleft",
    "Proprietary Free": "proprietary",
    "Commercial": "proprietary",
    "Source-available": "source-available",
    "Free Restricted": "source-available",
    "Patent License": "permissive",
}
_RULE_KEYS = {"id", "name", "when", "level", "message", "help", "exceptions"}
_WHEN_KEYS = {"origin", "project", "origin_license", "project_license"}
_TOP_KEYS = {"version", "allow", "rules"}
_ALLOW_KEYS = {"licenses", "sources"}


@dataclass(frozen=True)
class Verdict:
    """The policy's decision on one finding."""

    level: str  # none | note | warning | error
    rule_id: str = ""
    name: str = ""
    reason: str = ""
    help: str = ""

    @property
    def severity(self) -> int:
        return SEVERITY[self.level]


COMPATIBLE = Verdict("none", "", "compatible", "no license conflict")


@dataclass(frozen=True)
class Condition:
    """License categories and SPDX ids (globs) that a pair must match; empty means any."""

    origin: tuple[str, ...] = ()
    project: tuple[str, ...] = ()
    origin_license: tuple[str, ...] = ()
    project_license: tuple[str, ...] = ()

    def matches(self, origin: str, project: str, oc: str, pc: str) -> bool:
        return (
            (not self.origin or oc in self.origin)
            and (not self.project or pc in self.project)
            and (not self.origin_license or _match_any(origin, self.origin_license))
            and (not self.project_license or _match_any(project, self.project_license))
        )


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    level: str
    message: str
    help: str
    when: Condition = Condition()
    exceptions: tuple[Condition, ...] = ()  # pairs the rule does not apply to


@dataclass(frozen=True)
class LicenseException:
    """One license exception: what it grants and whether that covers copying the file itself."""

    id: str
    name: str
    grants: str  # linking | runtime | output | font | other
    reason: str
    covers_copy: bool = False
    phrase: str = ""  # how a message names the grant ("linking")

    def note(self, base: str) -> str:
        """What the exception means for a copy of code under ``base WITH`` it."""
        if self.covers_copy:
            return f"the {self.name} covers this copy: {self.reason}"
        if self.phrase:
            return f"the {self.name} covers {self.phrase}, not copied source (judged as {base})"
        return f"the {self.name} does not cover copied source ({self.reason}; judged as {base})"


@dataclass
class Policy:
    """Rules plus the allow-list, loaded from YAML."""

    rules: list[Rule]
    allow_licenses: tuple[str, ...] = ()
    allow_sources: tuple[str, ...] = ()
    path: str = "<default>"
    categories: dict[str, str] = field(default_factory=dict)
    exceptions: dict[str, LicenseException] = field(default_factory=dict)

    def rule_catalog(self) -> list[Rule]:
        """One entry per rule id (for SARIF rule lists and docs)."""
        seen: dict[str, Rule] = {}
        for r in self.rules:
            seen.setdefault(r.id, r)
        return list(seen.values())

    # -- evaluation ------------------------------------------------------------------------
    def decide(self, origin: str | None, project: str | None, source: str = "") -> Verdict:
        """Verdict for code under ``origin`` (SPDX expression or None) in a ``project``."""
        if source and any(fnmatch.fnmatchcase(source, p) for p in self.allow_sources):
            return Verdict("none", "", "allowed", f"origin {source} is allow-listed")
        origin_expr = parse_expression(origin)
        project_leaves = _leaves(parse_expression(project)) or ["unknown"]
        verdicts = [self._decide_origin(origin_expr, p) for p in project_leaves]
        return max(verdicts, key=lambda v: v.severity)

    def _decide_origin(self, expr: Expr | None, project: str) -> Verdict:
        if expr is None:
            return self._decide_leaf("unknown", project)
        if expr.op == "OR":
            return min((self._decide_origin(a, project) for a in expr.args), key=lambda v: v.severity)
        if expr.op == "AND":
            return max((self._decide_origin(a, project) for a in expr.args), key=lambda v: v.severity)
        return self._decide_leaf(expr.key, project)

    def _decide_leaf(self, origin: str, project: str) -> Verdict:
        if any(fnmatch.fnmatchcase(origin, p) for p in self.allow_licenses):
            return Verdict("none", "", "allowed", f"{origin} is allow-listed")
        oc, pc = self.category(origin), self.category(project)
        if origin == project and oc not in ("permissive", "unknown"):
            return COMPATIBLE
        for r in self.rules:
            if not r.when.matches(origin, project, oc, pc):
                continue
            if any(e.matches(origin, project, oc, pc) for e in r.exceptions):
                continue
            values = {"origin": origin, "project": project, "origin_category": oc, "project_category": pc}
            reason, note = _fmt(r.message, values), self.exception_note(origin)
            reason = f"{reason}; {note}" if note else reason
            return Verdict(r.level, r.id, r.name, reason, _fmt(r.help, values))
        return COMPATIBLE

    def exception_note(self, key: str) -> str:
        """What the exception of an ``X WITH E`` key means for copied code ("" for other keys,
        and for keys whose category rules/categories.yaml gives explicitly)."""
        if " WITH " not in key or key in self.categories:
            return ""
        base, exc = key.split(" WITH ", 1)
        entry = self.exceptions.get(exc)
        if entry is None:
            return f"unknown license exception {exc}: judged as {base} alone (check what it grants)"
        return entry.note(base)

    def unknown_licenses(self, expression: str | None) -> list[str]:
        """The license keys of ``expression`` that this policy cannot judge (``["unknown"]``
        for no or an unparsable expression): copies under them are reported as unknown-origin."""
        leaves = _leaves(parse_expression(expression)) or ["unknown"]
        return [k for k in leaves if not _match_any(k, self.allow_licenses) and self.category(k) == "unknown"]

    def category(self, key: str) -> str:
        """The category of one SPDX license key (``unknown`` when not known)."""
        if key in ("unknown", "NOASSERTION", "NONE", ""):
            return "unknown"
        if key in self.categories:
            return self.categories[key]
        for pattern, cat in self.categories.items():
            if pattern.endswith("*") and fnmatch.fnmatchcase(key, pattern):
                return cat
        if " WITH " in key:  # copied source is judged by the license the exception modifies
            base, exc = key.split(" WITH ", 1)
            entry = self.exceptions.get(exc)
            return "permissive" if entry is not None and entry.covers_copy else self.category(base)
        return _database_category(key)


def _fmt(text: str, values: dict[str, str]) -> str:
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text


def _match_any(key: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def _database_category(key: str) -> str:
    try:
        from codeguard.licenses.detect import category_of
    except ImportError:
        return "unknown"
    try:
        return _SCANCODE_CATEGORY.get(category_of(key) or "", "unknown")
    except Exception:  # noqa: BLE001 - an unknown id is simply unknown
        return "unknown"


def _licensing(expression: str) -> Any:
    """license-expression's SPDX licensing, as far as ``expression`` needs it (imported and
    built only when an expression is parsed)."""
    from codeguard.licenses.spdx import spdx_licensing_for

    return spdx_licensing_for(expression)


@dataclass(frozen=True)
class Expr:
    """A license expression as the policy reads it: an AND or OR of parts, or one license key
    (``X WITH E`` being one key)."""

    op: str  # "AND" | "OR" | "" (a license)
    args: tuple[Expr, ...] = ()
    key: str = ""

    def to_json(self) -> object:
        return {"op": self.op, "args": [a.to_json() for a in self.args]} if self.op else self.key

    @classmethod
    def from_json(cls, node: object) -> Expr:
        """The inverse of ``to_json``; ValueError for anything it cannot have written."""
        if isinstance(node, str):
            return cls("", key=node)
        if isinstance(node, dict) and node.get("op") in ("AND", "OR") and isinstance(node.get("args"), list):
            return cls(str(node["op"]), tuple(cls.from_json(a) for a in node["args"]))
        raise ValueError(f"not a stored expression: {node!r}")


def _tree(parsed: Any) -> Expr:
    """license-expression's parse as an ``Expr``."""
    kind = type(parsed).__name__
    if kind in ("OR", "AND"):
        return Expr(kind, tuple(_tree(a) for a in parsed.args))
    return Expr("", key=_key(parsed))


def _parse(expression: str) -> Expr | None:
    try:
        parsed = _licensing(expression).parse(expression, validate=False)
    except Exception:  # noqa: BLE001 - license-expression raises several error types
        return None
    return None if parsed is None else _tree(parsed)


# Parsed expressions of this process, and the per-user cache of them (codeguard.licenses.cache):
# a scan judges the same few expressions (the project's, its origins') run after run.
EXPRESSIONS_FILE = "expressions.json"
_PARSED: dict[str, Expr | None] = {}


@cache
def _expression_store() -> Any:
    """The per-user cache of parsed expressions (a StampedCache), opened on first use."""
    from codeguard.licenses.cache import StampedCache

    return StampedCache(EXPRESSIONS_FILE)


def parse_expression(expression: str | None) -> Expr | None:
    """Parse an SPDX expression leniently (unknown ids kept as-is); None when empty or invalid."""
    if not expression or not expression.strip():
        return None
    if expression in _PARSED:
        return _PARSED[expression]
    store = _expression_store()
    stored = store.get(expression)
    try:
        if not isinstance(stored, dict) or "tree" not in stored:
            raise ValueError("not cached")
        tree = None if stored["tree"] is None else Expr.from_json(stored["tree"])
        store.hits += 1
    except ValueError:
        store.misses += 1
        tree = _parse(expression)
        store.put(expression, {"tree": None if tree is None else tree.to_json()})
    _PARSED[expression] = tree
    return tree


def normalize_expression(expression: str) -> str:
    """Canonical SPDX rendering (``gpl-2.0+`` -> ``GPL-2.0-or-later``); raises ConfigError."""
    try:
        return str(_licensing(expression).parse(expression, validate=False))
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"Invalid SPDX license expression {expression!r}: {exc}") from None


def validate_expression(expression: str) -> list[str]:
    """Problems with an SPDX expression (unknown ids, syntax); empty when valid."""
    info = _licensing(expression).validate(expression)
    return list(info.errors)


def _key(symbol: Any) -> str:
    kind = type(symbol).__name__
    if kind == "LicenseWithExceptionSymbol":
        return f"{symbol.license_symbol.key} WITH {symbol.exception_symbol.key}"
    return str(getattr(symbol, "key", symbol))


def _leaves(expr: Expr | None) -> list[str]:
    if expr is None:
        return []
    if expr.op:
        return [leaf for a in expr.args for leaf in _leaves(a)]
    return [expr.key]


# -- loading --------------------------------------------------------------------------------
def _default_file(name: str) -> Path:
    return Path(str(resources.files("codeguard") / "_rules" / name))


@cache
def load_categories(path: str | None = None) -> dict[str, str]:
    """SPDX key -> category from a categories file (default: rules/categories.yaml)."""
    import yaml

    file = Path(path) if path else _default_file("categories.yaml")
    node = _compose(file)
    data = yaml.load(file.read_text(encoding="utf-8"), Loader=_loader()) or {}
    cats = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(cats, dict):
        raise ConfigError(f"{file}:{_line(node)}: expected a 'categories' mapping")
    out: dict[str, str] = {}
    for cat, keys in cats.items():
        if cat not in CATEGORIES:
            raise ConfigError(f"{file}: unknown category {cat!r} (expected one of {', '.join(CATEGORIES)})")
        for k in keys or []:
            out[str(k)] = cat
    return out


_GRANTS = ("linking", "runtime", "output", "font", "other")
_EXCEPTION_KEYS = {"name", "grants", "reason", "covers_copy", "aliases"}


@cache
def load_exceptions(path: str | None = None) -> dict[str, LicenseException]:
    """Exception id -> what it grants, from an exceptions file (default: rules/exceptions.yaml)."""
    import yaml

    file = Path(path) if path else _default_file("exceptions.yaml")
    root = _compose(file)
    top = _mapping(root) if isinstance(root, yaml.MappingNode) else {}
    gnode, enode = top.get("grants", (None, None))[1], top.get("exceptions", (None, None))[1]
    if not isinstance(gnode, yaml.MappingNode) or not isinstance(enode, yaml.MappingNode):
        raise ConfigError(f"{file}:{_line(root)}: expected 'grants' and 'exceptions' mappings")
    phrases = {k: str(v.value) for k, (_, v) in _mapping(gnode).items()}
    errors = [f"{file}: grant {g!r} is not described under 'grants'" for g in _GRANTS if g not in phrases]
    out: dict[str, LicenseException] = {}
    for eid, (knode, vnode) in _mapping(enode).items():
        where = f"{file}:{_line(knode)}: exception {eid}"
        if not isinstance(vnode, yaml.MappingNode):
            errors.append(f"{where}: expected a mapping with {', '.join(sorted(_EXCEPTION_KEYS))}")
            continue
        fields = _mapping(vnode)
        aliases = (
            _str_list(file, f"exception {eid}: aliases", fields.pop("aliases")[1], errors)
            if "aliases" in fields
            else ()
        )
        entry = {k: str(v.value) for k, (_, v) in fields.items()}
        errors += [f"{where}: unknown key {k!r}" for k in entry if k not in _EXCEPTION_KEYS]
        errors += [f"{where}: missing {k!r}" for k in ("name", "grants", "reason") if not entry.get(k)]
        grants = entry.get("grants", "")
        if grants and grants not in _GRANTS:
            errors.append(f"{where}: grants {grants!r} is not one of {', '.join(_GRANTS)}")
        covers = entry.get("covers_copy", "false").lower()
        if covers not in ("true", "false"):
            errors.append(f"{where}: covers_copy must be true or false")
        if not errors:
            exc = LicenseException(
                eid, entry["name"], grants, entry["reason"], covers == "true", phrases.get(grants, "")
            )
            out.update(dict.fromkeys((eid, *aliases), exc))
    if errors:
        raise ConfigError("invalid license exceptions:\n  " + "\n  ".join(errors))
    return out


# Loaded policies by the bytes of their files (codeguard.licenses.cache): a scan reads the same
# three YAML files every time, and PyYAML's import and parse cost ~0.02 s of its start-up here.
POLICIES_FILE = "policies.json"
# Policies kept (~30 KB each, read by every scan): the few a developer's projects use.
MAX_POLICIES = 8


def load_policy(path: Path | None = None, categories: str | None = None) -> Policy:
    """Load and validate a policy file; every problem names the file, key and line.

    A policy loaded before from the same bytes (policy, categories and exceptions files) comes
    from the per-user cache; invalid files are never cached, so their errors are reported each
    time."""
    file = path or _default_file("policy.yaml")
    if not file.is_file():
        raise ConfigError(f"Policy file not found: {file}")
    sources = [file, Path(categories) if categories else _default_file("categories.yaml")]
    sources.append(_default_file("exceptions.yaml"))
    try:
        digest = hashlib.sha256()
        for f in sources:
            data = f.read_bytes()
            digest.update(f"{f}\0{len(data)}\0".encode("utf-8", "surrogateescape") + data)
    except OSError:
        return _read_policy(file, categories)  # let the reader say what is wrong
    from codeguard.licenses.cache import StampedCache

    store = StampedCache(POLICIES_FILE, max_entries=MAX_POLICIES)
    key = digest.hexdigest()
    try:
        return _policy_from_json(store.get(key))
    except (TypeError, ValueError, KeyError, AttributeError):
        policy = _read_policy(file, categories)
        store.put(key, _policy_to_json(policy))
        return policy


def _policy_to_json(p: Policy) -> dict[str, Any]:
    return {
        "rules": [asdict(r) for r in p.rules],
        "allow_licenses": list(p.allow_licenses),
        "allow_sources": list(p.allow_sources),
        "path": p.path,
        "categories": dict(p.categories),
        "exceptions": {k: asdict(e) for k, e in p.exceptions.items()},
    }


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    return value


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"not a list of strings: {value!r}")
    return tuple(_str(v) for v in value)


def _condition_from_json(node: Any) -> Condition:
    return Condition(
        **{k: _strs(node[k]) for k in ("origin", "project", "origin_license", "project_license")}
    )


def _policy_from_json(node: Any) -> Policy:
    """The inverse of ``_policy_to_json``; TypeError, ValueError, KeyError or AttributeError for
    anything else."""
    if not isinstance(node, dict):
        raise ValueError("no cached policy")
    rules = [
        Rule(
            **{k: _str(r[k]) for k in ("id", "name", "level", "message", "help")},
            when=_condition_from_json(r["when"]),
            exceptions=tuple(_condition_from_json(c) for c in r["exceptions"]),
        )
        for r in node["rules"]
    ]
    categories = node["categories"]
    exceptions: dict[str, LicenseException] = {}
    for k, e in node["exceptions"].items():
        if not isinstance(e["covers_copy"], bool):
            raise ValueError("bad exception")
        fields = {f: _str(e[f]) for f in ("id", "name", "grants", "reason", "phrase")}
        exceptions[_str(k)] = LicenseException(**fields, covers_copy=e["covers_copy"])
    if not isinstance(categories, dict) or not all(isinstance(v, str) for v in categories.values()):
        raise ValueError("bad categories")
    return Policy(
        rules,
        _strs(node["allow_licenses"]),
        _strs(node["allow_sources"]),
        _str(node["path"]),
        dict(categories),
        exceptions,
    )


def _read_policy(file: Path, categories: str | None) -> Policy:
    """A policy from its YAML files, validated."""
    import yaml

    root = _compose(file)
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(
            f"{file}:{_line(root)}: a policy is a mapping with 'rules' (and optionally 'allow')"
        )
    errors: list[str] = []
    top = _mapping(root)
    for key, (knode, _) in top.items():
        if key not in _TOP_KEYS:
            errors.append(
                f"{file}:{_line(knode)}: unknown key {key!r} (expected {', '.join(sorted(_TOP_KEYS))})"
            )
    rules: list[Rule] = []
    rules_node = top.get("rules", (None, None))[1]
    if not isinstance(rules_node, yaml.SequenceNode):
        errors.append(f"{file}:{_line(rules_node or root)}: 'rules' must be a list of rules")
    else:
        for item in rules_node.value:
            rule = _rule(file, item, errors)
            if rule:
                rules.append(rule)
    allow_l: tuple[str, ...] = ()
    allow_s: tuple[str, ...] = ()
    if "allow" in top:
        anode = top["allow"][1]
        if not isinstance(anode, yaml.MappingNode):
            errors.append(f"{file}:{_line(anode)}: 'allow' must be a mapping with 'licenses' and 'sources'")
        else:
            for key, (knode, vnode) in _mapping(anode).items():
                if key not in _ALLOW_KEYS:
                    errors.append(
                        f"{file}:{_line(knode)}: unknown key allow.{key} (expected licenses, sources)"
                    )
                    continue
                values = _str_list(file, f"allow.{key}", vnode, errors)
                if key == "licenses":
                    allow_l = values
                else:
                    allow_s = values
    if errors:
        raise ConfigError("invalid policy:\n  " + "\n  ".join(errors))
    return Policy(rules, allow_l, allow_s, str(file), load_categories(categories), load_exceptions())


def _rule(file: Path, node: Any, errors: list[str]) -> Rule | None:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        errors.append(f"{file}:{_line(node)}: a rule must be a mapping")
        return None
    m = _mapping(node)
    before = len(errors)
    for key, (knode, _) in m.items():
        if key not in _RULE_KEYS:
            errors.append(
                f"{file}:{_line(knode)}: unknown rule key {key!r} (expected {', '.join(sorted(_RULE_KEYS))})"
            )
    for req in ("id", "level", "when"):
        if req not in m:
            errors.append(f"{file}:{_line(node)}: rule is missing {req!r}")
    values: dict[str, Any] = {}
    for key in ("id", "name", "level", "message", "help"):
        if key in m:
            vnode = m[key][1]
            if not isinstance(vnode, yaml.ScalarNode) or vnode.tag.endswith((":seq", ":map")):
                errors.append(f"{file}:{_line(vnode)}: rule key {key!r} must be a string")
            else:
                values[key] = str(vnode.value)
    if "level" in values and values["level"] not in LEVELS:
        errors.append(
            f"{file}:{_line(m['level'][1])}: level {values['level']!r} is not one of {', '.join(LEVELS)}"
        )
    when = _condition(file, "when", m["when"][1], errors) if "when" in m else Condition()
    exceptions: list[Condition] = []
    if "exceptions" in m:
        enode = m["exceptions"][1]
        if not isinstance(enode, yaml.SequenceNode):
            errors.append(f"{file}:{_line(enode)}: 'exceptions' must be a list of conditions like 'when'")
        else:
            exceptions = [_condition(file, "exceptions[]", e, errors) for e in enode.value]
    if len(errors) > before:
        return None
    return Rule(
        id=values["id"],
        name=values.get("name", values["id"]),
        level=values["level"],
        message=values.get("message", values.get("name", values["id"])),
        help=values.get("help", ""),
        when=when,
        exceptions=tuple(exceptions),
    )


def _condition(file: Path, where: str, node: Any, errors: list[str]) -> Condition:
    """A 'when' or exception mapping, validated (unknown keys and categories are errors)."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        errors.append(f"{file}:{_line(node)}: '{where}' must be a mapping")
        return Condition()
    fields: dict[str, tuple[str, ...]] = {}
    for key, (knode, vnode) in _mapping(node).items():
        if key not in _WHEN_KEYS:
            errors.append(
                f"{file}:{_line(knode)}: unknown '{where}' key {key!r} "
                f"(expected {', '.join(sorted(_WHEN_KEYS))})"
            )
            continue
        fields[key] = _str_list(file, f"{where}.{key}", vnode, errors)
        if key in ("origin", "project"):
            for cat in fields[key]:
                if cat not in CATEGORIES:
                    errors.append(
                        f"{file}:{_line(vnode)}: unknown category {cat!r} in {where}.{key} "
                        f"(expected one of {', '.join(CATEGORIES)})"
                    )
    return Condition(**fields)


def _compose(file: Path) -> Any:
    import yaml

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {file}: {exc}") from None
    try:
        return yaml.compose(text, Loader=_loader())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {exc}") from None


def _mapping(node: Any) -> dict[str, tuple[Any, Any]]:
    return {str(k.value): (k, v) for k, v in node.value}


def _str_list(file: Path, key: str, node: Any, errors: list[str]) -> tuple[str, ...]:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return (str(node.value),)
    if not isinstance(node, yaml.SequenceNode) or not all(isinstance(v, yaml.ScalarNode) for v in node.value):
        errors.append(f"{file}:{_line(node)}: {key} must be a string or a list of strings")
        return ()
    return tuple(str(v.value) for v in node.value)


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1 if node is not None and getattr(node, "start_mark", None) else 1
