"""Progress of a long job on rank 0: images done, images/s and ETA, on one line.

On a terminal the line is redrawn in place; in a log (stderr not a tty) a line is printed every
``interval_s`` seconds, so that a batch job's log shows the rate without megabytes of carriage returns.
Other ranks print nothing: their share runs at the same pace, and N copies of a bar help nobody.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
    """``update(n)`` after each batch, ``part_done()`` after each part; ``close()`` prints the final line.

    ``total``: this rank's images, or None when unknown before reading (shards): the ETA then comes from
    the fraction of ``parts`` done."""

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        parts: int = 0,
        enabled: bool = True,
        world_size: int = 1,
        interval_s: float | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.label, self.total, self.enabled, self.world_size = label, total, enabled, world_size
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval_s = interval_s if interval_s is not None else (0.5 if self.tty else 10.0)
        self.done = 0
        self.parts, self.parts_done = parts, 0
        self.start = self.last = time.monotonic()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta(self) -> str:
        elapsed, rate = time.monotonic() - self.start, self.rate()
        if self.total is not None:
            return _duration((self.total - self.done) / rate) if rate > 0 else "?"
        if self.parts_done:
            return _duration(elapsed * (self.parts - self.parts_done) / self.parts_done)
        return "?"

    def line(self) -> str:
        rate = self.rate()
        of = f"/{self.total}" if self.total is not None else ""
        parts = f", part {self.parts_done}/{self.parts}" if self.parts else ""
        ranks = f" (rank 0 of {self.world_size}; all ranks ~{rate * self.world_size:.1f} img/s)"
        return f"{self.label}: {self.done}{of} images{parts}, {rate:.1f} img/s, ETA {self.eta()}" + (
            ranks if self.world_size > 1 else ""
        )

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self.last >= self.interval_s:
            self.last = now
            self._emit()

    def part_done(self) -> None:
        self.parts_done += 1
        self.update(0)

    def _emit(self) -> None:
        if self.tty:
            print("\r" + self.line(), end="", file=self.stream, flush=True)
        else:
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self.enabled and self.done:
            self._emit()
            if self.tty:
                print(file=self.stream)
