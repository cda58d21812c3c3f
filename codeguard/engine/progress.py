"""How the engine reports long work; the CLI draws it with rich, tests pass nothing."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives the size of a stage and its advances."""

    def start(self, total: int, label: str) -> None: ...
    def advance(self, n: int = 1) -> None: ...


class NoProgress:
    """Progress that shows nothing."""

    def start(self, total: int, label: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass
