"""LMDB tables: one environment under meta/, thirteen named dbs, values with a format version.

    chunks      ShareKey.db_key()             -> StoredShare      (local index of share files)
    refs        ShareKey.db_key() + ref_key   -> ref record       (object versions using a copy)
    placements  placement_key (per layout)    -> PlacementRecord  (who holds the layout's copies)
    manifests   tenant\\0bucket\\0key          -> Manifest         (the key's current version; a
                                                                    key over 478 bytes is
                                                                    shortened, see keys.hashed_db_key)
    versions    tenant\\0bucket\\0 + key hash + version id
                                             -> Manifest         (the key's other versions and
                                                                    erased records, see versions.py)
    key_registers tenant\\0bucket\\0key        -> KeyRegisterState (conditional writes' register,
                                                                    node/objects/conditions.py)
    object_index  tenant\\0bucket\\0 + position -> object key     (secondary indexes of current
                                                                    objects, see index.py)
    buckets     tenant\\0name                 -> BucketRecord     (newest version only; on a bucket
                                                                 directory home: the record accepted)
    bucket_promises tenant\\0name             -> BucketPromise    (bucket register promises)
    usage       tenant\\0bucket\\0             -> UsageRecord      (what the manifests here of that
                                                                 bucket add up to, see usage.py)
    savings     tenant\\0bucket\\0, \\xff     -> DedupRecord      (what deduplication saves among the
                                                                 copies here, see savings.py)
    changes     tenant\\0bucket\\0 + seq      -> ChangeRecord     (what this home applied to the
                                                                 bucket's objects, in order; see
                                                                 changes.py)
    meta        b"format_version", b"node_id" -> ASCII / UTF-8     (the data dir's own identity)
                b"store"                     -> JSON StoreIdentity (this environment's identity)

One environment, so an index entry, its reference row and its placement record commit in one
transaction: either all are durable or none is. `sync=True, metasync=True`: a commit that returns is
on disk (about 100 us per commit here), which is what lets the write path acknowledge right after
it.

A ref record is one format-version byte followed by the deterministic serialization of the
`ObjectRef` (the message has no format_version field of its own, and the row must say which object
version it stands for so `references()` can list them). The row key already identifies the ref; the
value is there to be read back, not to be looked up by.

Every value (in every db but the layout marker `meta/format_version`) is stored in an envelope:

    1 byte  envelope format version (1)
    8 bytes blake3(db name, 0, key length as 4 bytes big-endian, key, payload), first 8 bytes
    n bytes payload (the record as described above)

Reading a value checks its envelope; a mismatch raises CorruptRecord (the record is never parsed,
returned or synced out; `NodeStore` quarantines it). The db name and the key are in the hash so a
value that LMDB hands back under the wrong key, or from another table, fails too. 8 bytes catch
any random damage with probability 1 - 2^-64 at 9 bytes per record; blake3 is already a dependency
and hashes a 300-byte manifest in about a microsecond, against the ~100 us synced commit of every
write. Rejected alternatives: CRC32 (as cheap, but 4 bytes and not keyed by db and key in the
same call), trusting LMDB (it has no checksums: a flipped byte in a value reads back as a value,
and protobuf often parses it), and a checksum field inside each protobuf record (the refs rows and
the meta values are not protobuf, and a corrupt record must be caught before it is parsed).
`verify_env` walks every db at start: LMDB's own errors (a page that is not a page) mean the env
is damaged as a whole; bad envelopes are counted per db and key.

Every record is checked on the way in and on the way out: a format_version this code does not know
raises UnknownFormatVersion instead of being half-understood (protobuf would happily parse a newer
record and silently drop what it does not know). Bucket records are at format 2 (accepted under a
ballot of the bucket register); format 1 records, written before ballots, are still read as they
are: their unset ballot orders them below any format 2 version of the same bucket, so the first
change through the register supersedes them, with no rewrite at open (the migration is that
ordering, in `keys.bucket_order_key`). The data dir as a whole carries a layout version in the
meta db; migrations are code run at open, in the open transaction:

    1 -> 2  erasure share keys gain their geometry (34 -> 36 bytes), placement records of erasure
            layouts move from the bare chunk id to their layout key, and the refs db appears.
            Replica keys and replica placements are unchanged. A layout-1 erasure share cannot be
            migrated (its key does not say K+M), so a data dir holding one is refused; layout 1
            was written before erasure coding was implemented, so none should exist. Copies from
            layout 1 carry no references: the first release of any ref lets them go, as an
            unconditional delete did before.
    2 -> 3  every value but meta/format_version is wrapped in its checksum envelope (one
            rewrite of each record, in the open transaction).
    3 -> 4  manifest keys longer than MANIFEST_DB_KEY_INLINE_BYTES_MAX (478) bytes are shortened
            to that head + NUL + blake3 of the whole key (`keys.hashed_db_key`), so object keys of
            up to 1024 bytes fit LMDB's 511-byte keys. Layout 3 could only hold whole keys of
            479..511 bytes; those move (their envelope is sealed again: the checksum covers the
            key). Every other record is unchanged.
    4 -> 5  the usage db appears, filled with what the manifests already here add up to (one pass
            over them, in the open transaction).
    5 -> 6  the versions, key_registers and object_index dbs appear; every manifest written before is
            its key's null version and current (an unset version_id is the null version's), and is
            indexed (one pass over them, in the open transaction).
    6 -> 7  the savings db appears, filled with what the copies here already save (one pass over
            the reference rows, in the open transaction).
    7 -> 8  the changes db appears, empty: the log starts with the first change after the upgrade.

The store identity (see `identity`) is created in the transaction that creates the tables: a fresh
environment gets a new one created now; an environment that already has a layout version but no
identity (written before identities existed) gets one created at 0, since it is not a new store.

Rejected alternatives: SQLite (a query planner and SQL text for what are five sorted key-value
maps, and slower synced commits), one LMDB environment per table (no atomic commit across the index,
its references and the placement record), and JSON values (bigger, and no schema shared with the
wire contract).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import lmdb
from google.protobuf.message import DecodeError, Message

from ringstore.v1 import common_pb2

import blake3

from node.store.identity import (StoreIdentity, decode_identity, encode_identity, migrated_identity,
                                 new_identity)

from node.store.errors import (CorruptRecord, InvalidArgument, MetadataUnavailable, StoreError,
                               StoreFull, UnknownFormatVersion)
from node.store.keys import (CHUNK_ID_BYTES, LMDB_KEY_BYTES_MAX, MANIFEST_DB_KEY_INLINE_BYTES_MAX, REF_KEY_BYTES,
                             SHARE_DB_KEY_BYTES, key_partition, manifest_key, manifest_key_prefix,
                             placement_key)
from node.store.index import entries as index_entries
from node.store import savings
from node.store.usage import applied, breakdown_key, breakdown_names, contribution

LAYOUT_FORMAT_VERSION = 8
# Envelope of every stored value (see the module docstring).
ENVELOPE_FORMAT_VERSION = 1
ENVELOPE_CHECKSUM_BYTES = 8
ENVELOPE_HEADER_BYTES = 1 + ENVELOPE_CHECKSUM_BYTES
# Corrupt records one verify_env call lists (it still counts them all); beyond this many the env
# is treated as damaged as a whole.
VERIFY_CORRUPT_LISTED_MAX = 1000
RECORD_FORMAT_VERSION = 1
# Format of a ref record's leading byte (see the module docstring).
REF_RECORD_FORMAT_VERSION = 1
# Format of bucket records written now (with a ballot); format 1 (no ballot) is still read.
BUCKET_RECORD_FORMAT_VERSION = 2
# Record formats each record type may carry; types not named read only RECORD_FORMAT_VERSION.
RECORD_FORMAT_VERSIONS_READ = {"BucketRecord": (1, BUCKET_RECORD_FORMAT_VERSION)}
# Named dbs the environment may hold; LMDB sizes a table of this many slots at open.
MAX_DBS = 16
DB_CHUNKS = b"chunks"
DB_REFS = b"refs"
DB_PLACEMENTS = b"placements"
DB_MANIFESTS = b"manifests"
DB_BUCKETS = b"buckets"
DB_BUCKET_PROMISES = b"bucket_promises"
DB_META = b"meta"
DB_USAGE = b"usage"
DB_VERSIONS = b"versions"
DB_KEY_REGISTERS = b"key_registers"
DB_INDEX = b"object_index"
DB_SAVINGS = b"savings"
DB_CHANGES = b"changes"
DB_NAMES = (DB_CHUNKS, DB_REFS, DB_PLACEMENTS, DB_MANIFESTS, DB_BUCKETS, DB_BUCKET_PROMISES, DB_META,
            DB_USAGE, DB_VERSIONS, DB_KEY_REGISTERS, DB_INDEX, DB_SAVINGS, DB_CHANGES)
META_FORMAT_VERSION = b"format_version"
META_NODE_ID = b"node_id"
META_STORE = b"store"

R = TypeVar("R", bound=Message)
# What LMDB raises on a file that is not what it wrote (a page that is not a page, a b-tree that
# points nowhere, a db record that is not a db): the env is damaged as a whole.
LMDB_DAMAGE_ERRORS = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError,
                      lmdb.BadTxnError, lmdb.PanicError, lmdb.ProblemError, lmdb.IncompatibleError,
                      lmdb.BadDbiError, lmdb.VersionMismatchError)


def _checksum(db_name: bytes, key: bytes, payload: bytes | memoryview) -> bytes:
    hasher = blake3.blake3(db_name)
    hasher.update(b"\0")
    hasher.update(len(key).to_bytes(4, "big"))
    hasher.update(key)
    hasher.update(payload)
    return hasher.digest(length=ENVELOPE_CHECKSUM_BYTES)


def seal(db_name: bytes, key: bytes, payload: bytes) -> bytes:
    """The stored form of `payload` under `key` in db `db_name`: envelope version, checksum,
    payload."""
    return (bytes([ENVELOPE_FORMAT_VERSION]) + _checksum(db_name, key, payload) + payload)


def unseal(db_name: bytes, key: bytes, raw: bytes) -> bytes:
    """The payload of a stored value; CorruptRecord if its envelope does not check out."""
    if len(raw) < ENVELOPE_HEADER_BYTES:
        raise CorruptRecord(db=db_name.decode(), key=key, raw=raw,
                            detail=f"value of {len(raw)} bytes is shorter than its envelope")
    if raw[0] != ENVELOPE_FORMAT_VERSION:
        # The data dir's layout version says every envelope here is version 1: another byte is
        # damage, not a newer writer (a newer layout is refused at open).
        raise CorruptRecord(db=db_name.decode(), key=key, raw=raw,
                            detail=f"envelope format_version {raw[0]}, expected "
                                   f"{ENVELOPE_FORMAT_VERSION}")
    payload = raw[ENVELOPE_HEADER_BYTES:]
    expected = raw[1:ENVELOPE_HEADER_BYTES]
    actual = _checksum(db_name, key, payload)
    if actual != expected:
        raise CorruptRecord(db=db_name.decode(), key=key, raw=raw,
                            detail=f"checksum {actual.hex()} does not match stored "
                                   f"{bytes(expected).hex()}")
    return bytes(payload)


def check_record_version(record: Message, where: str) -> None:
    """Raise UnknownFormatVersion unless the record's format_version is one this code reads."""
    version = record.format_version  # type: ignore[attr-defined]
    known = RECORD_FORMAT_VERSIONS_READ.get(type(record).__name__, (RECORD_FORMAT_VERSION,))
    if version not in known:
        hint = f" (unset: set format_version={known[-1]} when building the record)" if version == 0 else ""
        raise UnknownFormatVersion(
            f"{type(record).__name__} {where} has format_version {version}{hint}; "
            f"this node reads only format_version {' or '.join(map(str, known))}")


