"""What `nodectl sync` does with one path, from the local file, the bucket's object and the base
the last sync recorded (nodectl/client/sync.py `decide`), and the names it makes and refuses."""

from __future__ import annotations

import pytest

from nodectl.client.sync import BaseEntry, Content, conflict_name, decide, safe_rel

A, B, C = Content("aa", "a1"), Content("bb", "b1"), Content("cc", "c1")
PUSH = dict(push=True, pull=False, delete=False)
PULL = dict(push=False, pull=True, delete=False)
BOTH = dict(push=True, pull=True, delete=False)


def base(content: Content = A, version: str = "v1") -> BaseEntry:
    return BaseEntry(content, [1, 2, 3, 4], version)


@pytest.mark.parametrize("mode, local, remote, version, entry, expected", [
    # Equal on both sides: nothing to do, whatever the base says.
    (PUSH, A, A, "v9", None, "same"),
    (PUSH, A, Content(chunks="a1"), "v9", base(B), "same"),  # an object known by its chunk digest only
    (PUSH, None, None, "", base(), "same"),
    # Neither side changed since the base, though the digests cannot be compared (a multipart object).
    (BOTH, A, Content(chunks="unknown:v1"), "v1", base(), "same"),
    # Changed here only.
    (PUSH, B, A, "v1", base(), "upload"),
    (PULL, B, A, "v1", base(), "keep"),
    (BOTH, B, A, "v1", base(), "upload"),
    (PUSH, B, None, "", None, "upload"),  # new here
    # Changed in the bucket only.
    (PUSH, A, B, "v2", base(), "keep"),
    (PULL, A, B, "v2", base(), "download"),
    (BOTH, A, B, "v2", base(), "download"),
    (PULL, None, B, "v2", None, "download"),  # new in the bucket
    (PUSH, None, B, "v2", None, "keep"),  # never synced, not ours: a push leaves it
    # Changed on both sides, or different with no base: a conflict, in every direction.
    (PUSH, B, C, "v2", base(), "conflict"),
    (PULL, B, C, "v2", base(), "conflict"),
    (PUSH, B, C, "v2", None, "conflict"),
    # Deleted in the bucket, changed here: the change wins (pushed; a pull keeps it).
    (PUSH, B, None, "", base(), "upload"),
    (PULL, B, None, "", base(), "keep"),
    # Deleted here, changed in the bucket: the change wins.
    (PUSH, None, B, "v2", base(), "keep"),
    (PULL, None, B, "v2", base(), "download"),
    # Deleted in the bucket, unchanged here: a push uploads it again, a pull keeps it.
    (PUSH, A, None, "", base(), "upload"),
    (PULL, A, None, "", base(), "keep"),
])
def test_decide(mode, local, remote, version, entry, expected):
    assert decide(local, remote, version, entry, **mode)[0] == expected


def test_deletions_travel_only_with_delete_and_only_unchanged():
    # Deleted here, the bucket's object still the synced version.
    assert decide(None, A, "v1", base(), push=True, pull=False, delete=False)[0] == "keep"
    assert decide(None, A, "v1", base(), push=True, pull=False, delete=True)[0] == "delete-remote"
    assert decide(None, A, "v1", base(), push=False, pull=True, delete=True)[0] == "download"
    # Deleted in the bucket, the file still the synced content.
    assert decide(A, None, "", base(), push=False, pull=True, delete=False)[0] == "keep"
    assert decide(A, None, "", base(), push=False, pull=True, delete=True)[0] == "delete-local"
    assert decide(A, None, "", base(), push=True, pull=True, delete=True)[0] == "delete-local"
    # A changed file is never deleted for the other side's deletion.
    assert decide(B, None, "", base(), push=False, pull=True, delete=True)[0] == "keep"
    assert decide(None, B, "v2", base(), push=True, pull=False, delete=True)[0] == "keep"


def test_every_keep_says_why():
    action, why = decide(A, B, "v2", base(), **PUSH)
    assert action == "keep" and "--pull" in why


def test_conflict_names():
    mtime_ns = 1_796_460_000_123_000_000
    assert conflict_name("docs/report.txt", "laptop", mtime_ns) == \
        "docs/report (conflict from laptop at 2026-12-05T084000Z).txt"
    assert conflict_name("Makefile", "laptop", mtime_ns) == "Makefile (conflict from laptop at 2026-12-05T084000Z)"
    assert conflict_name(".bashrc", "h", mtime_ns) == ".bashrc (conflict from h at 2026-12-05T084000Z)"
    assert conflict_name("été/a.tar.gz", "h", mtime_ns) == "été/a.tar (conflict from h at 2026-12-05T084000Z).gz"


@pytest.mark.parametrize("rel, ok", [
    ("a.txt", True), ("dir/sub/été.txt", True), ("", False), ("/abs", False), ("a//b", False),
    ("a/../b", False), ("./a", False), ("dir/", False), (".ringstore-sync/x.json", False),
    ("d/.ringstore-sync-tmp.abc", False), ("nul\x00", False),
])
def test_safe_rel(rel, ok):
    assert safe_rel(rel) is ok


class _NoClient:
    def chunk_size_bytes(self, bucket):
        return 64 * 1024


def test_the_scan_skips_what_cannot_be_a_key_with_one_printable_line(tmp_path):
    import os

    from nodectl.client.sync import STATE_DIR, Sync

    (tmp_path / "ok.txt").write_bytes(b"x")
    (tmp_path / "été.txt").write_bytes(b"x")
    os.symlink(tmp_path / "ok.txt", tmp_path / "link")
    (tmp_path / STATE_DIR).mkdir()
    (tmp_path / STATE_DIR / "state.json").write_text("{}")
    bad = os.fsencode(tmp_path) + b"/bad-\xff.txt"
    with open(bad, "wb") as f:
        f.write(b"x")
    lines: list[str] = []
    sync = Sync(_NoClient(), tmp_path, "bkt", echo=lines.append)
    assert sorted(sync.scan_local()) == ["ok.txt", "été.txt"]
    assert len(lines) == 2 and all(line.startswith("skip ") for line in lines)
    assert all(line.encode("utf-8") for line in lines)  # printable: no lone surrogates
    sync.scan_local()
    assert len(lines) == 2  # each said once


def test_a_target_that_is_not_a_directory_is_one_clear_error(tmp_path):
    from nodectl.client.sync import Sync
    from nodectl.errors import InvalidArgument

    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(InvalidArgument, match="is not a directory"):
        Sync(_NoClient(), tmp_path / "file", "bkt")
