"""Configuration from ``[tool.codeguard]`` in pyproject.toml or a ``.codeguard.toml``, found by
walking up from the scanned path to the project root. Flags override it; unknown keys and
wrong types are errors that name the file and the key."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeguard.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# key -> (type, is a path relative to the config file)
KEYS: dict[str, tuple[type, bool]] = {
    "index": (str, True),
    "policy": (str, True),
    "project-license": (str, False),
    "fail-on": (str, False),
    "format": (str, False),
    "exclude": (list, False),
    "max-file-size": (int, False),
    "baseline": (str, True),
    "own-corpus": (list, False),
}


@dataclass(frozen=True)
class Config:
    """Settings found in a configuration file (empty when there is none)."""

    path: Path | None
    values: dict[str, Any]

    def get(self, key: str) -> Any:
        return self.values.get(key)


# Where per-user caches live (the license rule index and license results, the embedding cache).
CACHE_ENV = "CODEGUARD_CACHE_DIR"


def cache_dir() -> Path:
    """``$CODEGUARD_CACHE_DIR``, else the per-user cache directory of codeguard (platformdirs)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("codeguard"))


def find_config(start: Path) -> Path | None:
    """The nearest .codeguard.toml or pyproject.toml with [tool.codeguard], up to the git root.

    A pyproject.toml that mentions codeguard but cannot be parsed is an error, not skipped:
    its settings (``fail-on``...) would silently not apply."""
    here = (start if start.is_dir() else start.parent).resolve()
    for d in [here, *here.parents]:
        own = d / ".codeguard.toml"
        if own.is_file():
            return own
        py = d / "pyproject.toml"
        if py.is_file() and _has_codeguard_table(py):
            return py
        if (d / ".git").exists():
            return None
    return None


def _has_codeguard_table(py: Path) -> bool:
    try:
        raw = py.read_bytes()
    except OSError:
        return False
    try:
        tool = tomllib.loads(raw.decode("utf-8")).get("tool", {})
        return isinstance(tool, dict) and "codeguard" in tool
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        if b"codeguard" not in raw:
            return False  # not ours: another tool's broken file
        what = "not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "invalid TOML"
        raise ConfigError(
            f"{py}: {what} ({exc}); fix it so that its [tool.codeguard] settings apply."
        ) from None


def load_config(start: Path) -> Config:
    """Validated configuration for a scan of ``start``."""
    path = find_config(start)
    if path is None:
        return Config(None, {})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from None
    table = data if path.name == ".codeguard.toml" else data.get("tool", {}).get("codeguard", {})
    where = "" if path.name == ".codeguard.toml" else "[tool.codeguard] "
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where}must be a table")
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            errors.append(f"{path}: {where}unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
            continue
        typ, is_path = KEYS[key]
        if not isinstance(value, typ) or isinstance(value, bool):
            errors.append(f"{path}: {where}{key} must be a {typ.__name__}, not {type(value).__name__}")
            continue
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            errors.append(f"{path}: {where}{key} must be a list of strings")
            continue
        values[key] = str((path.parent / str(value)).resolve()) if is_path else value
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
    return Config(path, values)
