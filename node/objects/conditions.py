"""Conditional writes: a put that lands only if the key is as the writer last saw it.

`nodectl put --if-match ETAG | --if-version ID | --if-absent`, S3's `If-Match` and `If-None-Match: *`
on PutObject. Of many conditional writers racing for one key, exactly one wins each round; the
others are told FAILED_PRECONDITION (S3: 412 PreconditionFailed) and nothing of theirs becomes
visible, ever.

Why a register: the manifests are last-writer-wins per version id (node/store/versions.py), so a
check made by reading them and a write made after can interleave with another writer's check and
write: both see the old ETag, both write, both are told OK, and the later stamp silently wins.
Checking on each home as it writes (compare-and-set per home) is not enough either: with three
homes and three writers each home can take a different one, none reaches a quorum, and the homes
then disagree on a value nobody was told about. So the decision is made once, by a register per
key kept on the key's metadata homes and changed by CASPaxos exactly as the bucket register is
(node/objects/register.py, the same proposer): the register's value is the manifest the last
conditional write chose.

A conditional put:

1. stores its chunks like any put (its version stamped when it starts, every copy fsynced);
2. reads the key's current manifest by quorum, then changes the key's register: the current
   version is the newer of that read and the register's value. The condition is checked against
   it, and so is the put's own stamp: it must be newer than the current version's, or the put
   started before something it did not see and loses (a write that ran meanwhile, conditional or
   not). Refused: FAILED_PRECONDITION naming what was found. Else the register takes the new
   manifest under its ballot: of concurrent writers only one round can take the value another
   round saw, so the second is checked against the first's manifest and refused;
3. writes the manifest to a write quorum of the homes, as a put does, and only then answers OK.

A round of this put's that lost after its value reached one acceptor may still see that value
chosen by the round after it (another writer's, which must carry it forward): finding its own
manifest in the register, the put has won, and says so.

A writer that dies between 2 and 3 leaves a chosen manifest the homes lack: the next conditional
writer of the key finds it newer than what the homes answered and writes it to them first
("rolls it forward"), provided it is younger than the longest a put may take (half the GC grace:
an older one's chunks may be collected, and it was never acknowledged, so it is dropped).

Registers are purged. Each acceptor stamps a key's register whenever it promises or accepts for it,
and the tombstone purger (node/repair/tombstones.py) deletes registers untouched for
`repair.gc_grace_s` (T); an acceptor also refuses to accept a value whose manifest was stamped more
than the longest a put may take ago (H = T / 2: the coordinator refuses such a put before its
rounds anyway). Why forgetting is safe: what a purge loses is promises and accepts made at least T
ago. A value accepted that long ago is older than H, so a writer that learned of it would drop it
(above), and a value accepted within H left its acceptors touched, so none of them is purged while
it still counts. A round that relied on a lost promise was started by a put stamped at least T ago:
its accept would carry that manifest and be refused. So after a purge the register is as good as
new, and the next conditional write judges against the homes' manifests, as the first one did.

What this does not order: unconditional puts. They stay last-writer-wins by stamp, so a plain put
racing a conditional one may land before or after it. Conditions order conditional writers among
themselves and against every write that finished before their check.

Rejected: a lock per key (a lease that a paused holder outlives lets two writers in unless every
write is fenced, which is a ballot by another name); routing every put of a key through the register
(two round trips on every put for a guarantee only conditional writers ask for).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

from node import errors
from node.hlc import stamp_key
from node.objects.register import Register
from node.store.versions import show_version_id
from ringstore.etag import etag
from ringstore.v1 import common_pb2

KEY_REGISTER_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Condition:
    """What a conditional put requires of the key's current version (at most one of the three)."""

    if_match: str = ""  # its ETag (unquoted; "*": any current version)
    if_version: str = ""  # its version id, or the stamp `nodectl stat` shows
    if_absent: bool = False  # no current version (none, or a delete marker)

    def __bool__(self) -> bool:
        return bool(self.if_match or self.if_version or self.if_absent)

    def describe(self) -> str:
        if self.if_absent:
            return "if absent"
        if self.if_match:
            return f"if its ETag is {self.if_match}"
        return f"if its version is {self.if_version}"


def stamp_text(stamp: common_pb2.VersionStamp) -> str:
    """"physical_ms.logical.node_id", "+rN" after N conversions: the version `nodectl stat` shows."""
    text = f"{stamp.physical_ms}.{stamp.logical}.{stamp.node_id}"
    return f"{text}+r{stamp.rewrite}" if stamp.rewrite else text


def check(condition: Condition, current: common_pb2.Manifest | None, name: str) -> None:
    """FAILED_PRECONDITION unless `current` (the key's current version; None or a delete marker:
    there is none) meets `condition`."""
    live = current if current is not None and not current.tombstone else None
    if condition.if_absent:
        if live is not None:
            raise errors.ConditionFailed(f"{name} exists (ETag {etag(live.md5, live.part_count, live.blake3, live.chunks_blake3)}); "
                                            "the put was only to happen if it did not")
        return
    if live is None:
        raise errors.ConditionFailed(f"{name} does not exist; the put was only to happen {condition.describe()}")
    if condition.if_match:
        found = etag(live.md5, live.part_count, live.blake3, live.chunks_blake3)
        if condition.if_match != "*" and condition.if_match.strip('"') != found:
            raise errors.ConditionFailed(f"{name} has ETag {found}, not {condition.if_match.strip(chr(34))}: "
                                            "it changed since it was read; read it again and retry")
        return
    version_id = show_version_id(live.version_id)
    if condition.if_version not in (stamp_text(live.version), version_id if live.version_id else None):
        raise errors.ConditionFailed(
            f"{name} is at version {version_id if live.version_id else stamp_text(live.version)}, not "
            f"{condition.if_version}: it changed since it was read; read it again and retry")


