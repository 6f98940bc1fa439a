"""Content-addressed chunk files: where share bytes live and how they get there durably.

Layout under the data dir:

    chunks/ab/cd/<64-hex chunk id>.<suffix>     final files, ab/cd = first two bytes of the id
    tmp/<hex>.<suffix>.<uuid4>                  files being written; emptied at open
    quarantine/<hex>.<suffix>.<unix ms>.<uuid>  corrupt files, never served, kept for inspection

where <suffix> is `r` for a replica or `<index>of<K>+<M>` for an erasure share (`3of4+2`), so the
shares of one chunk under different geometries are different files. Which shares exist is read
from the index; names are parsed back only to re-index the files when the index was lost (a
metadata env found damaged at start, see store.py), and the sweep of tmp/ deletes whatever is
there.

A file becomes visible only by `rename(tmp -> chunks/...)` after the temp file was fsynced, and the
rename is made durable by fsyncing the destination directory; a directory we create is made durable
by fsyncing its parent. A crash at any point therefore leaves either no final file or a complete
one, plus possibly a temp file that the next open deletes. Each writer has its own temp name
(uuid4), so two writers of the same share never write into one file; the last rename wins and both
renamed identical bytes (same blake3), so readers never see a torn file.

Two levels of 256 directories keep every directory small (about 15 files per leaf at a million
chunks) without a directory-per-chunk's inode cost.

Share bytes bypass the page cache (O_DIRECT) where the filesystem allows it, both ways. Measured on
the reference machine (docs/performance.md): a buffered write of 1 GiB costs 1.1-1.4 s of kernel
CPU (the copy into the page cache and its bookkeeping) and a cold buffered read 2.2 s, while the
same with O_DIRECT costs 0.03 s and runs 3-4x faster; a replicas=3 put writes every byte three
times, so the page cache was a third of what a stored MB cost. A node does not read its own shares
back soon enough for the cache to pay (the client's reads are spread over the holders, and a hot
object is better cached by whoever serves it). O_DIRECT needs block-aligned buffers, lengths and
offsets: a writer stages what arrives in a page-aligned buffer (`_AlignedPool`) and writes whole
blocks; the last block is padded and the file truncated to its size before the fsync, which still
runs (O_DIRECT bypasses the cache, not the disk's own write cache, nor the file's size and
extents). A filesystem that refuses O_DIRECT (tmpfs) gets buffered I/O, found by a probe at open.

Rejected alternatives: packing shares into large append-only volume files (fewer inodes and fsyncs,
but needs compaction and its own crash recovery for what a filesystem already gives us), writing
in place with O_DIRECT (a crash mid-write would leave a torn file under the final name; direct I/O
goes into the temp file, renamed only once fsynced), and posix_fadvise(DONTNEED) after buffered
writes, as Swift does (keeps the cache clean but still pays the copy into it).

This module knows paths and syscalls only; which shares exist is the index's business (metadata.py).
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
import uuid
from collections.abc import Iterator

from node.store.errors import StoreError, StoreFull
from node.store.keys import ShareKey

CHUNKS_DIR = "chunks"
TMP_DIR = "tmp"
QUARANTINE_DIR = "quarantine"
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# Entries the open-time sweep of tmp/ deletes before giving up; a tmp/ larger than this means
# something other than crashed writers is putting files there.
TMP_SWEEP_FILES_MAX = 1_000_000

# Everything under a data dir is the service user's alone: object bytes are nobody else's to read.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

# O_DIRECT alignment of buffers, lengths and offsets: a page covers every logical block size in use.
DIRECT_ALIGN_BYTES = 4096
# A writer's staging buffer: what one O_DIRECT write carries at most.
STAGING_BYTES = 1024 * 1024
# Idle aligned buffers kept per size for reuse (the rest are unmapped when given back): 4 MiB read
# buffers count toward a node's resident memory, which must stay under 150 MiB.
POOL_KEEP_MAX = 4
_O_DIRECT = getattr(os, "O_DIRECT", 0)


def aligned(size_bytes: int) -> int:
    """size_bytes rounded up to a whole number of O_DIRECT blocks."""
    return -(-size_bytes // DIRECT_ALIGN_BYTES) * DIRECT_ALIGN_BYTES


class _AlignedPool:
    """Page-aligned buffers (anonymous mmaps), reused by size so a busy node does not map and fault
    in fresh pages for every share it writes or reads."""

    def __init__(self) -> None:
        self._idle: dict[int, list[mmap.mmap]] = {}
        self._lock = threading.Lock()

    def take(self, size_bytes: int) -> mmap.mmap:
        size_bytes = aligned(max(size_bytes, 1))
        with self._lock:
            idle = self._idle.get(size_bytes)
            if idle:
                return idle.pop()
        return mmap.mmap(-1, size_bytes)

    def give(self, buffer: mmap.mmap) -> None:
        with self._lock:
            idle = self._idle.setdefault(len(buffer), [])
            if len(idle) < POOL_KEEP_MAX:
                idle.append(buffer)
                return
        buffer.close()


class TempFile:
    """One writer's temp file: `write` what arrives, `sync` once at the end, `close` always.

    Under direct I/O the bytes are staged in an aligned buffer and written a whole buffer at a time;
    `sync` writes the staged tail padded to a block, truncates the file to the bytes written and
    fsyncs. Buffered, `write` is os.write and `sync` an fsync."""

    def __init__(self, fd: int, pool: _AlignedPool | None) -> None:
        self.fd = fd
        self._pool = pool
        self._staging = pool.take(STAGING_BYTES) if pool is not None else None
        self._staged = 0
        self._size_bytes = 0

    def write(self, view: memoryview) -> None:
        if self._staging is None:
            while view.nbytes:
                written = os.write(self.fd, view)
                view = view[written:]
            return
        # Whole blocks go to disk at once (a full disk fails the write that filled it); only the
        # last partial block waits in the staging buffer for more bytes or for `sync`.
        while view.nbytes:
            take = min(view.nbytes, STAGING_BYTES - self._staged)
            self._staging[self._staged:self._staged + take] = view[:take]
            self._staged += take
            self._size_bytes += take
            view = view[take:]
            whole = self._staged - self._staged % DIRECT_ALIGN_BYTES
            if whole:
                self._flush(whole)

    def _flush(self, length: int) -> None:
        """Write staging[:length] (block-aligned) and keep what follows it at the buffer's start."""
        block = memoryview(self._staging)[:length]
        try:
            while block.nbytes:
                written = os.write(self.fd, block)
                if written % DIRECT_ALIGN_BYTES and written != block.nbytes:
                    raise OSError(errno.EIO, f"direct write of {block.nbytes} bytes wrote {written}")
                block = block[written:]
        finally:
            block.release()
        rest = self._staged - length
        if rest:
            self._staging.move(0, length, rest)
        self._staged = rest

    def sync(self) -> None:
        """Everything written is on disk (the caller then renames the file)."""
        if self._staging is not None and self._staged:
            tail = self._staged
            padded = aligned(tail)
            self._staging[tail:padded] = bytes(padded - tail)
            self._staged = padded
            self._flush(padded)
            os.ftruncate(self.fd, self._size_bytes)
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)
        if self._staging is not None and self._pool is not None:
            staging, self._staging = self._staging, None
            self._pool.give(staging)