def encode_record(record: Message, where: str) -> bytes:
    check_record_version(record, where)
    return record.SerializeToString(deterministic=True)


def encode_ref(ref: common_pb2.ObjectRef) -> bytes:
    """Value of a reference row: format byte + deterministic ObjectRef bytes."""
    return bytes([REF_RECORD_FORMAT_VERSION]) + ref.SerializeToString(deterministic=True)


def decode_ref(raw: bytes, where: str) -> common_pb2.ObjectRef:
    if not raw or raw[0] != REF_RECORD_FORMAT_VERSION:
        version = raw[0] if raw else "(empty)"
        raise UnknownFormatVersion(
            f"reference {where} has format_version {version}; this node reads only "
            f"format_version {REF_RECORD_FORMAT_VERSION}")
    ref = common_pb2.ObjectRef()
    try:
        ref.ParseFromString(raw[1:])
    except DecodeError as exc:
        raise StoreError(f"reference {where} in LMDB does not parse: {exc}") from exc
    return ref


def decode_record(message_type: type[R], raw: bytes, where: str) -> R:
    record = message_type()
    try:
        record.ParseFromString(raw)
    except DecodeError as exc:
        raise StoreError(f"{message_type.__name__} {where} in LMDB does not parse: {exc}") from exc
    check_record_version(record, where)
    return record


