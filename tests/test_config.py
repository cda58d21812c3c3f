"""[tool.codeguard] / .codeguard.toml: found by walking up, validated, overridden by flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeguard.cli import main
from codeguard.config import find_config, load_config
from codeguard.errors import ConfigError


def test_found_by_walking_up_and_paths_resolved(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.codeguard]\nindex = "idx"\nfail-on = "error"\nexclude = ["gen/"]\n'
    )
    sub = tmp_path / "src" / "pkg"
    sub.mkdir(parents=True)
    cfg = load_config(sub)
    assert cfg.path == tmp_path / "pyproject.toml"
    assert cfg.get("index") == str((tmp_path / "idx").resolve())
    assert cfg.get("fail-on") == "error" and cfg.get("exclude") == ["gen/"]


def test_pyproject_without_codeguard_table_is_not_config(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(tmp_path) is None


def test_unknown_keys_and_wrong_types_name_file_and_key(tmp_path: Path) -> None:
    f = tmp_path / ".codeguard.toml"
    f.write_text('fail_on = "error"\nmax-file-size = "big"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path)
    assert f"{f}: unknown key 'fail_on'" in str(exc.value)
    assert f"{f}: max-file-size must be a int, not str" in str(exc.value)


def test_malformed_toml_is_a_config_error_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / ".codeguard.toml").write_text("fail-on = \n")
    (tmp_path / "a.py").write_text("x = 1\n")
    res = CliRunner().invoke(main, ["scan", str(tmp_path), "--no-index"])
    assert res.exit_code == 2
    assert "invalid TOML" in res.stderr and "Traceback" not in res.stderr


def test_flags_override_config(tmp_path: Path) -> None:
    (tmp_path / ".codeguard.toml").write_text('format = "json"\nproject-license = "MIT"\n')
    (tmp_path / "a.py").write_text("x = 1\n")
    res = CliRunner().invoke(main, ["scan", str(tmp_path), "--no-index"])
    assert json.loads(res.stdout)["project"]["license"] == "MIT"
    res = CliRunner().invoke(
        main, ["scan", str(tmp_path), "--no-index", "--format", "text", "--project-license", "Apache-2.0"]
    )
    assert "Project license: Apache-2.0" in res.stdout
