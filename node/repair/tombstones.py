"""Purging tombstones: a deleted key's record goes once every metadata home has acknowledged it.

A delete writes a tombstone version, newest-wins like any other, and it must stay while any copy of
an older version could still reach a home: a home that never heard of the delete would answer
with the older version, and one that got it pushed by a stand-in or a returning node would keep
it, and the key would come back (a "zombie"). DESIGN: "never before every replica of the tombstone
is durable". So a tombstone is purged by the homes of its key's partition, together, when:

- it is older than `tombstone_grace_s` (by the later of its delete's stamp and when it was written:
  a lifecycle expiry's tombstone carries the expired version's stamp), so writes, handoff returns and
  metadata sync pushes from before the delete have long had time to land;
- every home of the partition is ALIVE and has been, with the same generation and incarnation
  (no restart, no refuted verdict), for `stable_s` as seen by this node, and the ring has settled:
  a home that was away cannot be pushed an older version by a stand-in after the purge, since
  stand-ins push to every ALIVE home within one metadata sync pass and `stable_s` is several;
- every home answers for the key with that tombstone or a newer version. A home that answers an
  older version, or none, is sent the tombstone first (like read repair) and the purge waits for
  a later pass. A DOWN or unreachable home holds the purge back.

Then this node asks every home to delete the tombstone if it is still exactly that version
(`PurgeTombstone`, a compare-and-delete, so a write that arrived meanwhile stays). Any home may
drive a purge of a tombstone it holds; two drivers at once only repeat deletes. A home that has
already purged answers "none", so a driver that looks in the middle of a purge sends the tombstone
back there and purges again on its next pass: wasted work, never a lost delete.

Who could still hold an older version once every home has the tombstone? Three kinds of node,
and each is covered:
- a home that was DOWN: it holds the purge back (every home must be ALIVE), and comes back to
  find the tombstone pushed to it before any purge;
- a stand-in with handoff copies that was DOWN (its pushes waiting): it is DOWN for at most the
  maintenance limit (7 days) before turning OUT, so the grace (10 days by default, like
  Cassandra's gc_grace_seconds) outlasts it: it is back, and has pushed, before a tombstone
  written after it went away can be purged;
- a node the cluster counted gone (OUT or LEFT) that comes back, started again on its old disk or
  healed from a long partition. Its partitions were restored elsewhere while it was gone, so what
  it kept is at best redundant and at worst stale: `ReturnGuard` drops its manifests and it
  refills them from the homes, as a replaced disk does. Dropping is always safe here because the
  cluster restored them elsewhere; a node merely DOWN keeps everything, and so does a whole
  cluster restarted after a shutdown (nobody was counted gone).

Versions (node/store/versions.py): what is purged is a tombstone under its version id. A record
of a version deleted for good (`erased`) is one, judged and purged by its id exactly as a deleted
key's tombstone is. A delete marker of a versioned bucket is not: it is one of the key's versions,
listed, and what hides the versions behind it, so it stays until deleted for good itself. And a
null-version tombstone goes only from a home where it is the key's current manifest with nothing
behind it (`NodeStore.purge_manifest_if`, checked in the deleting transaction): a home still
holding older versions of the key keeps it, so they stay hidden.

Rejected: a per-partition "purged up to" watermark that homes check incoming pushes against. A
home filled after a ring change would not know the watermark, and an older version it does not
hold is as often legitimate (a key written long ago) as a zombie; the watermark would refuse the
one and admit the other. Rejected: purging on a write quorum of homes, as for collection's
tombstone case: the third home could be the one still holding the older version.

Cost: each pass walks this node's manifests (tombstones are counted for `nodectl node status`),
and asks every home one GetManifest per tombstone past the grace; tombstones are few next to live
keys. Bucket tombstones are kept (one per removed bucket name, in the bucket register).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from node.gossip.clock import Clock
from node.hlc import stamp_key
from node.objects.replicas import ClusterView, HolderError, Replicas
from node.ring import metadata_position
from node.store import NodeStore
from ringstore.v1 import common_pb2

log = logging.getLogger("ringstore.repair")

# Tombstones past the grace one pass examines; the rest wait for the next pass.
PURGE_CANDIDATES_PER_PASS_MAX = 10_000


@dataclasses.dataclass(frozen=True)
class TombstoneStatus:
    held: int  # tombstones this node keeps (home or stand-in), as the last pass counted
    oldest_age_s: float  # age of the oldest of those; 0 when none
    purged_total: int  # tombstones this node drove out of every home
    pushed_total: int  # tombstones it sent to a home that lacked them, before purging
    held_back: int  # tombstones past the grace the last pass could not purge yet
    passes_completed: int


class TombstonePurger:
    """See the module docstring. One thread calls `step` (or `run`); `status` from any thread."""

    def __init__(self, *, view: ClusterView, store: NodeStore, replicas: Replicas, clock: Clock,
                 metadata_replicas: int, grace_s: float, interval_s: float, stable_s: float,
                 settled: Callable[[], bool], member_epoch: Callable[[str], tuple[int, int] | None],
                 register_idle_s: float = 0.0, change_retention_s: float = 0.0) -> None:
        self._view = view
        # Change-log entries (node/store/changes.py) older than this are pruned each pass; 0: never.
        self._change_retention_s = change_retention_s
        # Key registers (conditional writes) untouched this long are purged each pass; 0: never.
        self._register_idle_s = register_idle_s
        self._store = store
        self._replicas = replicas
        self._clock = clock
        self._count = metadata_replicas
        self._grace_s = grace_s
        self._interval_s = interval_s
        self._stable_s = stable_s
        self._settled = settled
        self._member_epoch = member_epoch
        self._next_pass_s = clock.monotonic_s() + interval_s
        # Home set -> (their (generation, incarnation) when first seen all ALIVE, since when).
        self._stable_since: dict[tuple[str, ...], tuple[tuple, float]] = {}
        self._lock = threading.Lock()
        self._status = TombstoneStatus(0, 0.0, 0, 0, 0, 0)

    def status(self) -> TombstoneStatus:
        with self._lock:
            return self._status

    def step(self) -> bool:
        """One pass if due: count tombstones, purge those every home acknowledges. True if a pass ran."""
        now_s = self._clock.monotonic_s()
        if now_s < self._next_pass_s:
            return False
        self._next_pass_s = now_s + self._interval_s
        if self._store.metadata_health() != "ok":
            return False  # what it holds is partial: nothing to judge others by
        now_ms = self._clock.wall_ms()
        grace_ms = round(self._grace_s * 1000)
        held = candidates = purged = pushed = held_back = 0
        oldest_ms = now_ms
        me = self._view.node_id
        live_sets = set()
        for tenant, bucket in self._store.manifest_partitions():
            homes = tuple(self._view.ring().ordered_nodes(metadata_position(tenant, bucket))[:self._count])
            stable = me in homes and self._homes_stable(homes, now_s)
            live_sets.add(homes)
            for manifest in self._store.iter_manifests(tenant, bucket):
                if not manifest.tombstone:
                    continue
                held += 1
                deleted_ms = max(manifest.version.physical_ms, manifest.created_at_unix_ms)
                oldest_ms = min(oldest_ms, deleted_ms)
                if me not in homes or deleted_ms + grace_ms > now_ms:
                    continue
                if not self._purgeable(manifest):
                    continue
                if not stable or candidates >= PURGE_CANDIDATES_PER_PASS_MAX:
                    held_back += 1
                    continue
                candidates += 1
                outcome = self._purge(manifest, homes)
                purged += outcome == "purged"
                pushed += outcome == "pushed"
                held_back += outcome != "purged"
        self._stable_since = {homes: seen for homes, seen in self._stable_since.items() if homes in live_sets}
        if purged or pushed:
            log.info("tombstone purge pass: %d purged from every home, %d sent to homes that lacked them "
                     "(purged next pass), %d held back; %d tombstones kept here", purged, pushed,
                     held_back - pushed, held - purged)
        with self._lock:
            before = self._status
            self._status = TombstoneStatus(
                held=max(0, held - purged), oldest_age_s=max(0.0, (now_ms - oldest_ms) / 1000) if held else 0.0,
                purged_total=before.purged_total + purged, pushed_total=before.pushed_total + pushed,
                held_back=held_back, passes_completed=before.passes_completed + 1)
        if self._register_idle_s:
            registers = self._store.purge_key_registers(now_ms - round(self._register_idle_s * 1000))
            if registers:
                log.info("purged %d key registers idle for %.0f s", registers, self._register_idle_s)
        if self._change_retention_s:
            self._store.prune_changes(now_ms - round(self._change_retention_s * 1000))
        return True

    def _homes_stable(self, homes: tuple[str, ...], now_s: float) -> bool:
        """Every home ALIVE (not SUSPECT) with the same generation and incarnation for stable_s,
        and the ring settled."""
        if not self._settled() or any(self._view.state_name(h) != "ALIVE" for h in homes):
            self._stable_since.pop(homes, None)
            return False
        epochs = tuple(self._member_epoch(h) for h in homes)
        seen = self._stable_since.get(homes)
        if seen is None or seen[0] != epochs:
            self._stable_since[homes] = (epochs, now_s)
            return self._stable_s <= 0
        return now_s - seen[1] >= self._stable_s

    def _purgeable(self, tombstone: common_pb2.Manifest) -> bool:
        """Erased records go, and a deleted key's tombstone when it is all this home keeps of the key.
        A delete marker of a versioned bucket is one of the key's versions, listed and restorable
        from: it stays until it is deleted for good (and then its erased record goes)."""
        if tombstone.erased:
            return True
        if tombstone.version_id:
            return False
        kept = self._store.key_manifests(tombstone.tenant, tombstone.bucket, tombstone.key)
        return len(kept) == 1 and stamp_key(kept[0].version) == stamp_key(tombstone.version)

    def _purge(self, tombstone: common_pb2.Manifest, homes: tuple[str, ...]) -> str:
        """"purged", "pushed" (a home lacked it: sent, purge next pass) or "held" (a home did not
        answer)."""
        stamp = stamp_key(tombstone.version)
        behind = []
        for home in homes:
            try:
                held = self._replicas.get_manifest(home, tombstone.tenant, tombstone.bucket, tombstone.key,
                                                   tombstone.version_id)
            except HolderError as err:
                log.info("tombstone of %s/%s held back: %s", tombstone.bucket, tombstone.key, err)
                return "held"
            if held is None or stamp_key(held.version) < stamp:
                behind.append(home)
        if behind:
            log.info("tombstone of %s/%s (deleted %s): sending it to %s, which lack it", tombstone.bucket,
                     tombstone.key, tombstone.version.physical_ms, ", ".join(behind))
            for home in behind:
                try:
                    self._replicas.put_manifest(home, tombstone, "")
                except HolderError as err:
                    log.info("sending the tombstone of %s/%s to %s failed: %s", tombstone.bucket,
                              tombstone.key, home, err)
            return "pushed"
        for home in homes:
            try:
                self._replicas.purge_tombstone(home, tombstone)
            except HolderError as err:
                log.info("purging the tombstone of %s/%s on %s failed (next pass tries again): %s", tombstone.bucket,
                          tombstone.key, home, err)
                return "held"
        return "purged"


class ReturnGuard:
    """Drops a node's manifests when it comes back after the cluster counted it gone (OUT or LEFT):
    at its start, when the Join answer says its earlier record was OUT or LEFT, and at run time,
    when it refutes an OUT or LEFT verdict about itself (a partition longer than
    `repair_after_down_s`). See the module docstring for why that is enough and always safe."""

    def __init__(self, *, store: NodeStore, gone_verdicts: Callable[[], int]) -> None:
        self._store = store
        self._gone_verdicts = gone_verdicts
        self._seen = gone_verdicts()

    def after_join(self, previous_state: str | None) -> int | None:
        """The Join answer named the state of this node id's earlier record: if it was OUT or LEFT,
        drop the manifests and return how many (the caller starts a refill)."""
        if previous_state not in ("OUT", "LEFT"):
            return None
        return self._drop(f"the cluster counted this node {previous_state} before it started again")

    def check(self) -> int | None:
        """Called every second or so: a newly refuted OUT or LEFT verdict drops the manifests."""
        verdicts = self._gone_verdicts()
        if verdicts == self._seen:
            return None
        self._seen = verdicts
        return self._drop("it refuted an OUT verdict about itself (the others counted it gone)")

    def _drop(self, why: str) -> int:
        count = self._store.drop_manifests()
        log.warning("%s: dropped the %d manifests kept here, since the others may have purged tombstones "
                    "of keys they hold older versions of; refilling them from the other homes", why, count)
        return count