class _KeySpace:
    """Key registers: acceptors are the key's metadata homes; values order by ballot."""

    acceptors_word = "metadata homes"

    def __init__(self, replicas, homes: Callable[[str, str], Sequence[str]]) -> None:
        self._replicas = replicas
        self._homes = homes

    def describe(self, name: tuple) -> str:
        return f"the register of {name[1]}/{name[2]}"

    def homes(self, name: tuple) -> Sequence[str]:
        return self._homes(name[0], name[1])

    def read(self, node: str, name: tuple):
        return self._replicas.read_key_register(node, *name)

    def prepare(self, node: str, name: tuple, ballot: common_pb2.Ballot):
        return self._replicas.prepare_key_register(node, *name, ballot)

    def accept(self, node: str, value: common_pb2.KeyRegister):
        return self._replicas.accept_key_register(node, value)

    def order_key(self, value: common_pb2.KeyRegister) -> tuple:
        return (value.ballot.counter, value.ballot.node_id)

    def with_ballot(self, value: common_pb2.KeyRegister, ballot: common_pb2.Ballot) -> common_pb2.KeyRegister:
        out = common_pb2.KeyRegister()
        out.CopyFrom(value)
        out.format_version = KEY_REGISTER_FORMAT_VERSION
        out.ballot.CopyFrom(ballot)
        return out

    def absent(self, name: tuple) -> common_pb2.KeyRegister:
        return common_pb2.KeyRegister(format_version=KEY_REGISTER_FORMAT_VERSION, tenant=name[0], bucket=name[1],
                                      key=name[2])


class ConditionalWrites:
    """The coordinator's side of conditional writes (thread-safe). `read_current(bucket, key)`: the
    key's current manifest by quorum (None: none); `write(manifest)`: to a write quorum of the homes;
    `put_duration_max_s`: the longest a put may take (a chosen value older than that is dropped)."""

    def __init__(self, *, replicas, homes: Callable[[str, str], Sequence[str]], node_id: str,
                 is_live: Callable[[str], bool], pool, wall_ms: Callable[[], int],
                 read_current: Callable[[str, str], common_pb2.Manifest | None],
                 write: Callable[[common_pb2.Manifest], None], put_duration_max_s: float) -> None:
        self._register = Register(_KeySpace(replicas, homes), node_id=node_id, is_live=is_live, pool=pool,
                                  wall_ms=wall_ms)
        self._wall_ms = wall_ms
        self._read_current = read_current
        self._write = write
        self._put_duration_max_s = put_duration_max_s

    def commit(self, manifest: common_pb2.Manifest, condition: Condition) -> None:
        """Make `manifest` (chunks stored, stamped when its put began) the key's current version if
        `condition` holds and nothing newer than its stamp was written; FAILED_PRECONDITION if not.
        Returns once the manifest is on a write quorum of the homes."""
        tenant, bucket, key = manifest.tenant, manifest.bucket, manifest.key
        name = f"{bucket}/{key}"
        read = self._read_current(bucket, key)
        pending: list[common_pb2.Manifest] = []

        def decide(value: common_pb2.KeyRegister | None) -> common_pb2.KeyRegister | None:
            del pending[:]
            current = read
            chosen = value.manifest if value is not None and value.HasField("manifest") else None
            if chosen is not None and chosen.version == manifest.version and chosen.blake3 == manifest.blake3:
                # An earlier round of this put reached an acceptor, and a later round (another
                # writer's, or this one's after losing) made it chosen: this put has won.
                return value
            if chosen is not None and (current is None or stamp_key(chosen.version) > stamp_key(current.version)):
                if self._live(chosen):
                    current = chosen
                    pending.append(chosen)
            check(condition, current, name)
            if current is not None and stamp_key(current.version) >= stamp_key(manifest.version):
                raise errors.ConditionFailed(
                    f"{name} was written again while this put ran (version {stamp_text(current.version)}); "
                    f"read it again and retry")
            return common_pb2.KeyRegister(format_version=KEY_REGISTER_FORMAT_VERSION, tenant=tenant, bucket=bucket,
                                          key=key, manifest=manifest)

        try:
            self._register.change((tenant, bucket, key), decide)
        finally:
            for chosen in pending:  # a chosen write that died before reaching the homes
                self._write(chosen)
        self._write(manifest)

    def _live(self, chosen: common_pb2.Manifest) -> bool:
        """Whether a chosen manifest the homes lack may still be written (its chunks are kept)."""
        return (self._wall_ms() - chosen.version.physical_ms) / 1000 <= self._put_duration_max_s
