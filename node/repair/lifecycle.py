"""The lifecycle worker: one per node, acting on the buckets whose first live metadata home it is.

Each pass (`repair.lifecycle_interval_s`) walks the partitions this node holds. A bucket's manifests
all live on its metadata homes, so "the first live home of the bucket's partition does its work"
spreads the buckets over the nodes and does each once (the rule multipart uploads' expiry already
follows). For each owned bucket it reads, locally and one page of keys at a time, every key's
versions (node/store/versions.py), asks `due` (node/objects/lifecycle.py) what is due under the
bucket's rules and the objects' own expiry, and acts through the coordinator:

- expire: the key's current version is read again by quorum; only if it is still the version
  judged is it deleted. In an unversioned bucket the tombstone carries the expired version's own
  stamp with `rewrite` + 1 (as a conversion's rewrite does): it replaces that version everywhere and
  loses to any write made since, so a put racing the expiry is never deleted by it. In a versioned
  bucket it is a delete marker (the version stays, behind it).
- remove a version or a delete marker for good: re-read by quorum under its id, then an erased
  record (Coordinator.delete_version);
- transition: `convert` of the current version, only if it is still the one judged and, read again
  by quorum, still unread for the rule's days (a get marks its version read, and the mark this node
  holds may be behind);
- abort uploads older than the rule's days (through the uploads' own records).

Everything it does is idempotent and judged afresh each pass from durable state, so a restart or an
ownership change midway (a home DOWN, a ring change) only means another node, or this one later,
does the rest. At most `lifecycle_actions_per_pass_max` actions per pass; what is left is counted as
backlog and done next pass. Totals since start are in `status()`, `nodectl lifecycle status` and the
`ringstore_lifecycle_*` metrics.

Cost: a pass reads every manifest of each owned bucket that has rules or objects with their own
expiry (`put --expires-in`; the bucket's usage record counts them), from the local LMDB; a bucket
with neither costs one record read. At millions of objects per node the interval should be hours
(the lan default), or expiring objects indexed by time.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Callable

from node import errors
from node.gossip.clock import Clock
from node.objects.lifecycle import EXPIRE, REMOVE_MARKER, REMOVE_VERSION, TRANSITION, Action, due, unused_ms
from node.objects.uploads import UPLOADS_SUFFIX
from node.store import NodeStore
from node.store.versions import newest_first, show_version_id
from ringstore.v1 import admin_pb2

log = logging.getLogger("ringstore.lifecycle")

# Keys read from the local store per page of a bucket's walk.
WALK_PAGE_KEYS = 500
# Uploads listed per page when looking for ones to abort.
UPLOADS_PAGE = 1000
# After a pass fails unexpectedly, wait this long before the next.
LIFECYCLE_ERROR_BACKOFF_S = 60.0


@dataclasses.dataclass
class _Totals:
    objects_expired: int = 0
    versions_removed: int = 0
    markers_removed: int = 0
    uploads_aborted: int = 0
    objects_converted: int = 0
    bytes_converted: int = 0
    errors: int = 0


class LifecycleWorker:
    """Step function and loop; `owns(tenant, bucket)` says whether this node is the partition's first
    live metadata home. `coordinator` is the user tenant's."""

    def __init__(self, *, node_id: str, store: NodeStore, coordinator, clock: Clock,
                 owns: Callable[[str, str], bool], day_s: float, interval_s: float, actions_per_pass_max: int,
                 on_action: Callable[[str], None] = lambda kind: None) -> None:
        self._node_id = node_id
        self._store = store
        self._c = coordinator
        self._clock = clock
        self._owns = owns
        self._day_ms = max(1, round(day_s * 1000))
        self._interval_s = interval_s
        self._budget_max = actions_per_pass_max
        self._on_action = on_action
        self._lock = threading.Lock()
        self._totals = _Totals()
        self._backlog = 0
        self._owned = 0
        self._passes = 0
        self._last_pass_ms = 0
        self._next_pass_s = 0.0

    def status(self) -> admin_pb2.NodeLifecycleStatus:
        with self._lock:
            t = self._totals
            return admin_pb2.NodeLifecycleStatus(
                node_id=self._node_id, objects_expired=t.objects_expired, versions_removed=t.versions_removed,
                markers_removed=t.markers_removed, uploads_aborted=t.uploads_aborted,
                objects_converted=t.objects_converted, bytes_converted=t.bytes_converted, backlog=self._backlog,
                buckets_owned=self._owned, passes_completed=self._passes,
                last_pass_finished_unix_ms=self._last_pass_ms, errors=t.errors)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a pass that fails is logged and tried again later
                log.exception("node=%s lifecycle pass failed; next in %.0f s", self._node_id, LIFECYCLE_ERROR_BACKOFF_S)
                stop.wait(LIFECYCLE_ERROR_BACKOFF_S)
                continue
            stop.wait(min(1.0, self._interval_s))

    def step(self) -> bool:
        """One pass if one is due; True when it ran."""
        now_s = self._clock.monotonic_s()
        if now_s < self._next_pass_s:
            return False
        self._next_pass_s = now_s + self._interval_s
        if self._store.metadata_health() != "ok":
            return False
        budget = [self._budget_max]
        backlog = owned = 0
        for tenant, bucket in self._store.manifest_partitions():
            if tenant != self._c.tenant or bucket.endswith(UPLOADS_SUFFIX) or not self._owns(tenant, bucket):
                continue
            try:
                record = self._c.bucket(bucket)
            except errors.NotFound:
                continue  # removed: nothing of it is served any more
            except errors.RingstoreError as err:
                log.info("lifecycle: bucket %s skipped this pass: %s", bucket, err)
                continue
            owned += 1
            if record.lifecycle or self._store.bucket_usage(tenant, bucket).expiring_objects:
                backlog += self._walk(record, budget)  # else nothing here can be due
            backlog += self._abort_uploads(record, budget)
        with self._lock:
            self._backlog, self._owned = backlog, owned
            self._passes += 1
            self._last_pass_ms = self._clock.wall_ms()
        return True

    # -- one bucket -----------------------------------------------------------------------------

    def _walk(self, record, budget: list[int]) -> int:
        """Act on what is due for the bucket's keys; returns the actions left for lack of budget."""
        tenant, bucket, rules = self._c.tenant, record.name, list(record.lifecycle)
        left = 0
        after, include = "", False
        while True:
            page, more = self._store.list_manifests(tenant, bucket, start_after=after, include_start=include,
                                                    limit=WALK_PAGE_KEYS, all_versions=True)
            include = False
            keys: dict[str, list] = {}
            for manifest in page:
                keys.setdefault(manifest.key, []).append(manifest)
            now_ms = self._clock.wall_ms()
            for key, manifests in keys.items():
                kept = [m for m in manifests if not m.erased]
                for action in due(rules, newest_first(kept), now_ms, self._day_ms):
                    if budget[0] <= 0:
                        left += 1
                        continue
                    budget[0] -= 1
                    self._act(record, action)
            if not more or not page:
                return left
            after = page[-1].key

    def _act(self, record, action: Action) -> None:
        manifest, bucket = action.manifest, record.name
        name = f"{bucket}/{manifest.key}"
        try:
            if action.kind == EXPIRE:
                if self._c.expire_object(record, manifest):
                    self._count("objects_expired", action)
                    log.info("lifecycle: expired %s (%s)", name, action.why)
            elif action.kind in (REMOVE_VERSION, REMOVE_MARKER):
                version = show_version_id(manifest.version_id)
                held = self._c.version_manifest(bucket, manifest.key, version)
                if held.version == manifest.version:
                    self._c.delete_version(bucket, manifest.key, version)
                    self._count("versions_removed" if action.kind == REMOVE_VERSION else "markers_removed", action)
                    log.info("lifecycle: removed version %s of %s (%s)", version, name, action.why)
            elif action.kind == TRANSITION:
                # Read marks reach the homes by quorum writes: the one this node holds may miss the
                # latest, so the version is judged again from the quorum's answers.
                held = self._c.version_manifest(bucket, manifest.key, show_version_id(manifest.version_id))
                days = next((r.transition_days for r in record.lifecycle if r.id == action.why), 0)
                if held.version != manifest.version or unused_ms(held, self._clock.wall_ms()) < days * self._day_ms:
                    return
                outcome = None
                for event in self._c.convert_object(bucket, manifest.key, action.policy, expected=manifest.version):
                    outcome = event
                if outcome is not None and not getattr(outcome, "unchanged", True):
                    self._count("objects_converted", action, bytes_converted=manifest.size_bytes)
                    log.info("lifecycle: converted %s (%s)", name, action.why)
        except (errors.NotFound, errors.FailedPrecondition):
            return  # changed or gone since the walk read it: judged again next pass
        except errors.RingstoreError as err:
            with self._lock:
                self._totals.errors += 1
            log.warning("lifecycle: %s of %s failed (next pass tries again): %s", action.kind, name, err)

    def _abort_uploads(self, record, budget: list[int]) -> int:
        rules = [r for r in record.lifecycle if r.enabled and r.abort_uploads_days]
        left = 0
        for rule in rules:
            key_marker = upload_marker = ""
            while True:
                try:
                    found, truncated = self._c.uploads.list(record.name, prefix=rule.prefix, key_marker=key_marker,
                                                            upload_id_marker=upload_marker, limit=UPLOADS_PAGE)
                except errors.RingstoreError as err:
                    log.info("lifecycle: listing uploads of %s failed: %s", record.name, err)
                    break
                now_ms = self._clock.wall_ms()
                for key, upload_id, upload in found:
                    if now_ms - upload.created_at_unix_ms < rule.abort_uploads_days * self._day_ms:
                        continue
                    if budget[0] <= 0:
                        left += 1
                        continue
                    budget[0] -= 1
                    try:
                        self._c.uploads.abort(record.name, key, upload_id)
                    except errors.NotFound:
                        continue
                    except errors.RingstoreError as err:
                        with self._lock:
                            self._totals.errors += 1
                        log.warning("lifecycle: aborting upload %s of %s/%s failed: %s", upload_id, record.name,
                                    key, err)
                        continue
                    with self._lock:
                        self._totals.uploads_aborted += 1
                    self._on_action("upload-aborted")
                    log.info("lifecycle: aborted upload %s of %s/%s (%s)", upload_id, record.name, key, rule.id)
                if not truncated or not found:
                    break
                key_marker, upload_marker = found[-1][0], found[-1][1]
        return left

    def _count(self, field: str, action: Action, bytes_converted: int = 0) -> None:
        with self._lock:
            setattr(self._totals, field, getattr(self._totals, field) + 1)
            self._totals.bytes_converted += bytes_converted
        self._on_action(action.kind)
