"""`nodectl sync`: keep a local folder and a bucket (under a prefix) in step, by content.

Each run compares three things per path: the local file, the bucket's current object at
PREFIX + path, and what the last sync of this folder with this target recorded (the *base*: the
content synced, the file's stat signature then, and the object's version then). Content is
compared by hash, never by timestamp: a file is hashed (blake3 of the whole, and of each
chunk_size_bytes piece) unless its size, modification time, change time and inode are exactly
those of the base, and an object's content is its blake3, or the blake3 over its chunk ids for an
object whose put named stored chunks, or (a multipart object) that digest computed from its stat.

- Changed on one side since the base, unchanged on the other: the change travels in the run's
  direction (push: local to bucket; `--pull`: bucket to local; `--watch`: both). A change against
  the direction is kept and reported, never overwritten. Uploads send only the chunks the bucket
  does not already store (reuse.py): appending to a large file sends the appended chunk.
- Deleted on one side: the deletion travels only with `--delete`, and only if the other side did
  not change since the base. A one-way run restores its mirror (a push re-sends a file deleted in
  the bucket and unchanged here, a pull re-fetches one deleted here); `--watch` never resurrects.
- Changed on both sides (or, without a base, different on the two sides): a conflict. Both are kept:
  the bucket's version stays at NAME, the local one goes to `NAME (conflict from HOST at TIME)` (before
  the extension; TIME is the local file's modification time, so a repeated run names the same copy):
  uploaded there by a push, renamed to it locally by a pull (which then downloads NAME), both under
  `--watch`.
- Uploads are conditional on the object still being the version the run looked at (or still absent),
  so a write by someone else in between becomes a conflict on the next pass, not a lost update.
- Downloads go to a temporary file beside the target, fsynced, then renamed over it, and only if
  the local file is still what was hashed.

The base lives in LOCAL_DIR/.ringstore-sync/ (one JSON file per bucket and prefix, mode 0600,
replaced atomically), which is never synced. A run that dies loses at most what it did since its
last save; the next run finds those paths equal on both sides and records them.

`--watch` keeps running after a first pass in both directions: the bucket's change feed (a watch
through its own connection) marks remote paths to look at, and the folder is rescanned every
interval (stat only; a file is hashed and sent once it was stable for one interval).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import blake3
from ringstore.frames import SMALL_PUT_BYTES_MAX

from nodectl.client import reuse
from nodectl.client.files import write_atomically
from nodectl.client.validate import validate_key
from nodectl.errors import (FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, RingstoreError,
                            Unavailable)

STATE_DIR = ".ringstore-sync"
STATE_FORMAT = 1
TEMP_PREFIX = ".ringstore-sync-tmp."
# Save the base at least this often during a long run (a run that dies redoes no more than this).
SAVE_EVERY_S = 5.0
# The cluster's chunk size when it cannot be asked (storage.chunk_size_bytes's default).
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
# Times a conflict copy's name may be taken before a number is added.
CONFLICT_NAMES_MAX = 100

Echo = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Content:
    """What a file or object holds, as far as known: blake3 of the whole and/or over its chunk ids (hex)."""

    whole: str = ""
    chunks: str = ""

    def same(self, other: Content) -> bool:
        return bool((self.whole and self.whole == other.whole) or (self.chunks and self.chunks == other.chunks))

    @property
    def known(self) -> bool:
        return bool(self.whole or self.chunks)


@dataclasses.dataclass
class BaseEntry:
    """A path as the last sync left it."""

    content: Content
    signature: list[int] | None  # the local file's (size, mtime_ns, ctime_ns, inode) then
    version: str  # the object's version stamp then

    def to_json(self) -> dict[str, Any]:
        return {"whole": self.content.whole, "chunks": self.content.chunks, "signature": self.signature,
                "version": self.version}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> BaseEntry:
        signature = raw.get("signature")
        return cls(Content(str(raw.get("whole", "")), str(raw.get("chunks", ""))),
                   [int(v) for v in signature] if isinstance(signature, list) else None, str(raw.get("version", "")))


@dataclasses.dataclass
class Local:
    path: Path
    signature: tuple[int, int, int, int]
    digest: reuse.FileDigest | None = None  # None: unchanged since the base (content = base's)


@dataclasses.dataclass
class Remote:
    key: str
    version: str
    size_bytes: int
    content: Content
    version_id: str = ""


@dataclasses.dataclass
class Summary:
    uploaded: int = 0
    downloaded: int = 0
    deleted_remote: int = 0
    deleted_local: int = 0
    conflicts: int = 0
    kept: int = 0
    unchanged: int = 0
    errors: int = 0
    stats: reuse.TransferStats = dataclasses.field(default_factory=reuse.TransferStats)
    received_bytes: int = 0

    def line(self) -> str:
        return (f"sync: {self.uploaded} uploaded (sent {self.stats.sent_bytes} bytes, "
                f"{self.stats.reused_bytes} already stored), {self.downloaded} downloaded "
                f"({self.received_bytes} bytes), {self.deleted_remote} deleted in the bucket, "
                f"{self.deleted_local} deleted here, {self.conflicts} conflicts, {self.kept} kept, "
                f"{self.unchanged} unchanged, {self.errors} errors")


def decide(local: Content | None, remote: Content | None, remote_version: str, base: BaseEntry | None, *,
           push: bool, pull: bool, delete: bool) -> tuple[str, str]:
    """(action, why) for one path: action one of same, upload, download, delete-remote,
    delete-local, conflict, keep. `local`/`remote` None: absent on that side."""
    if local is not None and remote is not None and local.same(remote):
        return "same", ""
    if local is None and remote is None:
        return "same", ""
    local_changed = (local is None) != (base is None) or (
        local is not None and base is not None and not local.same(base.content))
    remote_changed = (remote is None) != (base is None) or (
        remote is not None and base is not None and remote_version != base.version)
    if not local_changed and not remote_changed:
        return "same", ""  # both as the last sync left them (whose contents it could not compare)
    if local_changed and remote_changed:
        if local is not None and remote is not None:
            return "conflict", "changed here and in the bucket since the last sync"
        if local is not None:  # deleted in the bucket, changed here: the change wins
            return ("upload", "") if push else ("keep", "changed here, deleted in the bucket; a push uploads it")
        return ("download", "") if pull else ("keep", "deleted here, changed in the bucket; --pull brings it here")
    if local_changed:
        if local is not None:
            return ("upload", "") if push else ("keep", "changed here since the last sync; a push sends it")
        if push and delete:
            return "delete-remote", ""
        if pull and not push:
            return "download", ""  # deleted here, unchanged in the bucket: a pull mirrors the bucket again
        return "keep", "deleted here; --delete deletes it in the bucket"
    # Only the bucket changed.
    if remote is not None:
        return ("download", "") if pull else ("keep", "changed in the bucket since the last sync; --pull brings it here")
    if pull and delete:
        return "delete-local", ""
    if push and not pull:
        return "upload", ""  # deleted in the bucket, unchanged here: a push mirrors the folder again
    return "keep", "deleted in the bucket; --delete deletes it here"


def conflict_name(rel: str, host: str, mtime_ns: int) -> str:
    """`dir/NAME (conflict from HOST at TIME).EXT` for `dir/NAME.EXT`."""
    head, _, name = rel.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not stem:  # no extension, or a dot file
        stem, dot, ext = name, "", ""
    when = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime(mtime_ns / 1e9))
    renamed = f"{stem} (conflict from {host} at {when}){dot}{ext}"
    return f"{head}/{renamed}" if head else renamed


def safe_rel(rel: str) -> bool:
    """Whether a key's part below the prefix can be a path under the folder: no empty, `.` or `..`
    components, no NUL, not the state directory."""
    parts = rel.split("/")
    return (bool(rel) and "\x00" not in rel and all(p not in ("", ".", "..") for p in parts)
            and parts[0] != STATE_DIR and not parts[-1].startswith(TEMP_PREFIX))


class Sync:
    """One folder and one bucket prefix (see the module docstring)."""

    def __init__(self, client: Any, root: str | os.PathLike[str], bucket: str, prefix: str = "", *,
                 push: bool = True, pull: bool = False, delete: bool = False, dry_run: bool = False,
                 echo: Echo = print, host: str | None = None,
                 progress: Callable[[str, int], Any] | None = None) -> None:
        self.client = client
        self.root = Path(root)
        if not self.root.is_dir():
            raise InvalidArgument(f"{root} is not a directory: sync needs an existing folder (mkdir it first)")
        self.root = self.root.resolve()
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.push, self.pull, self.delete, self.dry_run = push, pull, delete, dry_run
        self.echo = echo
        # progress(label, total_bytes) -> an object with update(bytes_so_far) and finish(), or None.
        self.progress = progress or (lambda label, total_bytes: None)
        self.host = (host or socket.gethostname().split(".")[0] or "localhost").replace("/", "-")
        try:
            self.chunk_size = client.chunk_size_bytes(bucket)
        except PermissionDenied:
            # A key that may only read (or only a prefix) may not ask; chunk digests then assume
            # the default size, which only makes objects put naming chunks look different.
            self.chunk_size = DEFAULT_CHUNK_BYTES
        digest = hashlib.sha256(f"{bucket}\x00{self.prefix}".encode()).hexdigest()[:16]
        self.state_path = self.root / STATE_DIR / f"{bucket}-{digest}.json"
        self.base: dict[str, BaseEntry] = self._load()
        self._saved_at = time.monotonic()
        self._warned: set[str] = set()

    # -- state ----------------------------------------------------------------------------------

    def _load(self) -> dict[str, BaseEntry]:
        try:
            raw = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            raise FailedPrecondition(f"sync state {self.state_path} is unreadable ({err}); move it away to start "
                                     "afresh (paths that differ then count as conflicts)") from None
        if not isinstance(raw, dict) or raw.get("format") != STATE_FORMAT or raw.get("bucket") != self.bucket:
            raise FailedPrecondition(f"sync state {self.state_path} is not one this nodectl wrote for bucket "
                                     f"{self.bucket}; move it away to start afresh")
        return {rel: BaseEntry.from_json(entry) for rel, entry in raw.get("files", {}).items()}

    def save(self) -> None:
        if self.dry_run:
            return
        directory = self.state_path.parent
        directory.mkdir(mode=0o700, exist_ok=True)
        document = {"format": STATE_FORMAT, "bucket": self.bucket, "prefix": self.prefix,
                    "files": {rel: entry.to_json() for rel, entry in sorted(self.base.items())}}
        write_atomically(self.state_path, lambda f: f.write(json.dumps(document).encode()), prefix=TEMP_PREFIX,
                         private=True)
        self._saved_at = time.monotonic()

    def _maybe_save(self) -> None:
        if time.monotonic() - self._saved_at > SAVE_EVERY_S:
            self.save()

    # -- the two sides --------------------------------------------------------------------------

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            self.echo(f"skip {message}")

    def scan_local(self) -> dict[str, tuple[Path, tuple[int, int, int, int]]]:
        """rel -> (path, stat signature) of every regular file under the folder."""
        found: dict[str, tuple[Path, tuple[int, int, int, int]]] = {}
        for directory, dirs, files in os.walk(self.root):
            here = Path(directory)
            if here == self.root and STATE_DIR in dirs:
                dirs.remove(STATE_DIR)
            dirs.sort()
            for name in sorted(files):
                path = here / name
                rel = path.relative_to(self.root).as_posix()
                if name.startswith(TEMP_PREFIX):
                    continue
                try:
                    rel.encode("utf-8")
                    validate_key(self.prefix + rel)
                except UnicodeEncodeError:
                    # (repr: the name's undecodable bytes would not print)
                    self._warn_once(rel, f"{str(path)!r}: its name is not UTF-8, so it cannot be a key")
                    continue
                except InvalidArgument as err:
                    self._warn_once(rel, f"{rel}: {err}")
                    continue
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    self._warn_once(rel, f"{rel}: not a regular file (symbolic links and devices are not synced)")
                    continue
                found[rel] = (path, reuse.signature(st))
        return found

    def list_remote(self) -> dict[str, Remote]:
        remote: dict[str, Remote] = {}
        for page in self.client.list(self.bucket, prefix=self.prefix):
            for info in page.objects:
                rel = info.key[len(self.prefix):]
                if not safe_rel(rel):
                    self._warn_once("key:" + info.key, f"{info.key}: not a path this folder can hold")
                    continue
                remote[rel] = _remote_of(info)
        return remote

    def _remote_content(self, remote: Remote) -> Content:
        """An object's content; a multipart one's from its chunk list (one stat)."""
        if not remote.content.known:
            stat = self.client.stat(self.bucket, remote.key)
            ids = [bytes.fromhex(c.identity_hex) for c in stat.chunks]
            content = (Content(chunks=reuse.chunks_digest(ids).hex()) if all(c.object_bytes == self.chunk_size
                                                                           for c in stat.chunks[:-1]) else Content())
            remote.content = content if content.known else Content(chunks="unknown:" + remote.version)
        return remote.content

    def _local_content(self, rel: str, local: Local) -> Content:
        base = self.base.get(rel)
        if local.digest is None and base is not None and base.signature == list(local.signature):
            return base.content
        if local.digest is None:
            local.digest = reuse.digest_file(local.path, self.chunk_size)
            local.signature = local.digest.signature
        return Content(local.digest.whole.hex(), local.digest.chunks_blake3.hex())

    # -- a pass ---------------------------------------------------------------------------------

    def run(self) -> Summary:
        """One pass over every path of both sides."""
        summary = Summary()
        local = self.scan_local()
        remote = self.list_remote()
        try:
            for rel in sorted(set(local) | set(remote) | set(self.base)):
                found = local.get(rel)
                self.reconcile(rel, Local(*found) if found else None, remote.get(rel), summary)
                self._maybe_save()
        finally:
            self.save()
        return summary

    def reconcile(self, rel: str, local: Local | None, remote: Remote | None, summary: Summary) -> None:
        """Decide and do what one path needs; errors of this path are reported and counted."""
        try:
            self._reconcile(rel, local, remote, summary)
        except reuse.FileChanged:
            summary.kept += 1
            self.echo(f"keep {rel}: it changed while it was read; the next pass takes it")
        except (RingstoreError, OSError) as err:
            if isinstance(err, Unavailable):
                raise
            summary.errors += 1
            self.echo(f"error {rel}: {err}")

    def _reconcile(self, rel: str, local: Local | None, remote: Remote | None, summary: Summary) -> None:
        base = self.base.get(rel)
        local_content = self._local_content(rel, local) if local is not None else None
        if remote is not None and base is not None and remote.version == base.version:
            remote_content: Content | None = base.content  # the version the last sync saw (no stat needed)
        else:
            remote_content = self._remote_content(remote) if remote is not None else None
        action, why = decide(local_content, remote_content, remote.version if remote else "", base,
                             push=self.push, pull=self.pull, delete=self.delete)
        if action == "same":
            if local is None:
                self.base.pop(rel, None)
            else:
                assert remote is not None and local_content is not None
                self.base[rel] = BaseEntry(local_content, list(local.signature), remote.version)
            summary.unchanged += 1
            return
        if action == "keep":
            summary.kept += 1
            self.echo(f"keep {rel}: {why}")
            return
        if self.dry_run:
            self.echo(f"would {action} {rel}" + (f" ({why})" if why else ""))
            return
        if action == "upload":
            assert local is not None and local_content is not None
            info = self._upload(rel, self.prefix + rel, local, remote, summary)
            self._record_upload(rel, local, local_content, info)
            summary.uploaded += 1
        elif action == "download":
            assert remote is not None
            self._download(rel, remote, local, summary)
            summary.downloaded += 1
        elif action == "delete-remote":
            assert remote is not None
            self.client.delete(self.bucket, remote.key)
            self.base.pop(rel, None)
            summary.deleted_remote += 1
            self.echo(f"delete {self.bucket}/{remote.key}")
        elif action == "delete-local":
            assert local is not None
            if reuse.path_signature(local.path) != local.signature:
                raise reuse.FileChanged()
            local.path.unlink()
            _prune_empty_dirs(local.path.parent, self.root)
            self.base.pop(rel, None)
            summary.deleted_local += 1
            self.echo(f"delete {rel}")
        elif action == "conflict":
            assert local is not None and remote is not None and local_content is not None
            self._conflict(rel, local, local_content, remote, summary)
            summary.conflicts += 1

    def _upload(self, rel: str, key: str, local: Local, remote: Remote | None, summary: Summary,
                *, if_absent: bool = False) -> Any:
        """Put the file at `key`, conditional on the object being `remote` still (absent: absent)."""
        if local.digest is None:
            local.digest = reuse.digest_file(local.path, self.chunk_size)
        digest = local.digest
        condition: dict[str, Any] = {"if_version": remote.version} if remote is not None else {"if_absent": True}
        bar = self.progress(f"upload {rel}", digest.signature[0])
        if bar is not None:
            condition["progress"] = bar.update
        try:
            if digest.signature[0] <= SMALL_PUT_BYTES_MAX:
                data = local.path.read_bytes()
                if reuse.path_signature(local.path) != digest.signature or blake3.blake3(data).digest() != digest.whole:
                    raise reuse.FileChanged()
                info = self.client.put(self.bucket, key, data, **condition)
                summary.stats.add(reuse.TransferStats(sent_bytes=len(data), objects=1))
            else:
                planned = reuse.Plan.of(local.path, digest, self.chunk_size,
                                        lambda ids: self.client.has_chunks(self.bucket, ids, key=key))
                info = self.client.put_planned(self.bucket, key, planned, stats=summary.stats, **condition)
        except FailedPrecondition as err:
            raise FailedPrecondition(f"{key} changed in the bucket while this pass ran; the next pass looks again "
                                     f"({err})") from None
        finally:
            if bar is not None:
                bar.finish()
        self.echo(f"upload {rel} -> {self.bucket}/{key} ({digest.signature[0]} bytes)")
        return info

    def _record_upload(self, rel: str, local: Local, content: Content, info: Any) -> None:
        self.base[rel] = BaseEntry(content, list(local.signature), info.version)

    def _download(self, rel: str, remote: Remote, local: Local | None, summary: Summary, *,
                  to: Path | None = None) -> None:
        target = to or self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        bar = self.progress(f"download {rel}", remote.size_bytes)
        received: list[int] = []

        def unchanged_here() -> None:
            if local is not None and to is None and reuse.path_signature(local.path) != local.signature:
                raise reuse.FileChanged()

        try:
            with self.client.get(self.bucket, remote.key, version=remote.version_id) as reader:
                write_atomically(target, lambda f: received.append(reader.readinto_file(
                    f, progress=None if bar is None else bar.update)), prefix=TEMP_PREFIX,
                    before_replace=unchanged_here)
        finally:
            if bar is not None:
                bar.finish()
        _fsync_dir(target.parent)
        digest = reuse.digest_file(target, self.chunk_size)
        self.base[rel] = BaseEntry(Content(digest.whole.hex(), digest.chunks_blake3.hex()),
                                   list(digest.signature), remote.version)
        summary.received_bytes += received[0]
        self.echo(f"download {self.bucket}/{remote.key} -> {rel} ({received[0]} bytes)")

    def _conflict(self, rel: str, local: Local, local_content: Content, remote: Remote, summary: Summary) -> None:
        """Keep both: the bucket's version stays at rel; the local one goes to the conflict name."""
        mtime_ns = local.signature[1]
        copy_rel = conflict_name(rel, self.host, mtime_ns)
        already_here = False  # the conflict copy is here already (an earlier push made it, a pull brought it)
        for n in range(2, CONFLICT_NAMES_MAX):
            copy_path = self.root / copy_rel
            if not copy_path.exists():
                break
            digest = reuse.digest_file(copy_path, self.chunk_size)
            if Content(digest.whole.hex(), digest.chunks_blake3.hex()).same(local_content):
                already_here = True
                break
            copy_rel = conflict_name(rel, f"{self.host} {n}", mtime_ns)
        self.echo(f"conflict {rel}: changed here and in the bucket; the bucket's version stays, this one is "
                  f"{copy_rel}")
        if self.push:
            copy_key = self.prefix + copy_rel
            try:
                existing = _remote_of(self.client.stat(self.bucket, copy_key).info)
            except NotFound:
                existing = None
            if existing is None or not local_content.same(self._remote_content(existing)):
                info = self._upload(copy_rel, copy_key, local, existing, summary)
                if self.pull:
                    self._record_upload(copy_rel, local, local_content, info)
        if self.pull:
            copy_path = self.root / copy_rel
            if reuse.path_signature(local.path) != local.signature:
                raise reuse.FileChanged()
            if already_here:
                local.path.unlink()  # its bytes are at copy_path
            else:
                os.rename(local.path, copy_path)
                if copy_rel in self.base:
                    self.base[copy_rel].signature = list(reuse.path_signature(copy_path))
            self._download(rel, remote, None, summary)

    # -- --watch --------------------------------------------------------------------------------

    def watch(self, stop: threading.Event, feed_client: Any, *, interval_s: float = 1.0,
              on_pass: Callable[[Summary], None] | None = None) -> Summary:
        """Run until `stop` is set: a full pass, then passes over what the feed and the rescans mark."""
        total = Summary()
        events: queue.Queue[str | None] = queue.Queue()
        feed = threading.Thread(target=self._follow_feed, args=(feed_client, events, stop), daemon=True,
                                name="sync-feed")
        feed.start()
        try:
            total = self.run()
            if on_pass is not None:
                on_pass(total)
            seen = self.scan_local()
            settling: set[str] = set()  # changed here: taken once unchanged for one interval
            missed = False  # a pass failed: the next one looks at every path
            while not stop.wait(interval_s):
                dirty: set[str] = set()
                rescan = False
                while True:
                    try:
                        rel = events.get_nowait()
                    except queue.Empty:
                        break
                    if rel is None:
                        rescan = True
                    else:
                        dirty.add(rel)
                now = self.scan_local()
                moving = {rel for rel in set(now) | set(seen) if seen.get(rel) != now.get(rel)}
                dirty |= settling - moving  # changed before, still since: take them
                dirty -= moving  # (a bucket change to a path changing here waits for it to settle)
                settling = moving
                seen = now
                try:
                    if rescan or missed:
                        summary = self.run()
                    elif dirty:
                        summary = self._pass(sorted(dirty), now)
                    else:
                        continue
                    missed = False
                except Unavailable as err:
                    self.echo(f"the cluster did not answer ({err}); looking at everything again shortly")
                    missed = True
                    continue
                total = _added(total, summary)
                if on_pass is not None:
                    on_pass(summary)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                feed_client.close()
            feed.join(timeout=5.0)
            self.save()
        return total

    def _pass(self, rels: Iterable[str], scanned: dict[str, tuple[Path, tuple[int, int, int, int]]]) -> Summary:
        summary = Summary()
        try:
            for rel in rels:
                if not safe_rel(rel):
                    continue
                try:
                    remote: Remote | None = _remote_of(self.client.stat(self.bucket, self.prefix + rel).info)
                except NotFound:
                    remote = None
                found = scanned.get(rel)
                self.reconcile(rel, Local(*found) if found else None, remote, summary)
        finally:
            self.save()
        return summary

    def _follow_feed(self, client: Any, events: queue.Queue, stop: threading.Event) -> None:
        """Put the path of every change the bucket's feed reports under the prefix (None: look at
        everything, the feed lost its place); reconnect from the last cursor after failures."""
        cursor = ""
        delay_s = 0.2
        while not stop.is_set():
            try:
                for event in client.watch(self.bucket, self.prefix, cursor=cursor, from_now=not cursor):
                    cursor = event.cursor
                    delay_s = 0.2
                    if event.change is not None and event.change.key.startswith(self.prefix):
                        events.put(event.change.key[len(self.prefix):])
                    if stop.is_set():
                        return
            except FailedPrecondition:
                cursor = ""
                events.put(None)
            except Exception:  # noqa: BLE001 - the node went away, or the client was closed to stop
                if stop.is_set():
                    return
            stop.wait(delay_s)
            delay_s = min(delay_s * 2, 5.0)


def _remote_of(info: Any) -> Remote:
    # The null version (every version of an unversioned bucket) is read as the current one.
    version_id = info.version_id if len(info.version_id) == 32 else ""
    return Remote(info.key, info.version, info.size_bytes, Content(info.blake3_hex, info.chunks_blake3_hex),
                  version_id)


def _added(a: Summary, b: Summary) -> Summary:
    out = Summary()
    for field in dataclasses.fields(Summary):
        if field.name == "stats":
            out.stats.add(a.stats)
            out.stats.add(b.stats)
        else:
            setattr(out, field.name, getattr(a, field.name) + getattr(b, field.name))
    return out


def _prune_empty_dirs(directory: Path, root: Path) -> None:
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
