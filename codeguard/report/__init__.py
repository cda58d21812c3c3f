"""Report formats: an explicit registry from format name to writer."""

from __future__ import annotations

from typing import Protocol, TextIO

from codeguard.model import ScanResult
from codeguard.report.json_report import JsonReport
from codeguard.report.text import TextReport


class Report(Protocol):
    """A report writer: renders a scan result onto a text stream."""

    def write(self, result: ScanResult, out: TextIO, color: bool) -> None: ...


FORMATS: dict[str, Report] = {
    "text": TextReport(),
    "json": JsonReport(),
}
