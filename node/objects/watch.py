"""Watch: a bucket's changes as a stream, resumable from a cursor through any node.

Each metadata home of a bucket keeps a change log of what it applied, in arrival order
(node/store/changes.py). A watch, on whichever node the client reached, reads every live home's log
from its position (`ReadChanges`), merges them and sends each change once:

- **Nothing acknowledged is missed.** A put is acknowledged once its manifest is on a write quorum
  of the homes, so it is in the log of at least that many of them; the watch reads every live home,
  and a home's log only grows at its end, so a position ("up to sequence N of this home's log")
  has seen everything the home had applied then. A home that is down is skipped: what it logged is
  also in the logs of the homes that acknowledged with it, and when it comes back it is read from
  where it was.
- **The cursor** carries one position per home (node id, store id, sequence number), the bucket and
  when it was taken, as base64 of a `WatchCursor`. Every event carries the cursor after it, and so
  does a progress message every few seconds when nothing under the watched prefix changed. Given
  back, through any node, it continues after that event. A home the cursor does not know (the ring
  moved the bucket, or the home's disk was replaced: a new store id is a new log) is read from a
  minute before the cursor was taken (`UNKNOWN_HOME_SLACK_S`): a change that reached only that home
  later is sent, and some already sent may be sent again.
- **At least once.** The same change reaches several homes, and the merge sends it once per watch
  (by key, version stamp, version id and kind, among the last `RECENT_EVENTS_MAX`); a watch started
  again from a cursor may send again what came after the cursor in one home's log but was sent from
  another's. Watchers treat an event as "this is now so", which repeating does not change.
- **Order.** The logs are merged by the versions' stamps (HLC), each home's in its own order, so a
  key's changes come in the order they were made; a version that reached every home late (an older
  stamp arriving after a newer one) comes when it arrives, marked not current.
- **Retention.** Homes keep `repair.change_retention_s` (7 days) of log. A cursor older than that, or
  one whose position in a home's log has been pruned past, is FAILED_PRECONDITION: the watcher has
  missed changes and must resync (list the bucket) and watch from now.

The watch polls the homes every `POLL_S` (one small read per home while nothing changes), so an
event reaches a watcher on another node within about that plus a round trip. Rejected: pushing
changes from the homes to the watching node (a subscription to keep per watcher on every home, and
to re-establish after every restart, for what a poll per fifth of a second already gives); ordering
logs by the versions' stamps (see changes.py: entries would land behind a reader's position).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from google.protobuf.message import DecodeError

from node import errors
from node.hlc import stamp_key
from node.objects.conditions import stamp_text
from node.objects.replicas import HolderError
from node.store.versions import show_version_id
from ringstore.etag import etag
from ringstore.v1 import common_pb2, object_pb2

CURSOR_PREFIX = "c1."
_URLSAFE = str.maketrans("-_", "+/")
CURSOR_FORMAT_VERSION = 1
CURSOR_CHARS_MAX = 4096
# How often the homes are read while nothing changes, and how often progress goes out then.
POLL_S = 0.2
PROGRESS_S = 5.0
# Entries read from one home per poll.
READ_LIMIT = 1000
# Changes remembered to send each once per watch.
RECENT_EVENTS_MAX = 65536
# A home the cursor has no position in is read from this long before the cursor was taken.
UNKNOWN_HOME_SLACK_S = 60.0
# Watch streams one node serves at once: each holds one of its 64 client-facing server threads.
WATCHES_PER_NODE_MAX = 16
KIND_NAMES = {common_pb2.CHANGE_PUT: "put", common_pb2.CHANGE_DELETE: "delete", common_pb2.CHANGE_ERASE: "erase",
              common_pb2.CHANGE_REWRITE: "rewrite", common_pb2.CHANGE_TAGS: "tags"}


def encode_cursor(cursor: common_pb2.WatchCursor) -> str:
    return CURSOR_PREFIX + base64.urlsafe_b64encode(cursor.SerializeToString()).decode("ascii").rstrip("=")


def decode_cursor(text: str, tenant: str, bucket: str) -> common_pb2.WatchCursor:
    """The cursor `text` stands for; INVALID_ARGUMENT naming what is wrong with it."""
    if len(text) > CURSOR_CHARS_MAX or not text.startswith(CURSOR_PREFIX):
        raise errors.InvalidArgument(f"watch cursor {text[:40]!r}... is not one a watch gave: give back the cursor "
                                     "of the last event you handled, whole")
    body = text[len(CURSOR_PREFIX):]
    cursor = common_pb2.WatchCursor()
    try:
        raw = base64.b64decode(body.translate(_URLSAFE) + "=" * (-len(body) % 4), validate=True)
        cursor.ParseFromString(raw)
        if not raw or cursor.format_version == 0:
            raise ValueError("no cursor in it")
    except (ValueError, DecodeError):
        raise errors.InvalidArgument(f"watch cursor {text[:40]!r}... is damaged (not the text a watch gave): give "
                                     "back the cursor of the last event you handled, whole") from None
    if cursor.format_version != CURSOR_FORMAT_VERSION:
        raise errors.InvalidArgument(f"watch cursor has format {cursor.format_version}; this node reads "
                                     f"{CURSOR_FORMAT_VERSION}")
    if (cursor.tenant, cursor.bucket) != (tenant, bucket):
        raise errors.InvalidArgument(f"watch cursor is for bucket {cursor.bucket!r}, not {bucket!r}: a cursor "
                                     "continues the watch of the bucket it came from")
    return cursor


class WatchSlots:
    """The watch streams a node serves at once, at most `limit` (thread-safe)."""

    def __init__(self, limit: int = WATCHES_PER_NODE_MAX) -> None:
        self._limit = limit
        self._taken = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """A slot while the stream runs; RESOURCE_EXHAUSTED when every slot is taken."""
        with self._lock:
            if self._taken >= self._limit:
                raise errors.ResourceExhausted(
                    f"this node serves {self._limit} watches already, its most: watch through another node")
            self._taken += 1
        try:
            yield
        finally:
            with self._lock:
                self._taken -= 1


def change_of(record: common_pb2.ChangeRecord) -> object_pb2.ObjectChange:
    return object_pb2.ObjectChange(
        key=record.key, kind=KIND_NAMES.get(record.kind, "unknown"), version_id=show_version_id(record.version_id),
        version=stamp_text(record.version), current=record.current, size_bytes=record.size_bytes,
        etag=etag(record.md5, record.part_count, record.blake3, record.chunks_blake3) if record.kind == common_pb2.CHANGE_PUT else "",
        written_at_unix_ms=record.version.physical_ms)


class Watch:
    """One watch of a bucket (see the module docstring). `read(node, after_seq, since_ms, limit)`:
    a home's ReadChangesResponse; `homes()`: the bucket's metadata homes now; `is_live(node)`."""

    def __init__(self, *, tenant: str, bucket: str, prefix: str, cursor: str, from_now: bool,
                 read: Callable[[str, int, int, int], object], homes: Callable[[], list[str]],
                 is_live: Callable[[str], bool], wall_ms: Callable[[], int], retention_s: float,
                 poll_s: float = POLL_S, progress_s: float = PROGRESS_S) -> None:
        self._tenant, self._bucket, self._prefix = tenant, bucket, prefix
        self._read, self._homes, self._is_live, self._wall_ms = read, homes, is_live, wall_ms
        self._poll_s, self._progress_s = poll_s, progress_s
        self._recent: collections.OrderedDict[tuple, None] = collections.OrderedDict()
        # node id -> (store id, last seq delivered)
        self._positions: dict[str, tuple[str, int]] = {}
        now_ms = wall_ms()
        if cursor:
            taken = decode_cursor(cursor, tenant, bucket)
            oldest_ms = now_ms - round(retention_s * 1000)
            if taken.made_at_unix_ms < oldest_ms:
                raise errors.FailedPrecondition(
                    f"watch cursor of {bucket} was taken {(now_ms - taken.made_at_unix_ms) / 86400000:.1f} days ago; "
                    f"the homes keep {retention_s / 86400:g} days of changes: resync (list the bucket) and watch "
                    "--from-now")
            self._positions = {p.node_id: (p.store_id, p.seq) for p in taken.positions}
            self._since_ms = max(1, taken.made_at_unix_ms - round(UNKNOWN_HOME_SLACK_S * 1000))
        elif from_now:
            self._since_ms = now_ms
            for node in homes():
                if is_live(node):
                    try:
                        reply = read(node, 0, now_ms, 1)
                    except HolderError:
                        continue  # read from `since_ms` when it answers
                    # Before the first change that arrived from now on (if one already has).
                    self._positions[node] = (reply.store_id, reply.entries[0].seq - 1 if reply.entries
                                             else reply.last_seq)
        else:
            self._since_ms = 0  # from the oldest change kept

    def cursor(self) -> str:
        return encode_cursor(common_pb2.WatchCursor(
            format_version=CURSOR_FORMAT_VERSION, tenant=self._tenant, bucket=self._bucket,
            made_at_unix_ms=self._wall_ms(), positions=[
                common_pb2.WatchPosition(node_id=node, store_id=store, seq=seq)
                for node, (store, seq) in sorted(self._positions.items())]))

    def events(self, active: Callable[[], bool]) -> Iterator[object_pb2.WatchEvent]:
        """The stream: changes as they come and progress now and then, while `active()`."""
        last_sent = time.monotonic()
        yield object_pb2.WatchEvent(cursor=self.cursor())  # where this watch starts
        while active():
            batches, full = self._poll()
            for record in self._merged(batches):
                yield object_pb2.WatchEvent(cursor=self.cursor(), change=change_of(record))
                last_sent = time.monotonic()
            if time.monotonic() - last_sent >= self._progress_s:
                yield object_pb2.WatchEvent(cursor=self.cursor())
                last_sent = time.monotonic()
            if not full:
                time.sleep(self._poll_s)

    def _poll(self) -> tuple[dict[str, tuple[str, list]], bool]:
        """node -> (store id, [(seq, record)]) from each live home, and whether any read was full."""
        batches: dict[str, tuple[str, list]] = {}
        full = False
        for node in self._homes():
            if not self._is_live(node):
                continue
            known = self._positions.get(node)
            try:
                reply = self._read(node, known[1] if known else 0, 0 if known else self._since_ms, READ_LIMIT)
                if known and reply.store_id != known[0]:  # a new store: a new log
                    reply = self._read(node, 0, self._since_ms, READ_LIMIT)
                    known = None
            except HolderError:
                continue  # what it logged is in the other homes' logs too; read it when it is back
            if known and reply.first_seq > known[1] + 1:
                raise errors.FailedPrecondition(
                    f"the changes of {self._bucket} after this watch's cursor were pruned on {node} (older than "
                    "the retention): resync (list the bucket) and watch --from-now")
            entries = [(entry.seq, entry.record) for entry in reply.entries]
            if not entries and not known:
                self._positions[node] = (reply.store_id, reply.last_seq if self._since_ms else 0)
            batches[node] = (reply.store_id, entries)
            full = full or len(entries) == READ_LIMIT
        return batches, full

    def _merged(self, batches: dict[str, tuple[str, list]]) -> Iterator[common_pb2.ChangeRecord]:
        """Each new change once, in stamp order across homes and log order within each; every
        entry read moves its home's position, sent or not (a repeat, or outside the prefix)."""
        heads = {node: 0 for node, (_, entries) in batches.items() if entries}

        def take(node: str) -> common_pb2.ChangeRecord:
            store, entries = batches[node]
            seq, record = entries[heads[node]]
            heads[node] += 1
            if heads[node] == len(entries):
                del heads[node]
            self._positions[node] = (store, seq)
            return record

        def identity_of(record: common_pb2.ChangeRecord) -> tuple:
            return record.key, stamp_key(record.version), record.version_id, record.kind

        while heads:
            record = take(min(heads, key=lambda n: stamp_key(batches[n][1][heads[n]][1].version)))
            identity = identity_of(record)
            # The same change at the head of other homes' logs goes with it, so the cursor sent
            # with it is past every copy read so far.
            for other in [n for n in heads if identity_of(batches[n][1][heads[n]][1]) == identity]:
                take(other)
            if identity in self._recent or not record.key.startswith(self._prefix):
                continue
            self._recent[identity] = None
            if len(self._recent) > RECENT_EVENTS_MAX:
                self._recent.popitem(last=False)
            yield record
