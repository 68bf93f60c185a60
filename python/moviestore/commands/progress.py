"""A dependency-free progress bar for terminals (stderr); silent elsewhere."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class ProgressBar:
    """Redraws at most ten times a second; ``close()`` clears the line.

    ``advance`` may be called from several threads at once (s3transfer reports each part's
    bytes from its own worker thread): the count and the drawing happen under one lock.
    """

    def __init__(self, label: str, total: int, stream: TextIO = sys.stderr, width: int = 30):
        self.label, self.total, self.stream, self.width = label, max(total, 1), stream, width
        self.done = 0
        self.started = time.monotonic()
        self.last_draw = float("-inf")  # draw on the first advance
        self.lock = threading.Lock()

    def advance(self, n: int) -> None:
        with self.lock:
            self.done += n
            now = time.monotonic()
            if now - self.last_draw >= 0.1:
                self.last_draw = now
                self.draw(now)

    def draw(self, now: float) -> None:
        fraction = min(self.done / self.total, 1.0)
        filled = int(fraction * self.width)
        rate = self.done / max(now - self.started, 1e-9) / 1e6
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {fraction:6.1%} {rate:7.1f} MB/s")
        self.stream.flush()

    def close(self) -> None:
        with self.lock:
            self.stream.write("\r\033[K")
            self.stream.flush()
