"""Progress on stderr: the redrawn line of a transfer or an audit, and the views of a wait.

A `Progress` line is redrawn (`\\r`) at most every PROGRESS_REDRAW_S, and only when stderr is a
terminal and the transfer is at least PROGRESS_MIN_BYTES or of unknown size (`_progress`); off a
terminal it is silent, so pipes and logs get the result alone. A wait (`node drain`,
`repair wait`) draws a Progress line on a terminal, and otherwise writes one line each time what it
shows changes (`_WaitView`), so a log shows the pace without a line per poll.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO

from nodectl.cli.common import Clock
from nodectl.cli.formatting import human_bytes


# Transfers at least this large get a progress line when stderr is a terminal.
PROGRESS_MIN_BYTES = 4 * 1024 * 1024
# Least time between two redraws of the progress line.
PROGRESS_REDRAW_S = 0.1


class Progress:
    """A one-line progress renderer (`\\r`-redrawn) for stderr; silent when disabled."""

    def __init__(self, *, label: str, total_bytes: int | None, stream: IO[str], enabled: bool,
                 monotonic_s: Callable[[], float] = time.monotonic) -> None:
        self._label = label
        self._total_bytes = total_bytes
        self._stream = stream
        self._enabled = enabled
        self._monotonic_s = monotonic_s
        self._started_s = monotonic_s()
        self._drawn_s = float("-inf")
        self._done_bytes = 0
        self._detail = ""

    def update(self, done_bytes: int, *, detail: str = "", total_bytes: int | None = None) -> None:
        """Record progress; redraw if enabled and PROGRESS_REDRAW_S passed. `detail` (e.g.
        "2/3 chunks") is shown after the label; `total_bytes`, when given, replaces the total
        (work that grows while it is done)."""
        self._done_bytes = done_bytes
        if total_bytes is not None:
            self._total_bytes = total_bytes
        self._detail = detail
        now_s = self._monotonic_s()
        if self._enabled and now_s - self._drawn_s >= PROGRESS_REDRAW_S:
            self._drawn_s = now_s
            self._stream.write("\r" + self.line(now_s))
            self._stream.flush()

    def line(self, now_s: float) -> str:
        elapsed_s = max(now_s - self._started_s, 1e-9)
        rate = f"{self._done_bytes / elapsed_s / 1e6:.1f} MB/s"
        label = f"{self._label}  {self._detail}" if self._detail else self._label
        if self._total_bytes:
            percent = 100 * self._done_bytes / self._total_bytes
            return (f"{label}  {human_bytes(self._done_bytes)} / "
                    f"{human_bytes(self._total_bytes)}  {percent:3.0f}%  {rate}")
        return f"{label}  {human_bytes(self._done_bytes)}  {rate}"

    def finish(self) -> None:
        if self._enabled and self._drawn_s != float("-inf"):
            self._stream.write("\r" + self.line(self._monotonic_s()) + "\n")
            self._stream.flush()


class _WaitView:
    """What the views of a wait share: a Progress line on a terminal, otherwise a line each time
    what it shows changes."""

    def __init__(self, *, stream: IO[str], terminal: bool, clock: Clock) -> None:
        self._stream = stream
        self._terminal = terminal
        self._clock = clock
        self._progress: Progress | None = None
        self._last_shown: tuple[object, ...] = ()

    def _line_if_changed(self, shown: tuple[object, ...], line: Callable[[], str]) -> None:
        if shown != self._last_shown:
            self._stream.write(line() + "\n")
            self._stream.flush()
            self._last_shown = shown

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.finish()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _progress(label: str, total_bytes: int | None) -> Progress:
    big = total_bytes is None or total_bytes >= PROGRESS_MIN_BYTES
    return Progress(label=label, total_bytes=total_bytes, stream=sys.stderr,
                    enabled=big and _stderr_is_terminal())
