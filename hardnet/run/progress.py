"""A progress bar over benchmark cells, with an ETA, and one log line per finished cell.

`Progress(total)` prints to stderr; on a terminal the bar redraws in place (`\\r`), elsewhere (CI
logs, files) it prints nothing but the per-cell lines (`line`), which go to stdout. The ETA is
`elapsed / done × remaining` over the cells of this run (cells differ a lot in cost, so it is a
rough guide early on).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Counts finished cells; `bar()` is the text of the bar, `line()` a cell's log line."""

    def __init__(self, total: int, stream: TextIO | None = None, started: float | None = None):
        self.total = int(total)
        self.done = 0
        self.stream = sys.stderr if stream is None else stream
        self.started = time.time() if started is None else started
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())

    def elapsed(self) -> float:
        return time.time() - self.started

    def eta(self) -> float | None:
        """Seconds left at the mean pace so far (None before the first cell)."""
        if self.done == 0:
            return None
        return self.elapsed() / self.done * (self.total - self.done)

    def bar(self) -> str:
        filled = int(WIDTH * self.done / self.total) if self.total else WIDTH
        eta = self.eta()
        return (
            f"[{'#' * filled}{'.' * (WIDTH - filled)}] {self.done}/{self.total} cells, "
            f"{_clock(self.elapsed())} elapsed, ETA {'?' if eta is None else _clock(eta)}"
        )

    def advance(self, text: str, out: TextIO | None = None) -> None:
        """One more cell finished: clear the bar (on a terminal), print the cell's `line(text)`
        to `out` (stdout), then redraw the bar below it."""
        self.done += 1
        if self.interactive:
            self.stream.write("\r\033[K")
            self.stream.flush()
        print(self.line(text), file=sys.stdout if out is None else out, flush=True)
        self.draw()

    def draw(self) -> None:
        if self.interactive:
            end = "\n" if self.done >= self.total else ""
            self.stream.write("\r" + self.bar() + end)
            self.stream.flush()

    def line(self, text: str) -> str:
        """`[done/total] text | elapsed, ETA` (the per-cell log line)."""
        eta = self.eta()
        return (
            f"[{self.done}/{self.total}] {text} | {self.elapsed():.0f}s, "
            f"ETA {'?' if eta is None else f'{eta:.0f}s'}"
        )
