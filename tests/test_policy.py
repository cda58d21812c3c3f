"""The default license policy, data-driven, and policy-file validation errors."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from codeguard.errors import ConfigError
from codeguard.licenses.policy import load_exceptions, load_policy

CASES = yaml.safe_load((Path(__file__).parent / "data" / "policy_cases.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['origin']}->{c['project']}")
def test_default_policy(case: dict) -> None:
    verdict = load_policy().decide(case["origin"], case["project"])
    assert (verdict.level, verdict.rule_id) == (case["level"], case["rule"])


def test_reason_names_both_licenses() -> None:
    v = load_policy().decide("GPL-3.0-only", "MIT")
    assert v.reason == "GPL-3.0-only code copied into this MIT project: strong copyleft into permissive"
    assert v.help


def test_allow_listed_source_is_never_a_violation() -> None:
    policy = load_policy()
    policy.allow_sources = ("internal-*",)
    assert policy.decide("GPL-3.0-only", "MIT", source="internal-core").level == "none"
    assert policy.decide("GPL-3.0-only", "MIT", source="other").level == "error"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return p


def test_policy_errors_name_file_key_and_line(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "version: 1\n"
        "rules:\n"
        "  - id: X-1\n"
        "    levl: error\n"
        "    when: {origin: [strong-copyleft]}\n"
        "  - id: X-2\n"
        "    level: fatal\n"
        "    when: {origin: [copyleftish]}\n"
        "colour: red\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_policy(p)
    msg = str(exc.value)
    assert f"{p}:4: unknown rule key 'levl'" in msg
    assert f"{p}:3: rule is missing 'level'" in msg
    assert f"{p}:7: level 'fatal' is not one of" in msg
    assert "unknown category 'copyleftish'" in msg
    assert f"{p}:9: unknown key 'colour'" in msg


def test_policy_with_wrong_types(tmp_path: Path) -> None:
    p = _write(tmp_path, "rules:\n  - id: [a, b]\n    level: error\n    when: [1]\n")
    with pytest.raises(ConfigError) as exc:
        load_policy(p)
    assert f"{p}:2: rule key 'id' must be a string" in str(exc.value)
    assert f"{p}:4: 'when' must be a mapping" in str(exc.value)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_policy(_write(tmp_path, "rules: [\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_policy(tmp_path / "nope.yaml")


def test_rule_exceptions_skip_to_the_next_rule(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "rules:\n"
        "  - id: ORG-1\n    level: error\n    when: {origin: [strong-copyleft]}\n"
        "    exceptions:\n      - {origin_license: ['GPL-2.0-or-later'], project_license: ['GPL-3.0-*']}\n"
        "  - id: ORG-2\n    level: note\n    when: {origin: [strong-copyleft]}\n",
    )
    policy = load_policy(p)
    assert policy.decide("GPL-2.0-or-later", "GPL-3.0-only").rule_id == "ORG-2"
    assert policy.decide("GPL-2.0-or-later", "MIT").rule_id == "ORG-1"
    bad = _write(
        tmp_path, "rules:\n  - id: X\n    level: note\n    when: {}\n    exceptions: {origin: [x]}\n"
    )
    with pytest.raises(ConfigError, match=r"policy.yaml:5: 'exceptions' must be a list"):
        load_policy(bad)


def test_custom_policy_changes_the_verdict(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "rules:\n  - id: ORG-1\n    name: no-lgpl\n    level: error\n"
        "    message: '{origin} is banned here'\n    when: {origin_license: ['LGPL-*']}\n",
    )
    v = load_policy(p).decide("LGPL-2.1-only", "MIT")
    assert (v.level, v.rule_id, v.reason) == ("error", "ORG-1", "LGPL-2.1-only is banned here")


SPDX_EXCEPTIONS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "spdx-license-list" / "exceptions.json"
)


def test_every_spdx_exception_says_what_it_grants() -> None:
    if not SPDX_EXCEPTIONS.is_file():
        pytest.skip(f"the SPDX license list is not at {SPDX_EXCEPTIONS} (shared data not checked out)")
    listed = {e["licenseExceptionId"] for e in json.loads(SPDX_EXCEPTIONS.read_text())["exceptions"]}
    table = load_exceptions()
    assert {e.id for e in table.values()} == listed
    # ScanCode's own ids for the same exceptions are judged the same way
    assert table["LicenseRef-scancode-oracle-openjdk-exception-2.0"].id == "Classpath-exception-2.0"
    assert all(
        e.grants in ("linking", "runtime", "output", "font", "other") and e.reason for e in table.values()
    )
    # the ones that cover a copy of the file itself are few, and each says why
    assert {e.id for e in table.values() if e.covers_copy} == {
        "Autoconf-exception-generic",
        "Autoconf-exception-generic-3.0",
        "Bison-exception-1.24",
        "Bison-exception-2.2",
        "GNOME-examples-exception",
        "Libtool-exception",
    }


@pytest.mark.parametrize(
    ("origin", "says"),
    [
        (
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "the Classpath exception covers linking, not copied source (judged as GPL-2.0-only)",
        ),
        (
            "GPL-3.0-or-later WITH GCC-exception-3.1",
            "the GCC runtime library exception covers the compiled runtime, not copied source",
        ),
        ("GPL-3.0-or-later WITH Autoconf-exception-3.0", "the Autoconf exception covers generated output"),
        ("GPL-2.0-or-later WITH Font-exception-2.0", "the Font exception covers fonts embedded in documents"),
        (
            "GPL-3.0-or-later WITH Bison-exception-2.2",
            "the Bison exception covers this copy: a work containing",
        ),
        (
            "GPL-2.0-or-later WITH GPL-CC-1.0",
            "the GPL Cooperation Commitment does not cover copied source (adds",
        ),
        (
            "GPL-2.0-only WITH LicenseRef-made-up-exception",
            "unknown license exception LicenseRef-made-up-exception: judged as GPL-2.0-only alone",
        ),
    ],
)
def test_the_reason_says_what_the_exception_covers(origin: str, says: str) -> None:
    assert says in load_policy().decide(origin, "MIT").reason


def test_a_category_given_for_an_exception_key_overrides_the_table(tmp_path: Path) -> None:
    cats = tmp_path / "categories.yaml"
    cats.write_text("categories:\n  permissive: ['GPL-2.0-only WITH Classpath-exception-2.0']\n")
    v = load_policy(categories=str(cats)).decide("GPL-2.0-only WITH Classpath-exception-2.0", "MIT")
    assert (v.level, v.rule_id) == ("note", "CG-LIC-008") and "covers" not in v.reason


def test_invalid_exceptions_file_names_every_problem(tmp_path: Path) -> None:
    p = tmp_path / "exceptions.yaml"
    p.write_text(
        "grants: {linking: linking, runtime: r, output: o, font: f}\n"
        "exceptions:\n"
        "  A-exception: {name: A, grants: copying, reason: x}\n"
        "  B-exception: {name: B, grants: linking, covers_copy: maybe, colour: red}\n"
        "  C-exception: [1]\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_exceptions(str(p))
    msg = str(exc.value)
    assert "grant 'other' is not described under 'grants'" in msg
    assert f"{p}:3: exception A-exception: grants 'copying' is not one of" in msg
    assert f"{p}:4: exception B-exception: unknown key 'colour'" in msg
    assert "B-exception: missing 'reason'" in msg and "B-exception: covers_copy must be true or false" in msg
    assert f"{p}:5: exception C-exception: expected a mapping" in msg
    p.write_text("exceptions: []\n")
    with pytest.raises(ConfigError, match="expected 'grants' and 'exceptions' mappings"):
        load_exceptions(str(p))


# -- the policy's SPDX parsing: a table of only the symbols an expression names ------------------
@functools.cache
def _whole_spdx_licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _full_and_small(expression: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(repr of the parse, str, validation errors, invalid symbols, normalized expression) with
    license-expression's whole SPDX licensing and with the one built for this expression."""
    from codeguard.licenses.spdx import spdx_licensing_for

    def outcome(licensing: Any) -> tuple[str, ...]:
        try:
            parsed = licensing.parse(expression, validate=False)
            shown = (repr(parsed), str(parsed))
        except Exception as exc:  # noqa: BLE001 - the error itself must be the same
            shown = (type(exc).__name__, str(exc))
        info = licensing.validate(expression)
        return (
            *shown,
            repr(info.errors),
            repr(sorted(info.invalid_symbols)),
            str(info.normalized_expression),
        )

    return outcome(_whole_spdx_licensing()), outcome(spdx_licensing_for(expression))


