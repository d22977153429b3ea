"""A byte-counting progress bar (rich, on stderr) for downloads, or a silent counter."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from node.ipfs.store import ProgressFn


class ByteProgress:
    """Total bytes of a fetch; ``file(size)`` yields a callback that a backend calls with
    byte counts (estimates are clamped to the file and settled when it ends)."""

    def __init__(self, total: int, label: str, *, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self._bar: Progress | None = None
        self._task = None
        if enabled and total > 0:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> ByteProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done)

    @contextlib.contextmanager
    def file(self, size: int) -> Iterator[ProgressFn]:
        seen = 0

        def on_bytes(nbytes: int) -> None:
            nonlocal seen
            step = max(0, min(nbytes, size - seen))
            seen += step
            self._advance(step)

        try:
            yield on_bytes
        except BaseException:
            self._advance(-seen)  # the file did not arrive
            raise
        else:
            self._advance(size - seen)

    def rewind(self, size: int) -> None:
        """A finished file was rejected: take its bytes back off the bar."""
        self._advance(-size)
