"""Progress on stderr, for a fit with ``verbose``: a tqdm bar redrawn in place on a terminal or in a
notebook, and into a log (stderr redirected to a file or a pipe) plain lines, the first step's, one
every :data:`LOG_INTERVAL` seconds and the last, where a bar's carriage returns would pile up on one
line."""

from __future__ import annotations

import sys
import time

LOG_INTERVAL = 30.0  # seconds between progress lines when stderr is a file or a pipe, not a terminal


def progress_bar(total: int | None, desc: str, unit: str, initial: int = 0, delay: float = 0.0, **tqdm_kwargs):
    """A tqdm bar (its width following the terminal's) where stderr is a terminal or a notebook shows
    it, else a :class:`LogLines`; each takes ``update(n)``, ``set_postfix(dict)`` and ``close()``.
    ``total`` None: a count without an end (``typing: 120,000 rows, 4.2 s``); ``delay``: seconds before
    anything is shown (work done sooner shows nothing)."""
    from tqdm.auto import tqdm

    if "notebook" in tqdm.__module__ or getattr(sys.stderr, "isatty", lambda: False)():
        kwargs = {"total": total, "initial": initial, "desc": desc, "unit": unit, "delay": delay}
        return tqdm(**kwargs, dynamic_ncols=True, **tqdm_kwargs)
    return LogLines(total, desc, unit, initial, delay)


class LogLines:
    """A progress bar's lines for a log: ``desc: 40/200 epochs, 12.5 s, loss=0.031``."""

    def __init__(self, total: int | None, desc: str, unit: str, initial: int = 0, delay: float = 0.0):
        self.total, self.desc, self.unit, self.n, self.delay = total, desc, unit, initial, delay
        self.start = self.last = time.monotonic()
        self.postfix, self.shown = "", None  # the count the last line showed

    def set_postfix(self, postfix: dict, refresh: bool = False) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in postfix.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self.shown is None:  # the first (after the delay): the work has begun, at what pace
            if now - self.start >= self.delay:
                self._line(now)
        elif now - self.last >= LOG_INTERVAL:
            self._line(now)

    def close(self) -> None:
        now = time.monotonic()
        if self.shown != self.n and (self.shown is not None or now - self.start >= self.delay):  # the last count
            self._line(now)

    def _line(self, now: float) -> None:
        self.last, self.shown = now, self.n
        count = f"{self.n:,}" if self.total is None else f"{self.n:,}/{self.total:,}"
        text = f"{self.desc}: {count} {self.unit}s, {now - self.start:.1f} s"
        print(text + (f", {self.postfix}" if self.postfix else ""), file=sys.stderr, flush=True)
