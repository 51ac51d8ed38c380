"""Progress on stderr for long runs: a throttled one-line bar (or periodic lines off a TTY)."""

from __future__ import annotations

import sys
import time


class Bar:
    """Callable ``bar(label, done_increment, total)``; prints at most every ``every`` s."""

    def __init__(self, enabled: bool = True, every: float = 0.5) -> None:
        self.enabled = enabled
        self.every = every
        self.done = 0
        self.label = ""
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.tty = sys.stderr.isatty()
        self.shown = False
        self.total = 1

    def __call__(self, label: str, n: int, total: int) -> None:
        if label != self.label:
            self.finish()
            self.label, self.done, self.t0 = label, 0, time.perf_counter()
            self.last = self.t0  # runs shorter than one interval print nothing
        self.done += n
        self.total = total
        now = time.perf_counter()
        if not self.enabled or (now - self.last < (self.every if self.tty else 10.0)):
            return
        self.last = now
        self._show(now)

    def _show(self, now: float) -> None:
        label, total = self.label, self.total
        frac = min(1.0, self.done / max(total, 1))
        el = now - self.t0
        eta = el * (1 - frac) / frac if frac > 0 else 0.0
        bar = "#" * int(frac * 30)
        msg = f"{label} [{bar:<30}] {100 * frac:5.1f}%  {el:6.1f}s  eta {eta:5.1f}s"
        print(
            ("\r" if self.tty else "") + msg,
            end="" if self.tty else "\n",
            file=sys.stderr,
            flush=True,
        )
        self.shown = True

    def finish(self) -> None:
        """End the current bar: show its final state (if it was shown at all) and a newline."""
        if self.enabled and self.shown:
            self._show(time.perf_counter())
            if self.tty:
                print(file=sys.stderr, flush=True)
        self.shown = False
