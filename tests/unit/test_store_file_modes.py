"""Files on disk are private to the service user: a data dir is 0700 (an older 0755 one is
tightened at open), and chunk files, LMDB files and the lock file are 0600, so no other local user
can read an object's bytes or its metadata."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import blake3

from node.store import NodeStore, ShareKey

MIB = 1024 * 1024


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_store_is_private_to_its_user(tmp_path):
    data_dir = tmp_path / "store"
    data = os.urandom(5000)
    share = ShareKey(blake3.blake3(data).digest())
    with NodeStore(str(data_dir), map_size_bytes=64 * MIB) as store:
        store.put_share(share, data, expected_blake3=share.chunk_id, placement=None)
        chunk_file = next(p for p in (data_dir / "chunks").rglob("*") if p.is_file())
    assert _mode(data_dir) == 0o700
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    dirs = [p for p in data_dir.rglob("*") if p.is_dir()]
    assert chunk_file in files and any(p.name == "data.mdb" for p in files)
    assert {str(p.relative_to(data_dir)): _mode(p) for p in files if _mode(p) & 0o077} == {}
    assert {str(p.relative_to(data_dir)): _mode(p) for p in dirs if _mode(p) & 0o077} == {}


def test_an_older_world_readable_data_dir_is_tightened_at_open(tmp_path):
    data_dir = tmp_path / "store"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    with NodeStore(str(data_dir), map_size_bytes=64 * MIB):
        pass
    assert _mode(data_dir) == 0o700