def _names() -> list[str]:
    from license_expression import get_license_index

    out = []
    for lic in get_license_index():
        if lic.get("spdx_license_key"):
            out += [lic["spdx_license_key"], *(lic.get("other_spdx_license_keys") or [])]
    return out


def test_every_spdx_name_parses_as_with_the_whole_table() -> None:
    """Each key and alias alone (as written, lower-cased, or with a suffix in parentheses), as
    the whole table parses them (aliases with spaces among them)."""
    names = _names()
    assert len(names) > 2000 and any(" " in n for n in names)
    for i, name in enumerate(names):
        text = (name, name.lower(), f"({name}+)")[i % 3]
        full, small = _full_and_small(text)
        assert small == full, text


def test_expressions_parse_as_with_the_whole_table() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    names = _names()
    word = st.one_of(
        st.sampled_from(names),
        st.sampled_from(names).map(str.lower),
        st.sampled_from(["foo", "bar-1.0", "BSD 3-Clause", "gpl", "2.0", "mit-0", "Apache"]),
    )
    op = st.sampled_from([" AND ", " or ", " WITH ", " with ", "  OR  ", " and "])

    @st.composite
    def expression(draw: st.DrawFn) -> str:
        parts = [draw(word)]
        for _ in range(draw(st.integers(0, 3))):
            parts += [draw(op), draw(word)]
        text = "".join(parts)
        return f"({text})" if draw(st.booleans()) else text

    @settings(max_examples=400, deadline=None)
    @given(expression())
    def check(text: str) -> None:
        full, small = _full_and_small(text)
        assert small == full, text

    check()