# What `probe_env`'s child process runs: print the stored node id (hex of its raw value), then walk
# every named db to its end and compare the count LMDB keeps; exit 1 with the error on stderr when
# LMDB raises. Only lmdb is imported, so the child starts in a few tens of milliseconds.
_PROBE_SCRIPT = """
import sys, lmdb
path, max_dbs = sys.argv[1], int(sys.argv[2])
try:
    env = lmdb.open(path, max_dbs=max_dbs, subdir=True, readonly=True, lock=False)
    with env.begin(buffers=False) as txn:
        names = [bytes(key) for key in txn.cursor().iternext(values=False)]
        if b"meta" in names:
            raw = txn.get(b"node_id", db=env.open_db(b"meta", txn=txn, create=False))
            if raw is not None:
                print("node_id", raw.hex(), flush=True)
        for name in names:
            db = env.open_db(name, txn=txn, create=False)
            seen = sum(1 for _ in txn.cursor(db=db).iternext(values=True))
            if seen != txn.stat(db)["entries"]:
                raise lmdb.CorruptedError(f"db {name!r} says it holds {txn.stat(db)['entries']} records, a walk found {seen}")
except lmdb.Error as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
"""


def probe_env(path: str) -> tuple[str, str | None]:
    """Walk the env at `path` in a child process, read only, before this process opens it: some
    damaged pages make LMDB's own assertions abort the process reading them, which no handler
    survives. Returns (damage, node id): damage is "" when the child walked every db to its end,
    else what it died of (an LMDB error, or the signal an assertion raised); the node id is the one
    stored in the env if the child could read it before failing (None otherwise). A missing env
    is no damage. Cost: a child start (tens of milliseconds) plus a walk of every record's key
    and value, without the checksums `verify` then checks in this process."""
    if not os.path.exists(os.path.join(path, "data.mdb")):
        return "", None
    done = subprocess.run([sys.executable, "-c", _PROBE_SCRIPT, path, str(MAX_DBS)], capture_output=True,
                          text=True, check=False)
    node_id = None
    for line in done.stdout.splitlines():
        name, _, value = line.partition(" ")
        if name == "node_id":
            with contextlib.suppress(ValueError, CorruptRecord, UnicodeDecodeError):
                node_id = unseal(DB_META, META_NODE_ID, bytes.fromhex(value)).decode("utf-8")
    if done.returncode == 0:
        return "", node_id
    said = (done.stderr.strip().splitlines() or [""])[-1][:300]
    if done.returncode < 0:
        return f"LMDB aborted a walk of it ({signal.Signals(-done.returncode).name}: {said})", node_id
    return said or f"a walk of it failed (exit {done.returncode})", node_id


