"""`nodectl sync` through real noded processes: a tree with an empty file, non-ASCII names, nested
directories and a 200 MiB file goes up and comes back down equal; a second run sends nothing;
appending 1 MiB to the 200 MiB file sends 1 MiB; renames and deletes travel with --delete and not
without; a path changed on both sides keeps both (conflict copy) in a push and in a pull; --dry-run
changes nothing; --watch carries changes both ways as they happen; bad input is one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import blake3
from click.testing import CliRunner

from cluster_checks import wait_for
from nodectl.cli import main
from nodectl.client.sync import STATE_DIR, Sync
from nodectl.errors import NotFound

MIB = 1024 * 1024
NODECTL = os.path.join(os.path.dirname(sys.executable), "nodectl")
BIG_BYTES = 200 * MIB


def _tree(root: Path) -> dict[str, bytes]:
    """rel -> bytes of every file under root (the big one by its blake3), the state dir left out."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(STATE_DIR):
            out[rel] = blake3.blake3(path.read_bytes()).digest() if path.stat().st_size > MIB else path.read_bytes()
    return out


def _bucket(client, bucket: str, prefix: str = "") -> dict[str, bytes]:
    out = {}
    for page in client.list(bucket, prefix=prefix):
        for info in page.objects:
            data = client.get_bytes(bucket, info.key)
            out[info.key[len(prefix):]] = blake3.blake3(data).digest() if len(data) > MIB else data
    return out