@pytest.fixture
def expression_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The policy's parsed-expression cache in a temp file, this process's memory of it empty;
    ``expression_cache()`` starts again as a new process would (same file)."""
    from codeguard.licenses import policy as policy_module
    from codeguard.licenses.cache import StampedCache

    path = tmp_path / "expressions.json"

    def fresh() -> StampedCache:
        store = StampedCache("expressions.json", path=path)
        monkeypatch.setattr(policy_module, "_PARSED", {})
        monkeypatch.setattr(policy_module, "_expression_store", lambda: store)
        return store

    fresh()
    return fresh


def test_the_default_policy_decides_as_with_the_whole_table(
    monkeypatch: pytest.MonkeyPatch, expression_cache: Any
) -> None:
    from codeguard.licenses import policy as policy_module
    from codeguard.licenses.cache import StampedCache

    pairs = [(c["origin"], c["project"]) for c in CASES]
    small = [load_policy().decide(o, p) for o, p in pairs]
    whole = _whole_spdx_licensing()
    with monkeypatch.context() as m:
        m.setattr(policy_module, "_licensing", lambda _expression: whole)
        m.setattr(policy_module, "_PARSED", {})
        m.setattr(
            policy_module, "_expression_store", lambda: StampedCache("x", path=Path(os.devnull) / "x")
        )  # uncached
        assert [load_policy().decide(o, p) for o, p in pairs] == small


def test_parsed_expressions_are_cached_across_processes(
    monkeypatch: pytest.MonkeyPatch, expression_cache: Any
) -> None:
    from codeguard.licenses import policy as policy_module

    pairs = [(c["origin"], c["project"]) for c in CASES]
    first = expression_cache()
    verdicts = [load_policy().decide(o, p) for o, p in pairs]
    distinct = {e for pair in pairs for e in pair if e and e.strip()}
    assert (first.hits, first.misses) == (0, len(distinct))
    again = expression_cache()  # a new process: the file answers, nothing is parsed

    def refuse(expression: str) -> Any:
        raise AssertionError(f"parsed {expression!r} again")

    monkeypatch.setattr(policy_module, "_licensing", refuse)
    assert [load_policy().decide(o, p) for o, p in pairs] == verdicts
    assert (again.hits, again.misses) == (len(distinct), 0)


@pytest.mark.parametrize(
    "stored",
    [
        "not json {",
        '{"format": 1, "detector": "STAMP", "entries": {"GPL-2.0-only OR MIT": {"tree": {"op": "NOT"}}}}',
        '{"format": 1, "detector": "STAMP", "entries": {"GPL-2.0-only OR MIT": {"tree": [1]}}}',
        '{"format": 1, "detector": "STAMP", "entries": {"GPL-2.0-only OR MIT": "MIT"}}',
    ],
)
def test_a_corrupt_expression_cache_is_ignored_and_rewritten(expression_cache: Any, stored: str) -> None:
    from codeguard.licenses.policy import parse_expression

    store = expression_cache()
    store.path.write_text(stored.replace("STAMP", store.stamp))
    store = expression_cache()
    tree = parse_expression("GPL-2.0-only OR MIT")
    assert tree is not None and tree.op == "OR" and [a.key for a in tree.args] == ["GPL-2.0-only", "MIT"]
    assert store.misses == 1
    data = json.loads(store.path.read_text())
    assert data["entries"]["GPL-2.0-only OR MIT"] == {"tree": {"op": "OR", "args": ["GPL-2.0-only", "MIT"]}}


# -- the loaded policy, cached per user by the bytes of its files ----------------------------------
def test_a_cached_policy_is_the_policy_its_files_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeguard.licenses import policy as policy_module

    monkeypatch.setenv("CODEGUARD_CACHE_DIR", str(tmp_path / "cache"))
    read = load_policy()  # from the YAML files, stored
    assert (tmp_path / "cache" / "licenses" / policy_module.POLICIES_FILE).is_file()

    def refuse(*_: Any) -> Any:
        raise AssertionError("the YAML files were read again")

    with monkeypatch.context() as m:
        m.setattr(policy_module, "_read_policy", refuse)
        cached = load_policy()
    assert cached == read and cached is not read
    assert cached.decide("GPL-3.0-only", "MIT") == read.decide("GPL-3.0-only", "MIT")
    # Another policy file, then the same file changed: each is read, never a stale copy.
    own = _write(tmp_path, "rules:\n  - id: X1\n    level: warning\n    when: {origin: [strong-copyleft]}\n")
    assert [r.id for r in load_policy(own).rules] == ["X1"]
    own.write_text("rules:\n  - id: X2\n    level: error\n    when: {origin: [strong-copyleft]}\n")
    assert [(r.id, r.level) for r in load_policy(own).rules] == [("X2", "error")]


def test_an_invalid_policy_is_reported_every_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGUARD_CACHE_DIR", str(tmp_path / "cache"))
    bad = _write(tmp_path, "rules:\n  - id: X1\n    level: fatal\n    when: {origin: [strong-copyleft]}\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="level 'fatal'"):
            load_policy(bad)


@pytest.mark.parametrize(
    "damage", ["{not json", '{"format": 1, "detector": "S", "entries": {"K": {"rules": 3}}}']
)
def test_a_corrupt_policy_cache_is_ignored_and_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    from codeguard.licenses import policy as policy_module

    monkeypatch.setenv("CODEGUARD_CACHE_DIR", str(tmp_path / "cache"))
    read = load_policy()
    cache = tmp_path / "cache" / "licenses" / policy_module.POLICIES_FILE
    data = json.loads(cache.read_text())
    [key] = data["entries"]
    cache.write_text(damage.replace('"S"', json.dumps(data["detector"])).replace('"K"', json.dumps(key)))
    assert load_policy() == read
    assert json.loads(cache.read_text())["entries"][key]["rules"] == data["entries"][key]["rules"]


def test_the_policy_cache_keeps_a_few_policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeguard.licenses import policy as policy_module

    monkeypatch.setenv("CODEGUARD_CACHE_DIR", str(tmp_path / "cache"))
    for i in range(policy_module.MAX_POLICIES + 3):
        own = _write(
            tmp_path, f"rules:\n  - id: X{i}\n    level: note\n    when: {{origin: [strong-copyleft]}}\n"
        )
        assert [r.id for r in load_policy(own).rules] == [f"X{i}"]
    cache = tmp_path / "cache" / "licenses" / policy_module.POLICIES_FILE
    entries = json.loads(cache.read_text())["entries"]
    assert len(entries) == policy_module.MAX_POLICIES
    assert [e["rules"][0]["id"] for e in entries.values()][-1] == f"X{policy_module.MAX_POLICIES + 2}"