def check_env(path: str) -> tuple[int, list[CorruptRecord], str]:
    """Read-only check of a stopped node's env (`noded --check-metadata`): (records checked,
    corrupt records, damage LMDB reported or ""). Changes nothing: no migration, no quarantine."""
    try:
        env = lmdb.open(path, max_dbs=MAX_DBS, subdir=True, readonly=True, lock=False)
    except lmdb.Error as exc:
        return 0, [], f"{type(exc).__name__}: {exc}"
    try:
        with env.begin(buffers=False) as txn:
            meta = env.open_db(DB_META, txn=txn, create=False)
            version = txn.get(META_FORMAT_VERSION, db=meta)
        if version != str(LAYOUT_FORMAT_VERSION).encode():
            return 0, [], (f"layout format_version {version!r} is not {LAYOUT_FORMAT_VERSION}: start the "
                           "node once to migrate it (older layouts carry no checksums)")
        checked = 0
        corrupt: list[CorruptRecord] = []
        with env.begin(buffers=False) as txn:
            for name in DB_NAMES:
                db = env.open_db(name, txn=txn, create=False)
                entries, seen = txn.stat(db)["entries"], 0
                for key, raw in txn.cursor(db=db):
                    seen += 1
                    if name == DB_META and key == META_FORMAT_VERSION:
                        continue
                    checked += 1
                    try:
                        unseal(name, key, raw)
                    except CorruptRecord as err:
                        corrupt.append(err)
                if seen != entries:
                    return checked, corrupt, (f"db {name.decode()} says it holds {entries} records, "
                                              f"a walk found {seen}")
        return checked, corrupt, ""
    except (lmdb.Error, KeyError) as exc:
        return 0, [], f"{type(exc).__name__}: {exc}"
    finally:
        env.close()


def count_usage(meta: "MetadataDb", txn: lmdb.Transaction, prefix: bytes = b""
                ) -> dict[bytes, common_pb2.UsageRecord]:
    """What the manifests under `prefix` (b"": all; a `manifest_key_prefix`: one bucket) add up to,
    per bucket, keyed like the usage db: current versions in the manifests db, the others in the
    versions db, and each bucket's breakdowns by prefix and content type (usage.breakdown_key). A
    manifest whose envelope or record is bad is left out."""
    found: dict[bytes, common_pb2.UsageRecord] = {}
    for db, name, current in ((meta.manifests, DB_MANIFESTS, True), (meta.versions, DB_VERSIONS, False)):
        for key, raw in meta.items(txn, db, prefix):
            (tenant, bucket), _ = key_partition(key, 2)
            try:
                manifest = decode_record(common_pb2.Manifest, unseal(name, key, raw), "manifest")
            except (CorruptRecord, StoreError):
                continue
            part = manifest_key_prefix(tenant, bucket)
            given = contribution(manifest, current=current)
            for record_key in [part] + [breakdown_key(part, kind, label) for kind, label in breakdown_names(manifest)]:
                found[record_key] = applied(found.get(record_key), contribution(None), given, manifest.version)
    return found


