"""Prometheus metrics of one node: `ringstore_*`, base units, `_total` only on counters.

Each node owns a private registry (so tests can run several nodes' code in one process) served over
HTTP by prometheus-client. No chunk ids, keys or bucket names are labels: label sets stay bounded.
Gauges that mirror state (members by state, bytes stored) are read at scrape time through
callbacks rather than updated on every change.
"""

from __future__ import annotations

from typing import Callable

import prometheus_client as prom
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

# Latency buckets (seconds) for object operations: 1 ms .. 60 s.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Garbage collector pauses (seconds): 0.1 ms .. 0.25 s.
GC_PAUSE_BUCKETS_S = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
MEMBER_STATES = ("ALIVE", "DOWN", "OUT", "LEFT")


class Metrics:
    def __init__(self) -> None:
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.members = prom.Gauge("ringstore_members", "Members known to this node, by state.", ["state"],
                                  registry=r)
        self.chunks_stored = prom.Gauge("ringstore_chunks_stored", "Chunk replicas and shares stored here.",
                                        registry=r)
        self.bytes_stored = prom.Gauge("ringstore_stored_bytes", "Bytes of chunk data stored here.", registry=r)
        self.dedup_saved = prom.Gauge("ringstore_dedup_saved_bytes",
                                      "Bytes this node does not store because object versions share chunk copies "
                                      "here (each copy's size times its references beyond the first).", registry=r)
        self.disk_size = prom.Gauge("ringstore_disk_size_bytes",
                                    "Room this node may use for chunk data (filesystem, or storage.disk_bytes_max).",
                                    registry=r)
        self.disk_free = prom.Gauge("ringstore_disk_free_bytes", "Of that room, what is left.", registry=r)
        self.disk_full = prom.Gauge("ringstore_disk_full",
                                    "1 while the node is above a disk-full watermark (no new copies placed here).",
                                    registry=r)
        self.requests = prom.Counter("ringstore_object_requests_total",
                                     "Object requests coordinated by this node.", ["op", "outcome"], registry=r)
        self.put_latency = prom.Histogram("ringstore_put_duration_seconds", "Put latency as the client sees it.",
                                          buckets=LATENCY_BUCKETS_S, registry=r)
        self.get_latency = prom.Histogram("ringstore_get_duration_seconds", "Get latency, first byte to last.",
                                          buckets=LATENCY_BUCKETS_S, registry=r)
        self.put_bytes = prom.Counter("ringstore_put_bytes_total", "Object bytes accepted by puts.", registry=r)
        self.peer_batch_items = prom.Histogram(
            "ringstore_peer_batch_items",
            "Items per call this node sent to a peer for manifest writes and reads (1: a call alone; more: "
            "calls that queued while the peer was busy, sent as one); put_manifest_local: this node's own "
            "manifest writes, committed together while one was committing.", ["call"],
            buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.get_bytes = prom.Counter("ringstore_get_bytes_total", "Object bytes served by gets.", registry=r)
        self.shares_received = prom.Counter("ringstore_peer_shares_received_total",
                                            "Chunk replicas or shares stored for other coordinators.", registry=r)
        self.corrupt_shares = prom.Counter("ringstore_corrupt_shares_total",
                                           "Stored copies found corrupt on read (quarantined).", registry=r)
        self.corrupt_records = prom.Counter(
            "ringstore_store_corrupt_records_total",
            "Metadata records (LMDB values) found failing their checksum, at open or on read, and "
            "quarantined; by db (chunks, refs, placements, manifests, buckets, meta).", ["db"], registry=r)
        self.metadata_rebuilds = prom.Counter(
            "ringstore_store_metadata_rebuilds_total",
            "Metadata envs moved aside at open (LMDB could not walk them, or --rebuild-metadata) and "
            "started afresh from the share files and the peers.", registry=r)
        self.metadata_healthy = prom.Gauge(
            "ringstore_store_metadata_healthy",
            "1 while this node's metadata answers; 0 while it is refilled from peers after damage, or "
            "damaged at run time (restart to rebuild).", registry=r)
        self.erasure_encode_bytes = prom.Counter(
            "ringstore_erasure_encode_bytes_total", "Chunk bytes zfec-encoded into shares by this coordinator.",
            registry=r)
        self.compression_bytes = prom.Counter(
            "ringstore_compression_bytes_total",
            "Chunk bytes compressed puts coordinated here offered to zstd (direction=in) and stored "
            "(direction=out: compressed where that saved enough, else raw).", ["direction"], registry=r)
        self.at_rest_bytes = prom.Counter(
            "ringstore_at_rest_bytes_total",
            "Chunk bytes this node encrypted at rest for puts it coordinated (operation=sealed) and decrypted "
            "for reads (operation=opened), AES-256-GCM.", ["operation"], registry=r)
        self.put_known_chunk_bytes = prom.Counter(
            "ringstore_put_known_chunk_bytes_total",
            "Object bytes puts named as chunks their bucket already stored (HasChunks, KnownChunk) instead "
            "of sending them.", registry=r)
        self.erasure_decode_bytes = prom.Counter(
            "ringstore_erasure_decode_bytes_total",
            "Chunk bytes rebuilt by zfec from parity shares (reads that found every data share need none).",
            registry=r)
        self.degraded_reads = prom.Counter(
            "ringstore_degraded_reads_total",
            "Chunk reads that could not use their first-choice copies (a data share or replica was missing, "
            "corrupt, slow or unreachable) and were served from others.", ["policy"], registry=r)
        self.damage_reports = prom.Counter(
            "ringstore_repair_reports_total", "Damaged copies reported to the repair queue, by reason.",
            ["reason"], registry=r)
        self.repair_queue = prom.Gauge("ringstore_repair_queue_items",
                                       "Distinct damaged copies waiting in this node's repair queue.", registry=r)
        self.repair_bytes = prom.Counter(
            "ringstore_repair_bytes_total", "Bytes of copies and shares written by repair, rebalancing and "
            "handoff return, by policy.", ["policy"], registry=r)
        self.repair_copies = prom.Counter("ringstore_repair_copies_total",
                                          "Copies and shares written by repair, rebalancing and handoff return.",
                                          registry=r)
        self.repair_failures = prom.Counter("ringstore_repair_failures_total",
                                            "Attempts to restore a chunk layout that failed (retried with back-off).",
                                            registry=r)
        self.surplus_dropped = prom.Counter("ringstore_repair_surplus_dropped_total",
                                            "Surplus copies dropped here once every home held its copy.", registry=r)
        self.tombstones = prom.Gauge("ringstore_tombstones",
                                     "Tombstones (deleted keys' records) this node keeps, at its last purge pass.",
                                     registry=r)
        self.tombstone_oldest_age = prom.Gauge("ringstore_tombstone_oldest_age_seconds",
                                               "Age of the oldest tombstone this node keeps (0: none).", registry=r)
        self.lifecycle_actions = prom.Counter(
            "ringstore_lifecycle_actions_total",
            "What this node's lifecycle worker did, by action: expire, remove-version, remove-marker, transition, "
            "upload-aborted.", ["action"], registry=r)
        self.watches = prom.Gauge("ringstore_watches", "Watch streams this node is serving now.", registry=r)
        self.watch_events = prom.Counter("ringstore_watch_events_total",
                                         "Changes this node's watch streams sent (repeats across streams included).",
                                         registry=r)
        self.lifecycle_backlog = prom.Gauge(
            "ringstore_lifecycle_backlog", "Lifecycle actions the last pass found due but left for the next.",
            registry=r)
        self.tombstones_purged = prom.Counter("ringstore_tombstones_purged_total",
                                              "Tombstones this node purged from every metadata home.", registry=r)
        self.repair_debt_chunks = prom.Gauge("ringstore_repair_debt_chunks",
                                             "Chunk layouts below full redundancy that this node repairs.", registry=r)
        self.repair_debt_bytes = prom.Gauge("ringstore_repair_debt_bytes",
                                            "Bytes this node must write to restore full redundancy and finish moves.",
                                            registry=r)
        self.direct_plans = prom.Counter(
            "ringstore_direct_read_plans_total",
            "Gets this node answered with a plan of direct reads (the client reads each chunk from a holder "
            "with a read grant) instead of streaming the data.", registry=r)
        self.direct_reads = prom.Counter(
            "ringstore_direct_chunk_reads_total",
            "ReadChunk calls served by this node, by outcome: ok, denied (no valid read grant), not_found, "
            "corrupt (the copy failed its blake3; the client falls back on the streamed get), error.",
            ["outcome"], registry=r)
        self.direct_writes = prom.Counter(
            "ringstore_direct_chunk_writes_total",
            "WriteChunk calls served by this node (a client writing a copy of a direct put), by outcome: ok, "
            "denied (no valid write grant), error (refused: a bad hash, a full disk, ...).",
            ["outcome"], registry=r)
        self.direct_put_chunks = prom.Counter(
            "ringstore_direct_put_chunks_total",
            "Chunks of direct puts this node coordinated, by how they came: written (the client wrote every copy "
            "to its holders) or streamed (a write failed and the client sent the bytes here instead).",
            ["how"], registry=r)
        self.manifest_reads = prom.Counter(
            "ringstore_manifest_reads_total",
            "Manifest reads this node coordinated, by the homes asked: a read quorum only (the ring is "
            "settled: every live member uses it and has handed over under it) or every live home.",
            ["homes"], registry=r)
        self.handover_pending = prom.Gauge(
            "ringstore_metadata_handover_pending_partitions",
            "Metadata partitions held here that some home of the ring has not acknowledged, at the last "
            "metadata sync pass; by whether a live home lacks them (pending) or only homes that are not "
            "live (waiting).", ["kind"], registry=r)
        self.handover_synced = prom.Gauge(
            "ringstore_metadata_handover_synced",
            "1 when this node's last metadata sync pass left every home of the ring it uses holding every "
            "metadata partition held here, else 0.", registry=r)
        self.gossip_messages = prom.Counter("ringstore_gossip_messages_total",
                                            "Membership messages, by kind and direction.", ["kind", "direction"],
                                            registry=r)
        self.gossip_bytes = prom.Counter(
            "ringstore_gossip_bytes_total", "Serialized bytes of membership messages (requests and replies), "
            "by kind and direction; gRPC framing and auth metadata not included.", ["kind", "direction"],
            registry=r)
        # Labelled by node id: bounded by the cluster's size, and what a false-DOWN count needs.
        self.member_down = prom.Counter("ringstore_member_down_total",
                                        "Transitions of a member to DOWN as seen by this node (its own verdicts "
                                        "and those it heard).", ["member"], registry=r)
        self.gossip_health = prom.Gauge(
            "ringstore_gossip_local_health", "Local health score (0 healthy): this node's failure-detection "
            "timeouts are multiplied by 1 + it while it sees signs of being slow itself.", registry=r)
        self.auth_failures = prom.Counter("ringstore_auth_failures_total",
                                          "Calls refused for their credentials, by reason (not_a_node: a "
                                          "certificate on the peer port that names no node; link_*: share "
                                          "links).",
                                          ["reason"], registry=r)
        self.s3_requests = prom.Counter("ringstore_s3_requests_total",
                                        "Requests the S3 port answered, by operation and HTTP status.",
                                        ["operation", "status"], registry=r)
        self.s3_latency = prom.Histogram("ringstore_s3_request_duration_seconds",
                                         "S3 request time, first header to last byte, by operation.",
                                         ["operation"], registry=r)
        self.s3_bytes = prom.Counter("ringstore_s3_bytes_total", "Object bytes through the S3 port, by direction "
                                     "(in: puts, out: gets).", ["direction"], registry=r)
        self.quota_refused = prom.Counter("ringstore_quota_refused_total",
                                          "Puts this node coordinated that a quota refused.", registry=r)
        self.quota_unread = prom.Counter("ringstore_quota_unread_total",
                                         "Quota lookups answered 'no quota' because the quota records could not "
                                         "be read and none was cached (the put went ahead unchecked).", registry=r)
        self.quota_holds = prom.Gauge("ringstore_quota_holds",
                                      "Puts in flight this node's quota desk holds room for.", registry=r)
        self.tls_not_after = prom.Gauge("ringstore_tls_certificate_not_after_seconds",
                                        "Unix time at which this node's TLS certificate expires (alert on "
                                        "this minus time() below a few weeks).", registry=r)
        self.python_gc_pause = prom.Histogram("ringstore_python_gc_pause_seconds",
                                       "Python's cyclic garbage collections (not chunk garbage collection), by "
                                       "generation (2: full), and how long each held every request of this node "
                                       "(node/collector.py).", ["generation"],
                                       buckets=GC_PAUSE_BUCKETS_S, registry=r)
        self.python_gc_frozen = prom.Gauge("ringstore_python_gc_frozen_objects",
                                    "Objects made before the node began serving, exempt from collections.",
                                    registry=r)
        self.tls_reload_failures = prom.Counter("ringstore_tls_reload_failures_total",
                                                "SIGHUP reloads that kept the old certificate because the new "
                                                "files failed a check (the log says which).", registry=r)

    def watch(self, *, members_by_state: Callable[[], dict[str, int]], stats: Callable[[], tuple[int, int]],
              disk: Callable[[], object]) -> None:
        """Bind scrape-time callbacks for state that lives elsewhere (`disk` returns a DiskUsage)."""
        for state in MEMBER_STATES:
            self.members.labels(state).set_function(lambda s=state: members_by_state().get(s, 0))
        self.chunks_stored.set_function(lambda: stats()[0])
        self.bytes_stored.set_function(lambda: stats()[1])
        self.disk_size.set_function(lambda: disk().size_bytes)
        self.disk_free.set_function(lambda: disk().free_bytes)
        self.disk_full.set_function(lambda: float(disk().full))

    def watch_healing(self, *, scrub: Callable[[], object], gc: Callable[[], object]) -> None:
        """Scrub and garbage-collection figures, read from their status at scrape time."""
        self.registry.register(_HealingCollector(scrub, gc))

    def watch_buckets(self, buckets: Callable[[], list]) -> None:
        """Per-bucket usage gauges: `buckets()` -> [(bucket, UsageRecord, metadata homes)] of the
        buckets this node reports (the ones it is the first live metadata home of, so each bucket
        is reported by one node), read from their usage counters at scrape time."""
        self.registry.register(_BucketCollector(buckets))

    def serve(self, host: str, port: int) -> tuple[object, int]:
        """Start the HTTP endpoint; returns (server, bound port)."""
        server, _thread = prom.start_http_server(port, addr=host, registry=self.registry)
        return server, server.server_port


class _BucketCollector:
    """Scrape-time gauges of each bucket's usage counters (node/store/usage.py)."""

    FIGURES = (
        ("ringstore_bucket_objects", "Current objects of the bucket.", lambda r, homes: r.objects),
        ("ringstore_bucket_logical_bytes", "Logical bytes of the bucket's current objects.",
         lambda r, homes: r.logical_bytes),
        ("ringstore_bucket_noncurrent_versions", "Versions kept behind current ones.",
         lambda r, homes: r.noncurrent_versions),
        ("ringstore_bucket_noncurrent_bytes", "Logical bytes of the versions kept behind current ones.",
         lambda r, homes: r.noncurrent_bytes),
        ("ringstore_bucket_stored_bytes", "Bytes the bucket's chunk copies and shares take across the cluster, "
         "plus inline objects once per metadata home.", lambda r, homes: r.chunk_bytes + r.inline_bytes * homes),
        ("ringstore_bucket_tombstones", "Tombstones and delete markers of the bucket.", lambda r, homes: r.tombstones),
    )

    def __init__(self, buckets: Callable[[], list]) -> None:
        self._buckets = buckets

    def describe(self) -> list:
        return []

    def collect(self):
        rows = self._buckets()
        for name, text, value in self.FIGURES:
            family = GaugeMetricFamily(name, text, labels=["bucket"])
            for bucket, record, homes in rows:
                family.add_metric([bucket], value(record, homes))
            yield family


class _HealingCollector:
    """Scrape-time view of the scrubber's and collector's own counters (they count; we only read)."""

    def __init__(self, scrub: Callable[[], object], gc: Callable[[], object]) -> None:
        self._scrub = scrub
        self._gc = gc

    def describe(self) -> list:
        return []

    def collect(self):

        scrub, gc = self._scrub(), self._gc()
        progress = scrub.bytes_checked / scrub.bytes_total if scrub.bytes_total else 1.0
        yield GaugeMetricFamily("ringstore_scrub_progress_ratio",
                                "Fraction of the current (or last) scrub pass done, by bytes.", value=progress)
        yield GaugeMetricFamily("ringstore_scrub_running", "1 while a scrub pass runs.", value=int(scrub.running))
        yield CounterMetricFamily("ringstore_scrub_passes", "Scrub passes completed.",
                                  value=scrub.passes_completed)
        yield CounterMetricFamily("ringstore_scrub_corrupt", "Corrupt or unreadable copies scrub found.",
                                  value=scrub.corrupt_found_total)
        yield CounterMetricFamily("ringstore_gc_passes", "Garbage collection passes completed.",
                                  value=gc.passes_completed)
        yield CounterMetricFamily("ringstore_gc_copies_deleted",
                                  "Copies garbage collection deleted (no live version referenced them).",
                                  value=gc.copies_collected)
        yield CounterMetricFamily("ringstore_gc_bytes_deleted", "Bytes garbage collection reclaimed.",
                                  value=gc.bytes_collected)
        yield CounterMetricFamily("ringstore_gc_references_released",
                                  "Object-version references garbage collection released.", value=gc.refs_released)
