"""--format sarif through the real CLI: schema-valid SARIF 2.1.0 that GitHub code scanning reads,
every policy rule listed, repository-relative locations, fingerprints that ignore line shifts."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from conftest import with_allow_comments

from codeguard.licenses.policy import load_policy

SCHEMA = Path("/work/shared/data/sarif/sarif-schema-2.1.0.json")
# RFC 3986 URI-reference, checked strictly (jsonschema checks no "uri" formats without optional
# packages): an optional scheme, then only unreserved, sub-delims, ":", "@", "/" and
# percent-encoded bytes, an optional ?query and #fragment; a relative reference's first segment
# holds no ":" (it would read as a scheme).
_PCHARS = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*"
_URI_REF = re.compile(
    rf"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?{_PCHARS}(?:\?(?:{_PCHARS}|\?)*)?(?:#(?:{_PCHARS}|\?)*)?$"
)


def is_uri_reference(value: object) -> bool:
    if not isinstance(value, str) or not _URI_REF.match(value):
        return False
    scheme = re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", value)
    return bool(scheme) or ":" not in value.split("/", 1)[0]


def schema_errors(log: dict[str, Any]) -> list[str]:
    """Errors of ``log`` against the official SARIF 2.1.0 schema, URI formats included."""
    if not SCHEMA.is_file():
        pytest.skip(f"SARIF schema not found at {SCHEMA} (shared test data is not checked out)")
    jsonschema = pytest.importorskip("jsonschema")
    checker = jsonschema.FormatChecker()
    checker.checks("uri")(lambda v: is_uri_reference(v) and ":" in str(v))
    checker.checks("uri-reference")(is_uri_reference)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=checker)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    return [f"{list(e.path)}: {e.message}" for e in errors[:10]]


def sarif(run_cli: Callable[..., Any], path: Path, index: Path) -> dict[str, Any]:
    code, out, err = run_cli("scan", path, "--index", index, "--format", "sarif")
    assert code == 1, err  # an error-level finding
    return json.loads(out)  # type: ignore[no-any-return]


def by_chunk(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["properties"]["chunk"]["name"]: r for r in log["runs"][0]["results"] if "chunk" in r["properties"]
    }


def all_locations(log: dict[str, Any]) -> Iterator[dict[str, Any]]:
    run = log["runs"][0]
    for r in run["results"]:
        yield from r["locations"]
        yield from r.get("relatedLocations", [])
    for inv in run["invocations"]:
        for n in inv["toolExecutionNotifications"]:
            yield from n.get("locations", [])


@pytest.fixture(scope="module")
def log(scenario: tuple[Path, Path], run_cli: Callable[..., Any]) -> dict[str, Any]:
    return sarif(run_cli, *scenario)


def test_sarif_validates_against_the_official_schema(log: dict[str, Any]) -> None:
    errors = schema_errors(log)
    assert not errors, "\n".join(errors)
    assert log["version"] == "2.1.0"


def test_the_uri_check_rejects_what_rfc_3986_forbids() -> None:
    assert is_uri_reference("src/my%20dir%20%231/100%25%20%C3%BCn%C3%AF.py")
    assert is_uri_reference("file:///tmp/x/")
    for bad in ("src/my dir/a.py", "src/a#b#c.py", "src/100%.py", "src/ünï.py", "src\\x.py"):
        assert not is_uri_reference(bad), bad


def test_artifact_uris_are_percent_encoded(
    scenario: tuple[Path, Path], tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    """SARIF 2.1.0 §3.10: artifact locations are URI references, so a file named with spaces,
    ``#``, ``%``, ``:`` or non-ASCII letters is percent-encoded (UTF-8), and decodes back to its
    path."""
    project, index = scenario
    odd = shutil.copytree(project, tmp_path / "odd")
    name = "src/app/my dir #1/100% ünï:x.py"
    (odd / name).parent.mkdir()
    (odd / "src/app/text.py").rename(odd / name)
    log = sarif(run_cli, odd, index)
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for loc in all_locations(log)}
    encoded = "src/app/my%20dir%20%231/100%25%20%C3%BCn%C3%AF%3Ax.py"
    assert encoded in uris
    for uri in uris:
        assert is_uri_reference(uri), uri
        assert (odd / unquote(uri)).is_file(), uri
    errors = schema_errors(log)
    assert not errors, "\n".join(errors)


def test_every_policy_rule_is_described_and_every_result_points_at_its_rule(log: dict[str, Any]) -> None:
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "codeguard" and driver["version"]
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert {r.id for r in load_policy().rule_catalog()} | {"CG-COPY"} <= set(ids)
    for rule in rules:
        assert rule["name"] and rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert "{" not in rule["fullDescription"]["text"]  # policy placeholders are spelled out
    lic001 = rules[ids.index("CG-LIC-001")]
    assert lic001["defaultConfiguration"]["level"] == "error"
    assert lic001["name"] == "strong-copyleft-into-non-copyleft"
    assert run["results"]
    for res in run["results"]:
        assert res["ruleId"] in ids
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]


def test_results_carry_level_provenance_and_verdict(log: dict[str, Any], scenario: tuple[Path, Path]) -> None:
    found = by_chunk(log)
    got = {name: (r["ruleId"], r["level"], r["properties"]["policy_level"]) for name, r in found.items()}
    assert got == {
        "merge_intervals": ("CG-LIC-001", "error", "error"),
        "edit_distance": ("CG-LIC-005", "warning", "warning"),
        "topo_sort": ("CG-LIC-008", "note", "note"),
        # allow-listed origin: no policy rule, kept as a note for provenance
        "chunked": ("CG-COPY", "note", "none"),
    }
    gpl = found["merge_intervals"]
    text = gpl["message"]["text"]
    assert "exact copy of gpl-lib:intervals.py:4-19 (function merge_intervals)" in text
    assert "license GPL-3.0-only" in text
    assert "GPL-3.0-only code copied into this MIT project" in text
    region = gpl["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["endLine"]) == (11, 26)
    origin = gpl["properties"]["origin"]
    assert (origin["source"], origin["path"], origin["start_line"], origin["end_line"]) == (
        "gpl-lib",
        "intervals.py",
        4,
        19,
    )
    assert origin["license"] == "GPL-3.0-only"
    assert gpl["properties"]["match_type"] == "exact"
    assert gpl["properties"]["fragments"] == [
        {"exact": True, "lines": [11, 26], "origin_lines": [4, 19], "tokens": 119}
    ]
    assert found["edit_distance"]["properties"]["match_type"] == "renamed"
    assert (
        "Allowed by the policy: LicenseRef-mycompany-internal is allow-listed"
        in found["chunked"]["message"]["text"]
    )
    notices = [r for r in log["runs"][0]["results"] if r["properties"].get("kind") == "license-notice"]
    assert [
        (r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in notices
    ] == [("CG-LIC-001", "error", "src/app/vendored.py")]
    inv = log["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is True
    assert any("src/app/__init__.py" in n["message"]["text"] for n in inv["toolExecutionNotifications"])


def test_locations_are_repository_relative_and_never_the_origin(
    log: dict[str, Any], scenario: tuple[Path, Path]
) -> None:
    project, _ = scenario
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    locations = list(all_locations(log))
    assert len(locations) >= 10
    for loc in locations:
        art = loc["physicalLocation"]["artifactLocation"]
        assert art["uriBaseId"] == "%SRCROOT%"
        uri = art["uri"]
        assert ":" not in uri and not uri.startswith("/") and uri.startswith("src/app/"), uri
        assert (project / uri).is_file()
    # the origin (another repository) appears only in messages and properties
    assert "https://" not in json.dumps(locations)


def test_paths_are_relative_to_the_git_work_tree_when_a_subdirectory_is_scanned(
    scenario: tuple[Path, Path],
    tmp_path: Path,
    run_cli: Callable[..., Any],
    make_repo: Callable[[Path], Path],
) -> None:
    project, index = scenario
    repo = shutil.copytree(project, tmp_path / "repo")
    make_repo(repo)
    log = sarif(run_cli, repo / "src", index)
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for loc in all_locations(log)}
    assert "src/app/core.py" in uris
    assert all(u.startswith("src/app/") for u in uris)


def test_fingerprints_survive_lines_inserted_above_the_copy(
    log: dict[str, Any], scenario: tuple[Path, Path], tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    project, index = scenario
    moved = shutil.copytree(project, tmp_path / "moved")
    core = moved / "src" / "app" / "core.py"
    head, rest = core.read_text().split("\n", 1)
    core.write_text(head + "\n" + "\n" * 5 + "# a comment above the copy\n" + rest)
    before, after = by_chunk(log), by_chunk(sarif(run_cli, moved, index))
    old, new = before["merge_intervals"], after["merge_intervals"]
    start = lambda r: r["locations"][0]["physicalLocation"]["region"]["startLine"]  # noqa: E731
    assert start(new) == start(old) + 6
    assert new["partialFingerprints"]["codeguard/v1"] == old["partialFingerprints"]["codeguard/v1"]
    assert new["fingerprints"] == old["fingerprints"]
    assert {n: r["partialFingerprints"] for n, r in before.items()} == {
        n: r["partialFingerprints"] for n, r in after.items()
    }
    prints = [r["partialFingerprints"]["codeguard/v1"] for r in log["runs"][0]["results"]]
    assert len(prints) == len(set(prints))


def test_output_is_stable_json_with_sorted_keys(
    scenario: tuple[Path, Path], run_cli: Callable[..., Any]
) -> None:
    project, index = scenario
    _, out, _ = run_cli("scan", project, "--index", index, "--format", "sarif")
    data = json.loads(out)
    assert out == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_suppressed_findings_are_left_out_and_reasonless_allows_are_reported(
    scenario: tuple[Path, Path], tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    project, index = scenario
    log = sarif(run_cli, with_allow_comments(project, tmp_path / "allowed"), index)
    run = log["runs"][0]
    assert set(by_chunk(log)) == {"merge_intervals", "topo_sort", "chunked"}
    assert run["properties"]["suppressed"] == 1
    notes = [
        n for n in run["invocations"][0]["toolExecutionNotifications"]
        if n["descriptor"]["id"] == "allow-without-reason"
    ]  # fmt: skip
    assert len(notes) == 1 and notes[0]["level"] == "warning"
    region = notes[0]["locations"][0]["physicalLocation"]
    assert region["artifactLocation"]["uri"] == "src/app/graph.py" and region["region"]["startLine"] == 4
    assert not schema_errors(log)


@pytest.fixture(scope="session")
def scenario(report_scenario: tuple[Path, Path]) -> tuple[Path, Path]:
    return report_scenario