def count_savings(meta: "MetadataDb", txn: lmdb.Transaction) -> savings.Contribution:
    """What the copies indexed here save (savings.py), counted from every reference row: one walk
    of the refs db, grouped by copy, each copy's size read from its index entry. A row or entry whose
    envelope or record is bad is left out."""
    found: list[savings.Contribution] = []
    copy_key: bytes | None = None
    owners: list[savings.Owner] = []

    def close_copy() -> None:
        if copy_key is None or len(owners) < 2:
            return
        try:
            raw = meta.get(txn, meta.chunks, copy_key)
            size = None if raw is None else decode_record(common_pb2.StoredShare, raw, "share").size_bytes
        except (CorruptRecord, StoreError):
            return
        found.append(savings.contribution(owners, size))

    for key, raw in txn.cursor(db=meta.refs):
        key = bytes(key)
        share_key = key[:-REF_KEY_BYTES]
        if share_key != copy_key:
            close_copy()
            copy_key, owners = share_key, []
        try:
            ref = decode_ref(unseal(DB_REFS, key, bytes(raw)), key.hex())
        except (CorruptRecord, StoreError):
            continue
        owners.append((ref.tenant, ref.bucket))
    close_copy()
    return savings.summed(found)


class MetadataDb:
    """The LMDB environment and its named dbs. Thread-safe: LMDB serializes write transactions and
    read transactions never block."""

    def __init__(self, path: str, *, map_size_bytes: int,
                 now_unix_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        """Open (or create) the environment; a new one gets a new store identity created at
        `now_unix_ms()` (see `identity`)."""
        self.path = path
        self.map_size_bytes = map_size_bytes
        # Set once LMDB itself fails at run time (a damaged page): every later call raises
        # MetadataUnavailable until the node restarts and rebuilds (see `damaged`).
        self.damage: str = ""
        os.makedirs(path, mode=0o700, exist_ok=True)
        self.env = lmdb.open(path, max_dbs=MAX_DBS, map_size=map_size_bytes, subdir=True,
                             sync=True, metasync=True, mode=0o600)
        try:
            if self.env.max_key_size() < LMDB_KEY_BYTES_MAX:
                raise StoreError(
                    f"this LMDB build takes keys of at most {self.env.max_key_size()} bytes; "
                    f"Ringstore needs {LMDB_KEY_BYTES_MAX}: install the lmdb package's default build")
            with self.env.begin(write=True) as txn:
                self.chunks = self.env.open_db(DB_CHUNKS, txn=txn)
                self.refs = self.env.open_db(DB_REFS, txn=txn)
                self.placements = self.env.open_db(DB_PLACEMENTS, txn=txn)
                self.manifests = self.env.open_db(DB_MANIFESTS, txn=txn)
                self.buckets = self.env.open_db(DB_BUCKETS, txn=txn)
                self.bucket_promises = self.env.open_db(DB_BUCKET_PROMISES, txn=txn)
                self.meta = self.env.open_db(DB_META, txn=txn)
                self.usage = self.env.open_db(DB_USAGE, txn=txn)
                self.versions = self.env.open_db(DB_VERSIONS, txn=txn)
                self.key_registers = self.env.open_db(DB_KEY_REGISTERS, txn=txn)
                self.index = self.env.open_db(DB_INDEX, txn=txn)
                self.savings = self.env.open_db(DB_SAVINGS, txn=txn)
                self.changes = self.env.open_db(DB_CHANGES, txn=txn)
                self._names = {id(db): name for db, name in zip(self.dbs(), DB_NAMES)}
                fresh = self._check_layout_version(txn)
                # True when this open created the environment (an empty or replaced disk).
                self.created_now = fresh
                self.identity = self._load_identity(txn, fresh, now_unix_ms)
        except BaseException:
            self.env.close()
            raise

    def _check_layout_version(self, txn: lmdb.Transaction) -> bool:
        """Check (or set, or migrate to) the layout version; True when the environment is new."""
        raw = txn.get(META_FORMAT_VERSION, db=self.meta)
        if raw is None:
            tables = (self.chunks, self.refs, self.placements, self.manifests, self.buckets,
                      self.bucket_promises, self.usage, self.versions, self.key_registers, self.index,
                      self.savings, self.changes)
            entries = sum(txn.stat(db)["entries"] for db in tables)
            if entries:
                raise UnknownFormatVersion(
                    f"data dir metadata {self.path} holds {entries} records but no format_version; "
                    "it was not written by Ringstore")
            txn.put(META_FORMAT_VERSION, str(LAYOUT_FORMAT_VERSION).encode(), db=self.meta)
            return True
        if raw == b"1":
            self._migrate_1_to_2(txn)
            raw = b"2"
        if raw == b"2":
            self._migrate_2_to_3(txn)
            raw = b"3"
        if raw == b"3":
            self._migrate_3_to_4(txn)
            raw = b"4"
        if raw == b"4":
            self._migrate_4_to_5(txn)
            raw = b"5"
        if raw == b"5":
            self._migrate_5_to_6(txn)
            raw = b"6"
        if raw == b"6":
            self._migrate_6_to_7(txn)
            raw = b"7"
        if raw == b"7":
            txn.put(META_FORMAT_VERSION, str(LAYOUT_FORMAT_VERSION).encode(), db=self.meta)  # 7 -> 8
            return False
        if raw != str(LAYOUT_FORMAT_VERSION).encode():
            raise UnknownFormatVersion(
                f"data dir metadata {self.path} has layout format_version "
                f"{raw.decode(errors='replace')!r}; this node reads only {LAYOUT_FORMAT_VERSION}")
        return False

    def _load_identity(self, txn: lmdb.Transaction, fresh: bool,
                       now_unix_ms: Callable[[], int]) -> StoreIdentity:
        """This environment's identity; created here, in the opening transaction, when missing."""
        raw = self.get(txn, self.meta, META_STORE)
        if raw is not None:
            return decode_identity(raw, self.path)
        identity = new_identity(now_unix_ms()) if fresh else migrated_identity()
        self.put(txn, self.meta, META_STORE, encode_identity(identity))
        return identity

    def _migrate_1_to_2(self, txn: lmdb.Transaction) -> None:
        """Layout 1 -> 2 (see the module docstring), inside the open transaction: a crash or a
        refusal leaves the data dir at layout 1, untouched."""
        old_share_keys = sum(1 for key in txn.cursor(db=self.chunks).iternext(values=False)
                             if len(key) != CHUNK_ID_BYTES + 1)
        if old_share_keys:
            raise UnknownFormatVersion(
                f"data dir metadata {self.path} is at layout format_version 1 and holds "
                f"{old_share_keys} erasure share entries without a geometry; layout "
                f"{LAYOUT_FORMAT_VERSION} keys shares by K+M ({SHARE_DB_KEY_BYTES}-byte keys) and "
                "they cannot be migrated: remove those shares with a layout-1 node first")
        moves: list[tuple[bytes, bytes, bytes]] = []
        for key, raw in txn.cursor(db=self.placements):
            record = decode_record(common_pb2.PlacementRecord, raw, f"placement {key.hex()}")
            if record.policy.WhichOneof("policy") != "erasure_coding":
                continue
            coding = record.policy.erasure_coding
            try:
                new_key = placement_key(key, coding.data_shares, coding.parity_shares)
            except InvalidArgument as exc:
                raise StoreError(f"data dir metadata {self.path}: placement {key.hex()} cannot be "
                                 f"migrated to layout {LAYOUT_FORMAT_VERSION}: {exc}") from exc
            moves.append((key, new_key, raw))
        for old_key, new_key, raw in moves:
            txn.delete(old_key, db=self.placements)
            txn.put(new_key, raw, db=self.placements)
        txn.put(META_FORMAT_VERSION, b"2", db=self.meta)

    def _migrate_2_to_3(self, txn: lmdb.Transaction) -> None:
        """Layout 2 -> 3: wrap every value in its checksum envelope, in the open transaction (a
        crash leaves the data dir at layout 2, untouched). Values are read before any is
        rewritten, so a cursor never walks what it just wrote."""
        for db, name in zip(self.dbs(), DB_NAMES):
            rows = [(bytes(key), bytes(raw)) for key, raw in txn.cursor(db=db)]
            for key, raw in rows:
                if db is self.meta and key == META_FORMAT_VERSION:
                    continue
                txn.put(key, seal(name, key, raw), db=db)
        txn.put(META_FORMAT_VERSION, b"3", db=self.meta)

    def _migrate_3_to_4(self, txn: lmdb.Transaction) -> None:
        """Layout 3 -> 4 (see the module docstring), inside the open transaction: manifests whose
        whole key is longer than MANIFEST_DB_KEY_INLINE_BYTES_MAX move to their shortened key, their
        envelope sealed again for the new key."""
        moves: list[tuple[bytes, bytes, bytes]] = []
        for key, raw in txn.cursor(db=self.manifests):
            if len(key) <= MANIFEST_DB_KEY_INLINE_BYTES_MAX:
                continue
            payload = unseal(DB_MANIFESTS, bytes(key), bytes(raw))
            manifest = decode_record(common_pb2.Manifest, payload, f"manifest {key!r}")
            moves.append((bytes(key), manifest_key(manifest.tenant, manifest.bucket, manifest.key), payload))
        for old_key, new_key, payload in moves:
            txn.delete(old_key, db=self.manifests)
            txn.put(new_key, seal(DB_MANIFESTS, new_key, payload), db=self.manifests)
        txn.put(META_FORMAT_VERSION, b"4", db=self.meta)

    def _migrate_4_to_5(self, txn: lmdb.Transaction) -> None:
        """Layout 4 -> 5: fill the new usage db from the manifests here (a record that fails its
        envelope is left out; verify quarantines it and the store recounts after)."""
        for key, record in count_usage(self, txn).items():
            self.put(txn, self.usage, key, encode_record(record, "usage"))
        txn.put(META_FORMAT_VERSION, b"5", db=self.meta)

    def _migrate_5_to_6(self, txn: lmdb.Transaction) -> None:
        """Layout 5 -> 6: index every current manifest (node/store/index.py)."""
        self.index_manifests(txn)
        txn.put(META_FORMAT_VERSION, b"6", db=self.meta)

    def _migrate_6_to_7(self, txn: lmdb.Transaction) -> None:
        """Layout 6 -> 7: fill the savings db from the reference rows and index entries here (a
        record whose envelope is bad is left out: verify quarantines it, and the store counts the
        savings again then)."""
        self.replace_savings(txn, count_savings(self, txn))
        txn.put(META_FORMAT_VERSION, b"7", db=self.meta)

    def replace_savings(self, txn: lmdb.Transaction, found: savings.Contribution) -> None:
        """Make the savings db exactly `found` (a recount)."""
        txn.drop(self.savings, delete=False)
        for key, delta in sorted(found.items()):
            record = savings.applied(None, delta, f"savings {key!r}")
            if record is not None:
                self.put(txn, self.savings, key, encode_record(record, "savings"))

    def index_manifests(self, txn: lmdb.Transaction, prefix: bytes = b"") -> None:
        """Add the index entries of every current manifest under `prefix` (b"": all). A manifest
        whose envelope or record is bad is left out: verify quarantines it, and its partition is
        indexed again then."""
        for key, raw in self.items(txn, self.manifests, prefix):
            try:
                manifest = decode_record(common_pb2.Manifest, unseal(DB_MANIFESTS, key, raw), "manifest")
            except (CorruptRecord, StoreError):
                continue
            self.put_index(txn, manifest, add=True)

    @staticmethod
    def items(txn: lmdb.Transaction, db: lmdb._Database, prefix: bytes, *, start: bytes = b""
              ) -> Iterator[tuple[bytes, bytes]]:
        """(key, raw value) of every key of `db` starting with `prefix` (and not below `start`), in
        key order, inside the caller's transaction: one seek, then the range."""
        cursor = txn.cursor(db=db)
        more = cursor.set_range(max(prefix, start))
        while more:
            key = bytes(cursor.key())
            if not key.startswith(prefix):
                return
            yield key, bytes(cursor.value())
            more = cursor.next()

    def delete_prefix(self, txn: lmdb.Transaction, db: lmdb._Database, prefix: bytes,
                      keep: Callable[[bytes], bool] = lambda key: False) -> None:
        """Delete every key of `db` starting with `prefix` but those `keep` says to keep."""
        for key in [key for key, _ in self.items(txn, db, prefix) if not keep(key)]:
            txn.delete(key, db=db)

    def put_index(self, txn: lmdb.Transaction, manifest: common_pb2.Manifest | None, *, add: bool) -> None:
        """Add (or remove) the index entries of a current version, in the caller's transaction."""
        if manifest is None:
            return
        part = manifest_key_prefix(manifest.tenant, manifest.bucket)
        value = manifest.key.encode("utf-8")
        for position in index_entries(manifest):
            if add:
                self.put(txn, self.index, part + position, value)
            else:
                txn.delete(part + position, db=self.index)

    def dbs(self) -> tuple:
        """The named dbs, in DB_NAMES order."""
        return (self.chunks, self.refs, self.placements, self.manifests, self.buckets, self.bucket_promises,
                self.meta, self.usage, self.versions, self.key_registers, self.index, self.savings, self.changes)

    def name_of(self, db: lmdb._Database) -> bytes:
        return self._names[id(db)]

    def get(self, txn: lmdb.Transaction, db: lmdb._Database, key: bytes) -> bytes | None:
        """The checked payload under `key`, or None; CorruptRecord if its envelope is bad."""
        raw = txn.get(key, db=db)
        return None if raw is None else unseal(self._names[id(db)], key, raw)

    def put(self, txn: lmdb.Transaction, db: lmdb._Database, key: bytes, payload: bytes) -> None:
        txn.put(key, seal(self._names[id(db)], key, payload), db=db)

    def pop(self, txn: lmdb.Transaction, db: lmdb._Database, key: bytes) -> bytes | None:
        """Delete `key` and return its checked payload (None when absent). On a corrupt value it
        raises CorruptRecord, so the caller's transaction aborts and the store quarantines the
        record (deletes it in a transaction of its own)."""
        raw = txn.pop(key, db=db)
        return None if raw is None else unseal(self._names[id(db)], key, raw)

    def value(self, db: lmdb._Database, key: bytes, raw: bytes) -> bytes:
        """The checked payload of a (key, raw value) a cursor returned."""
        return unseal(self._names[id(db)], key, raw)

    def drop_if_same(self, db: lmdb._Database, key: bytes, raw: bytes | None) -> bool:
        """Delete `key` if it still holds exactly `raw` (None: whatever it holds); True if
        deleted. Quarantine of a corrupt record: a good value written since is kept."""
        with self.write() as txn:
            current = txn.get(key, db=db)
            if current is None or (raw is not None and current != raw):
                return False
            return txn.delete(key, db=db)

    def verify(self) -> tuple[int, list[CorruptRecord]]:
        """Walk every db and check every envelope (and that LMDB can walk its b-trees): returns
        (records checked, corrupt records, at most VERIFY_CORRUPT_LISTED_MAX). LMDB's own errors
        (lmdb.CorruptedError, PageNotFoundError, ...) propagate: the env is damaged as a whole."""
        checked = 0
        corrupt: list[CorruptRecord] = []
        with self.env.begin(write=False, buffers=False) as txn:
            for db, name in zip(self.dbs(), DB_NAMES):
                entries = txn.stat(db)["entries"]
                seen = 0
                for key, raw in txn.cursor(db=db):
                    seen += 1
                    if db is self.meta and key == META_FORMAT_VERSION:
                        continue
                    checked += 1
                    try:
                        unseal(name, key, raw)
                    except CorruptRecord as err:
                        if len(corrupt) == VERIFY_CORRUPT_LISTED_MAX:
                            raise lmdb.CorruptedError(
                                f"more than {VERIFY_CORRUPT_LISTED_MAX} corrupt records") from err
                        corrupt.append(err)
                if seen != entries:
                    raise lmdb.CorruptedError(
                        f"db {name.decode()} says it holds {entries} records, a walk found {seen}")
        return checked, corrupt

    def check_usable(self) -> None:
        if self.damage:
            raise MetadataUnavailable(f"metadata env {self.path} is damaged ({self.damage}); "
                                      "restart the node to rebuild it from its peers")

    def _damaged(self, exc: lmdb.Error) -> MetadataUnavailable:
        self.damage = f"{type(exc).__name__}: {exc}"
        return MetadataUnavailable(f"metadata env {self.path} is damaged ({self.damage}); "
                                   "restart the node to rebuild it from its peers")

    @contextlib.contextmanager
    def read(self) -> Iterator[lmdb.Transaction]:
        """A read transaction. LMDB failing inside it (a page that is not a page) marks the env
        damaged and raises MetadataUnavailable, now and on every later call."""
        self.check_usable()
        try:
            with self.env.begin(write=False, buffers=False) as txn:
                yield txn
        except LMDB_DAMAGE_ERRORS as exc:
            raise self._damaged(exc) from exc

    @contextlib.contextmanager
    def write(self) -> Iterator[lmdb.Transaction]:
        """One synced write transaction; commits on normal exit, aborts on exception."""
        self.check_usable()
        try:
            with self.env.begin(write=True) as txn:
                yield txn
        except LMDB_DAMAGE_ERRORS as exc:
            raise self._damaged(exc) from exc
        except lmdb.MapFullError as exc:
            raise StoreFull(
                f"metadata map {self.path} is full at map_size_bytes={self.map_size_bytes}; "
                "raise lmdb_map_size_bytes and restart") from exc
        except lmdb.Error as exc:
            # Out of disk while LMDB wrote its pages (ENOSPC is DiskError; EDQUOT shows only in the
            # message): nothing was committed.
            if not (isinstance(exc, lmdb.DiskError) or os.strerror(errno.EDQUOT) in str(exc)):
                raise
            raise StoreFull(f"metadata write to {self.path} failed, the disk is full ({exc}); "
                            "free disk space on this node") from exc

    def close(self) -> None:
        self.env.close()