def _write_big(path: Path) -> None:
    with open(path, "wb") as f:
        for _ in range(BIG_BYTES // (8 * MIB)):
            f.write(os.urandom(8 * MIB))


def test_sync_push_pull_append_rename_delete_conflict(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=3)
    address = cluster.any_address()
    home = tmp_path / "home"
    (home / "dir" / "sub").mkdir(parents=True)
    (home / "empty").write_bytes(b"")
    (home / "a.txt").write_bytes(b"alpha\n")
    (home / "dir" / "été ünïcode 日本.txt").write_bytes("non-ASCII ✓".encode())
    (home / "dir" / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (home / "x.txt").write_bytes(b"x, first")
    _write_big(home / "big.bin")
    lines: list[str] = []
    with cluster.client(timeout_s=120.0) as client:
        client.create_bucket("sync")
        sync = Sync(client, home, "sync", "photos", echo=lines.append)
        first = sync.run()
        assert first.uploaded == 6 and first.errors == 0, lines
        assert first.stats.sent_bytes == BIG_BYTES + 300_000 + 6 + len("non-ASCII ✓".encode()) + 8
        assert _bucket(client, "sync", "photos/") == _tree(home)

        # Nothing changed: nothing travels.
        again = Sync(client, home, "sync", "photos/", echo=lines.append).run()
        assert again.uploaded == 0 and again.unchanged == 6 and again.stats.sent_bytes == 0

        # Append 1 MiB to the 200 MiB file: 1 MiB travels.
        with open(home / "big.bin", "ab") as f:
            f.write(os.urandom(MIB))
        appended = Sync(client, home, "sync", "photos", echo=lines.append).run()
        assert appended.uploaded == 1 and appended.stats.sent_bytes == MIB
        assert appended.stats.reused_bytes == BIG_BYTES
        assert blake3.blake3(client.get_bytes("sync", "photos/big.bin")).digest() == \
            blake3.blake3((home / "big.bin").read_bytes()).digest()

        # Rename and delete: without --delete the old names stay in the bucket, with it they go.
        (home / "dir" / "sub" / "b.bin").rename(home / "dir" / "sub" / "c.bin")
        (home / "a.txt").unlink()
        kept = Sync(client, home, "sync", "photos", echo=lines.append).run()
        assert kept.uploaded == 1 and kept.kept == 2 and kept.deleted_remote == 0
        assert "photos/a.txt" in {i.key for p in client.list("sync") for i in p.objects}
        dry: list[str] = []
        Sync(client, home, "sync", "photos", delete=True, dry_run=True, echo=dry.append).run()
        assert sorted(dry) == ["would delete-remote a.txt", "would delete-remote dir/sub/b.bin"]
        deleted = Sync(client, home, "sync", "photos", delete=True, echo=lines.append).run()
        assert deleted.deleted_remote == 2
        assert _bucket(client, "sync", "photos/") == _tree(home)

        # Changed on both sides: a push keeps the bucket's version and uploads ours beside it.
        (home / "x.txt").write_bytes(b"x, changed here")
        client.put("sync", "photos/x.txt", b"x, changed in the bucket")
        conflicted = Sync(client, home, "sync", "photos", echo=lines.append, host="laptop").run()
        assert conflicted.conflicts == 1 and conflicted.uploaded == 0
        names = {i.key: i for p in client.list("sync", prefix="photos/x") for i in p.objects}
        copies = [k for k in names if k.startswith("photos/x (conflict from laptop at ")]
        assert len(copies) == 1 and copies[0].endswith(").txt")
        assert client.get_bytes("sync", copies[0]) == b"x, changed here"
        assert client.get_bytes("sync", "photos/x.txt") == b"x, changed in the bucket"
        # Running it again makes no second copy.
        Sync(client, home, "sync", "photos", echo=lines.append, host="laptop").run()
        assert len([k for p in client.list("sync", prefix="photos/x") for k in p.objects]) == 2
        # A pull resolves it here the same way: the bucket's at x.txt, ours beside it.
        pulled = Sync(client, home, "sync", "photos", push=False, pull=True, echo=lines.append, host="laptop").run()
        assert pulled.conflicts == 1 and pulled.downloaded == 1  # the conflict copy (x.txt with the conflict)
        assert (home / "x.txt").read_bytes() == b"x, changed in the bucket"
        assert (home / copies[0][len("photos/"):]).read_bytes() == b"x, changed here"
        assert _bucket(client, "sync", "photos/") == _tree(home)

        # Pull into an empty folder: everything comes down equal, the empty file and the names too.
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        down = Sync(client, fresh, "sync", "photos", push=False, pull=True, echo=lines.append).run()
        assert down.errors == 0 and _tree(fresh) == _tree(home)
        assert (fresh / "empty").stat().st_size == 0
        # A delete in the bucket reaches the folder with --pull --delete only.
        client.delete("sync", "photos/empty")
        Sync(client, fresh, "sync", "photos", push=False, pull=True, echo=lines.append).run()
        assert (fresh / "empty").exists()
        Sync(client, fresh, "sync", "photos", push=False, pull=True, delete=True, echo=lines.append).run()
        assert not (fresh / "empty").exists()
        assert not any("Traceback" in line for line in lines)

    # The CLI: one line per action and a summary; a target that is not a directory is one line, exit 2.
    runner = CliRunner()
    cli = lambda *args: runner.invoke(main, ["--addr", address, *args], catch_exceptions=False)  # noqa: E731
    (home / "new.txt").write_bytes(b"new")
    result = cli("sync", str(home), "sync/photos")
    assert result.exit_code == 0, result.output
    assert "upload new.txt -> sync/photos/new.txt (3 bytes)" in result.output
    # The empty file deleted in the bucket above comes back: a push mirrors the folder.
    assert "upload empty -> sync/photos/empty (0 bytes)" in result.output
    assert "sync: 2 uploaded (sent 3 bytes, 0 already stored)" in result.output
    refused = cli("sync", str(home / "new.txt"), "sync/photos")
    assert refused.exit_code == 2 and "is not a directory" in refused.output
    assert len(refused.output.strip().splitlines()) == 1


def test_sync_watch_carries_changes_both_ways(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=3)
    folder = tmp_path / "desk"
    folder.mkdir()
    (folder / "before.txt").write_bytes(b"there before")
    lines: list[str] = []
    stop = threading.Event()
    with cluster.client(timeout_s=60.0) as client, cluster.client(timeout_s=60.0) as feed, \
            cluster.client(timeout_s=60.0) as elsewhere:
        client.create_bucket("desk")
        elsewhere.put("desk", "remote-first.txt", b"from elsewhere")
        sync = Sync(client, folder, "desk", push=True, pull=True, delete=True, echo=lines.append)
        runner = threading.Thread(target=sync.watch, args=(stop, feed), kwargs={"interval_s": 0.2}, daemon=True)
        runner.start()
        try:
            wait_for("the first pass", lambda: (folder / "remote-first.txt").exists(), timeout_s=30)
            assert elsewhere.get_bytes("desk", "before.txt") == b"there before"
            # A local file goes up once it is written.
            (folder / "sub").mkdir()
            (folder / "sub" / "local.txt").write_bytes(b"written here")
            wait_for("the local file in the bucket", lambda: _has(elsewhere, "desk", "sub/local.txt", b"written here"),
                     timeout_s=30)
            # A put elsewhere comes down from the feed; an overwrite too.
            elsewhere.put("desk", "remote.txt", b"put elsewhere")
            wait_for("the remote put here", lambda: _read(folder / "remote.txt") == b"put elsewhere", timeout_s=30)
            elsewhere.put("desk", "remote.txt", b"put elsewhere, again")
            wait_for("the overwrite here", lambda: _read(folder / "remote.txt") == b"put elsewhere, again",
                     timeout_s=30)
            # Deletes travel both ways (--delete).
            elsewhere.delete("desk", "before.txt")
            wait_for("the remote delete here", lambda: not (folder / "before.txt").exists(), timeout_s=30)
            (folder / "sub" / "local.txt").unlink()
            wait_for("the local delete in the bucket", lambda: not _has(elsewhere, "desk", "sub/local.txt", None),
                     timeout_s=30)
        finally:
            stop.set()
            runner.join(timeout=30)
        assert not runner.is_alive()
        assert not any(line.startswith("error") for line in lines), lines

        # `nodectl sync --watch` as a user runs it: a file written while it runs goes up; SIGTERM
        # stops it cleanly (exit 0, a summary, the state saved).
        other = tmp_path / "other"
        other.mkdir()
        env = {**os.environ, "RINGSTORE_ADDR": cluster.any_address(), "RINGSTORE_CA": cluster.ca_file,
               "HOME": str(tmp_path)}
        process = subprocess.Popen([NODECTL, "sync", str(other), "desk/cli", "--watch", "--interval", "0.2"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            wait_for("the watch's first pass", lambda: (other / STATE_DIR).exists(), timeout_s=30)
            (other / "typed.txt").write_bytes(b"typed while it ran")
            wait_for("the typed file in the bucket",
                     lambda: _has(elsewhere, "desk", "cli/typed.txt", b"typed while it ran"), timeout_s=30)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        assert process.returncode == 0, err
        assert "upload typed.txt -> desk/cli/typed.txt" in out and out.strip().splitlines()[-1].startswith("sync: ")


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _has(client, bucket: str, key: str, data: bytes | None) -> bool:
    try:
        got = client.get_bytes(bucket, key)
    except NotFound:
        return False
    return data is None or got == data
