"""``read_chunks``: a pipe, written in pieces of any size, comes out as the same bytes in chunks of
the asked size (the last one shorter), exactly as a regular file with the same bytes does."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moviestore.validation import read_chunks

pieces = st.lists(st.binary(min_size=1, max_size=300), max_size=20)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@settings(max_examples=50, deadline=None)
@given(pieces=pieces, size=st.integers(1, 700))
def test_a_pipe_is_read_in_whole_chunks(pieces: list[bytes], size: int) -> None:
    read_end, write_end = os.pipe()

    def write() -> None:
        with open(write_end, "wb", buffering=0) as w:
            for piece in pieces:
                w.write(piece)

    writer = threading.Thread(target=write)
    writer.start()
    with open(read_end, "rb") as r:
        chunks = list(read_chunks(r, size))
    writer.join()
    assert chunks == chunked(b"".join(pieces), size)


@settings(max_examples=20, deadline=None)
@given(data=st.binary(max_size=2000), size=st.integers(1, 700))
def test_a_regular_file_is_read_in_whole_chunks(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, size: int
) -> None:
    path: Path = tmp_path_factory.mktemp("file") / "catalog.json"
    path.write_bytes(data)
    with path.open("rb") as f:
        assert list(read_chunks(f, size)) == chunked(data, size)
