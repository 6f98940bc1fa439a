"""Share files written and read with O_DIRECT (node/store/chunks.py): whatever sizes the bytes
arrive in, the file holds exactly them, its size is exact, and the buffered fallback agrees."""

from __future__ import annotations

import os
import random

import pytest

from node.store.chunks import DIRECT_ALIGN_BYTES, STAGING_BYTES, ChunkFiles, TempFile, _AlignedPool
from node.store.keys import ShareKey

SIZES = [0, 1, DIRECT_ALIGN_BYTES - 1, DIRECT_ALIGN_BYTES, DIRECT_ALIGN_BYTES + 1, STAGING_BYTES - 3,
         STAGING_BYTES, 3 * STAGING_BYTES + 12345]


def _pieces(data: bytes, rng: random.Random) -> list[bytes]:
    """data cut at random points, some pieces larger than the staging buffer."""
    pieces, at = [], 0
    while at < len(data):
        size = rng.choice([1, 7, DIRECT_ALIGN_BYTES, 65_537, STAGING_BYTES + 5])
        pieces.append(data[at:at + size])
        at += size
    return pieces


@pytest.fixture
def files(tmp_path) -> ChunkFiles:
    (tmp_path / "data").mkdir()
    found = ChunkFiles(str(tmp_path / "data"))
    if not found.direct_io:
        pytest.skip("this filesystem refuses O_DIRECT; the buffered path is what runs here")
    return found


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "buffered"])
def test_a_temp_file_holds_exactly_the_bytes_written_whatever_the_pieces(files, tmp_path, size, direct):
    rng = random.Random(size)
    data = rng.randbytes(size)
    path = str(tmp_path / f"f{size}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | (os.O_DIRECT if direct else 0)
    temp = TempFile(os.open(path, flags, 0o600), _AlignedPool() if direct else None)
    try:
        for piece in _pieces(data, rng):
            temp.write(memoryview(piece))
        temp.sync()
    finally:
        temp.close()
    assert os.path.getsize(path) == size
    with open(path, "rb") as f:
        assert f.read() == data


@pytest.mark.parametrize("size", SIZES)
def test_a_share_reads_back_through_o_direct_and_a_prefix_read_stops_at_the_end(files, size):
    data = random.Random(size).randbytes(size)
    share = ShareKey(bytes(32))
    path, temp = files.create_temp(share)
    try:
        temp.write(memoryview(data))
        temp.sync()
    finally:
        temp.close()
    files.install(path, share)
    assert files.read(share, size + 1) == data  # asking one byte more finds the end (a longer file is corrupt)
    assert files.read(share, max(size // 2, 1)) == data[:max(size // 2, 1)]


def test_the_probe_leaves_nothing_in_tmp(files):
    assert os.listdir(files.tmp_dir) == []
