"""The progress bar of ``validate`` and ``upload``, advanced from several threads at once as
s3transfer's workers advance it."""

from __future__ import annotations

import io
import threading

from moviestore.commands.progress import ProgressBar


def test_every_advance_counts_when_threads_race() -> None:
    stream = io.StringIO()
    bar = ProgressBar("catalog.json", total=8 * 20_000, stream=stream)
    start = threading.Barrier(8)

    def part() -> None:
        start.wait()
        for _ in range(20_000):
            bar.advance(1)

    threads = [threading.Thread(target=part) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    assert bar.done == 8 * 20_000
    # Every redraw is whole: one carriage return, then one complete bar.
    draws = stream.getvalue().split("\r")[1:-1]
    assert draws
    assert all(d.startswith("catalog.json [") and d.endswith(" MB/s") for d in draws), draws
