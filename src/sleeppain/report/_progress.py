"""The library's one progress bar (plain text on stderr; no dependency).

Used by ``sp.power``, ``CrossLagResult.compare`` and the ``sleeppain`` commands. In a
terminal the bar redraws one line; elsewhere (a notebook, a log file) it prints a new line
at each tenth of the work, so a long run is never silent.

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> bar = ProgressBar(4, "demo", stream=out, min_interval=0.0)
>>> for _ in range(4):
...     bar.update(1)
>>> bar.close()
>>> "4/4" in out.getvalue()
True
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar", "format_duration", "progress_callback", "show_progress"]


def format_duration(seconds: float) -> str:
    """Seconds as a short duration: ``45 s``, ``3.5 min``, ``2.1 h``.

    Examples
    --------
    >>> format_duration(45), format_duration(210), format_duration(7560)
    ('45 s', '3.5 min', '2.1 h')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def show_progress(progress: bool | None, stream: TextIO | None = None) -> bool:
    """Resolve ``progress=None``: on in a terminal, a notebook or an interactive session.

    Examples
    --------
    >>> show_progress(False), show_progress(True)
    (False, True)
    """
    if progress is not None:
        return bool(progress)
    stream = sys.stderr if stream is None else stream
    if getattr(stream, "isatty", lambda: False)():
        return True
    return "ipykernel" in sys.modules or hasattr(sys, "ps1")


class ProgressBar:
    """A progress bar on a text stream: ``label: [#####     ] done/total  elapsed, ~left``.

    Parameters
    ----------
    total : int
        Units of work (studies, bootstrap replications ...).
    label : str
        What is being done.
    enabled : bool
        False draws nothing.
    stream : text stream, optional
        Default: ``sys.stderr``.
    unit : str
        Name of a unit in the line.
    min_interval : float
        Seconds between redraws in a terminal.
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        unit: str = "",
        min_interval: float = 0.2,
    ) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.unit = f" {unit}" if unit else ""
        self.min_interval = min_interval
        self.done = 0
        self.start = time.perf_counter()
        self._last = -float("inf")
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._next_tenth = 1
        self._estimated_total: float | None = None

    def estimate(self, total_seconds: float) -> None:
        """Use an outside estimate of the whole run time (seconds) for the time left.

        The default estimate assumes every unit costs the same; a caller whose units differ
        in cost (``sp.power``: persons x days per cell) passes its own. A line stating the
        estimate is written at once.
        """
        self._estimated_total = float(total_seconds)
        if self.enabled:
            self.stream.write(
                ("\n" if self._tty and self.done else "")
                + f"{self.label}: about {format_duration(total_seconds)} in total "
                "(estimated from the first part)\n"
            )
            self.stream.flush()

    def update(self, k: int = 1) -> None:
        """Record ``k`` more units done and redraw when due."""
        self.done += k
        if not self.enabled:
            return
        now = time.perf_counter()
        if self._tty:
            if now - self._last < self.min_interval and self.done < self.total:
                return
        else:
            tenth = (10 * self.done) // self.total
            if tenth < self._next_tenth and self.done < self.total:
                return
            self._next_tenth = tenth + 1
        self._last = now
        self.stream.write(
            ("\r" if self._tty else "") + self._line(now) + ("" if self._tty else "\n")
        )
        self.stream.flush()

    def _line(self, now: float) -> str:
        elapsed = now - self.start
        frac = min(self.done / self.total, 1.0)
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        if self._estimated_total is not None and frac < 1.0:
            eta = max(self._estimated_total - elapsed, 0.0)
        width = 30
        bar = "#" * round(width * frac)
        return (
            f"{self.label}: [{bar:<{width}}] {self.done}/{self.total}{self.unit} "
            f"{100 * frac:3.0f}%  {elapsed:.1f}s elapsed, ~{eta:.0f}s left "
        )

    def close(self) -> None:
        """End the line (terminal)."""
        if self.enabled and self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_callback(
    progress: bool | Callable[[int, int], None] | None, label: str
) -> Callable[[int, int], None] | None:
    """A ``(done, total)`` callback from a ``progress=`` argument (True, False, None or callable).

    Examples
    --------
    >>> progress_callback(False, "x") is None
    True
    """
    if callable(progress):
        return progress
    if not show_progress(progress):
        return None
    state: dict[str, ProgressBar] = {}

    def report(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = ProgressBar(total, label)
        bar.update(done - bar.done)
        if done >= total:
            bar.close()

    return report
