"""Report formats: an explicit registry from format name to writer class.

Writers are imported only when used, so a scan that prints JSON never imports rich.
"""

from __future__ import annotations

import importlib
from typing import Protocol, TextIO

from codeguard.model import ScanResult


class Report(Protocol):
    """A report writer: renders a scan result onto a text stream."""

    def write(self, result: ScanResult, out: TextIO, color: bool) -> None: ...


# format name -> (module, class)
FORMATS: dict[str, tuple[str, str]] = {
    "text": ("codeguard.report.text", "TextReport"),
    "json": ("codeguard.report.json_report", "JsonReport"),
    "sarif": ("codeguard.report.sarif", "SarifReport"),
    "github": ("codeguard.report.github", "GithubReport"),
    "html": ("codeguard.report.html", "HtmlReport"),
}


def get_report(name: str) -> Report:
    """The writer of a registered format."""
    module, cls = FORMATS[name]
    return getattr(importlib.import_module(module), cls)()  # type: ignore[no-any-return]