def make_private_dir(path: str) -> None:
    """Create `path` (and parents) 0700, and take group and other access away from it if it exists
    already (a data dir made by an older release was 0755). What is inside needs no walk: nobody
    else can reach it through a directory they cannot enter."""
    os.makedirs(path, mode=PRIVATE_DIR_MODE, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, PRIVATE_DIR_MODE)


def fsync_dir(path: str) -> None:
    """Make the entries of a directory (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in _FULL_ERRNOS


def raise_if_full(exc: OSError, path: str) -> None:
    """Turn ENOSPC/EDQUOT into StoreFull; leave other OS errors alone."""
    if is_disk_full(exc):
        raise StoreFull(f"data filesystem full while writing {path}: {exc.strerror}") from exc


class ChunkFiles:
    """Paths and durable file operations for share bytes under one data dir."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.chunks_dir = os.path.join(self.data_dir, CHUNKS_DIR)
        self.tmp_dir = os.path.join(self.data_dir, TMP_DIR)
        self.quarantine_dir = os.path.join(self.data_dir, QUARANTINE_DIR)
        # Directories known to be durably linked into their parent since this open. After a crash
        # a directory may exist yet not be durable, so the first use per open fsyncs its parent.
        self._durable_dirs: set[str] = set()
        self._durable_dirs_lock = threading.Lock()
        for path in (self.chunks_dir, self.tmp_dir, self.quarantine_dir):
            self._ensure_durable_dir(path)
        self._pool = _AlignedPool()
        self.direct_io = self._probe_direct_io()

    def _probe_direct_io(self) -> bool:
        """Whether this filesystem takes O_DIRECT writes and reads (tmpfs, for one, refuses them)."""
        if not _O_DIRECT:
            return False
        path = os.path.join(self.tmp_dir, f"direct-io-probe.{uuid.uuid4().hex}")
        buffer = self._pool.take(DIRECT_ALIGN_BYTES)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _O_DIRECT, PRIVATE_FILE_MODE)
            try:
                os.write(fd, buffer)
                os.preadv(fd, [buffer], 0)
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                return False
            raise
        finally:
            self._pool.give(buffer)
            self.remove_temp(path)
        return True

    # -- paths ------------------------------------------------------------------------------

    def share_dir(self, share: ShareKey) -> str:
        hex_id = share.chunk_id.hex()
        return os.path.join(self.chunks_dir, hex_id[0:2], hex_id[2:4])

    def final_path(self, share: ShareKey) -> str:
        return os.path.join(self.share_dir(share), str(share))

    # -- writing ----------------------------------------------------------------------------

    def create_temp(self, share: ShareKey) -> tuple[str, TempFile]:
        """Create a fresh temp file for one writer; returns (path, the file to write)."""
        path = os.path.join(self.tmp_dir, f"{share}.{uuid.uuid4().hex}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | (_O_DIRECT if self.direct_io else 0)
        try:
            fd = os.open(path, flags, PRIVATE_FILE_MODE)
        except OSError as exc:
            raise_if_full(exc, path)
            raise
        return path, TempFile(fd, self._pool if self.direct_io else None)

    def install(self, temp_path: str, share: ShareKey) -> str:
        """Rename an fsynced temp file into its final place and make the rename durable."""
        leaf = self.share_dir(share)
        self._ensure_durable_dir(os.path.dirname(leaf))
        self._ensure_durable_dir(leaf)
        final = self.final_path(share)
        try:
            os.replace(temp_path, final)  # a directory that must grow can need a block too
            fsync_dir(leaf)
        except OSError as exc:
            raise_if_full(exc, final)
            raise
        return final

    def remove_temp(self, temp_path: str) -> None:
        try:
            os.unlink(temp_path)
        except FileNotFoundError:
            pass

    def sweep_temp(self) -> int:
        """Delete every file in tmp/ (writes a crash interrupted); returns how many."""
        removed = 0
        with os.scandir(self.tmp_dir) as entries:
            for entry in entries:
                if removed >= TMP_SWEEP_FILES_MAX:
                    raise StoreError(f"{self.tmp_dir} holds more than {TMP_SWEEP_FILES_MAX} files; "
                                     "remove them by hand and restart")
                if entry.is_dir(follow_symlinks=False):
                    continue  # not ours; leave it for the operator
                self.remove_temp(entry.path)
                removed += 1
        if removed:
            fsync_dir(self.tmp_dir)
        return removed

    # -- reading and removing ----------------------------------------------------------------

    def read(self, share: ShareKey, size_bytes_max: int) -> bytes:
        """Up to size_bytes_max bytes of the final file; FileNotFoundError when absent."""
        path = self.final_path(share)
        if not self.direct_io:
            with open(path, "rb") as f:
                return f.read(size_bytes_max)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | _O_DIRECT)
        buffer = self._pool.take(size_bytes_max)
        try:
            view = memoryview(buffer)
            got = 0
            while got < size_bytes_max:
                count = os.preadv(fd, [view[got:]], got)
                got += count
                if count == 0 or got % DIRECT_ALIGN_BYTES:
                    break  # the end of the file (a direct read continues only from a block boundary)
            data = bytes(view[:min(got, size_bytes_max)])
            view.release()
            return data
        finally:
            os.close(fd)
            self._pool.give(buffer)

    def file_size(self, share: ShareKey) -> int | None:
        try:
            return os.stat(self.final_path(share)).st_size
        except FileNotFoundError:
            return None

    def remove(self, share: ShareKey) -> bool:
        """Unlink the final file. No directory fsync: if the unlink is lost in a crash, the file is
        an orphan without an index entry, which nothing serves and a later write overwrites."""
        try:
            os.unlink(self.final_path(share))
        except FileNotFoundError:
            return False
        return True

    def iter_final(self) -> Iterator[tuple[ShareKey | None, str]]:
        """(key its name says or None, path) of every file under chunks/: what re-indexing walks
        when the index is lost (the only place names are parsed back)."""
        for dirpath, _dirs, names in os.walk(self.chunks_dir):
            for name in sorted(names):
                yield ShareKey.from_file_name(name), os.path.join(dirpath, name)

    def quarantine_path(self, path: str, now_unix_ms: int) -> str:
        """Move any file (one re-indexing refused) to quarantine/; returns its new path."""
        target = os.path.join(self.quarantine_dir,
                              f"{os.path.basename(path)}.{now_unix_ms}.{uuid.uuid4().hex[:8]}")
        os.rename(path, target)
        fsync_dir(self.quarantine_dir)
        return target

    def quarantine(self, share: ShareKey, now_unix_ms: int) -> str:
        """Move the final file to quarantine/; returns its new path, or "" if it was gone."""
        source = self.final_path(share)
        target = os.path.join(self.quarantine_dir, f"{share}.{now_unix_ms}.{uuid.uuid4().hex[:8]}")
        try:
            os.replace(source, target)
        except FileNotFoundError:
            return ""
        fsync_dir(self.quarantine_dir)
        fsync_dir(os.path.dirname(source))
        return target

    # -- directories -------------------------------------------------------------------------

    def _ensure_durable_dir(self, path: str) -> None:
        with self._durable_dirs_lock:
            if path in self._durable_dirs:
                return
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            pass
        except OSError as exc:
            raise_if_full(exc, path)
            raise
        fsync_dir(os.path.dirname(path))
        with self._durable_dirs_lock:
            self._durable_dirs.add(path)
