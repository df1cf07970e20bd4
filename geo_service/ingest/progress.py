"""How a long import reports what it is doing: silent for the API and tests, bars for the CLI.

Only progress reporting belongs here; the pipeline calls ``stage`` and ``advance``.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Where a long import reports what it is doing."""

    def stage(self, name: str, total: int | None = None) -> None: ...
    def advance(self, n: int) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    """Silent progress, for the API and tests."""

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class TqdmProgress:
    """A progress bar per stage on the terminal, for the CLI."""

    def __init__(self) -> None:
        self._bar = None

    def stage(self, name: str, total: int | None = None) -> None:
        from tqdm import tqdm

        self.close()
        self._bar = tqdm(
            total=total,
            desc=f"{name:<10}",
            unit=" rows" if total else "",
            leave=True,
            dynamic_ncols=True,
            bar_format=None if total else "{desc}",
        )

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
