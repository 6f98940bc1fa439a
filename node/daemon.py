"""noded: wires the store, membership, ring, coordinator and gRPC services into one process.

Start-up order matters: open the data dir (and learn our node id), start serving (peers must be able
to call back while we join), join through any given address or any member remembered in
`members.json` (node/rejoin.py), and only then announce readiness by writing `node.json`, which
cluster-sim and operators' tooling wait for. SIGTERM is a graceful leave:
the node tells its peers it is LEFT before it stops, so they do not wait out the failure detector
(inside a maintenance window it stops without leaving: a planned restart should move no data).

Exit codes: 0 clean stop, 2 bad configuration (also an unreadable members file), 3 a join was refused
over certificates (ours or the cluster's not signed by the other's CA, or expired), 4 no join
candidate answered: no `--join` address, or a node that was a member of a cluster reached none of
the members it remembers and was not started with `--allow-alone`.

SIGHUP reloads the TLS certificate, key and CA (node/tls.py) without leaving the cluster.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import errno
import gc
import json
import logging
import os
import random
import secrets
import signal
import ssl
import sys
import threading
from typing import Callable

import click
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from node import collector, errors
from node.api.admin_service import AdminServicer, Healing, Operations
from node.api.auth import PeerIdentityInterceptor, RequestAuthInterceptor
from node.api.credentials_service import CredentialsServicer
from node.api.share_links_service import ShareLinkServicer
from node.auth import links as share_links
from node.auth.principal import LinkHolder, caller
from node.api.init_service import InitServicer
from node.auth.store import NOT_INITIALISED, SYSTEM_TENANT, CredentialStore, SystemRecords
from node.api.delay import DelayInterceptor
from node.api.membership_service import MembershipServicer
from node.api.object_service import ObjectServicer
from node.s3.gateway import S3Gateway
from node.api.peer_service import PeerServicer, store_copy
from node.core_log import CoreLogRelay
from node.quota.admission import Admission
from node.quota.desk import QuotaDesk
from node.config import AddressUnavailable, ConfigError, NodeConfig
from node.faults import FaultSet, Faults, InvalidFaults
from node.gossip import MemberInfo, MemberState, Membership, MembershipDriver, SystemClock
from node.gossip.ring_members import ring_members
from node.gossip.transport import JoinUnanswered, PeerRejected, PeerUnreachable
from node.hlc import HybridLogicalClock
from node.metrics import Metrics
from node import rejoin
from node.objects import at_rest
from node.store.digests import DigestSealer
from node.objects.coordinator import Coordinator
from node.objects.replicas import Replicas
from node.objects.ring_gate import RingGate
from node.objects.settle import RingSettlement
from node.objects.uploads import UPLOADS_SUFFIX
from node.peers.client import BDP_PROBE_OPTION, PeerClient
from node.peers.gossip_transport import GrpcTransport
from node.repair import DamageReport, GarbageCollector, RepairQueue, Scrubber
from node.repair.drain import DrainWatch, holdings
from node.repair.fsck import fsck
from node.repair.plan import Layout
from node.repair.ringplan import plan_ring_change
from node.repair.gc import KeyState
from node.repair.metadata_refill import MetadataRefill
from node.repair.metadata_sync import MetadataSync
from node.repair.repairer import Repairer
from node.repair.status import repair_status_pb, scrub_status_pb
from node.repair.throttle import TokenBucket
from node.repair.lifecycle import LifecycleWorker
from node.repair.tombstones import ReturnGuard, TombstonePurger
from node.ring import Ring
from node.ring.positions import metadata_position
from node.objects.direct import DirectReads, ReadGrants
from node.objects.direct_put import CopyWriter, DirectPuts, WriteKeys
from node.store import (CorruptRecord, CorruptShare, MembersFileError, NodeStore, ShareKey, ShareNotFound, StoreError,
                        read_members_file)
from node.store import InvalidArgument as StoreInvalidArgument
from node.store.chunks import make_private_dir
from node.store.metadata import check_env, probe_env
from node.tls import NodeTls
from ringstore import tls as ringstore_tls
from ringstore.auth import masterkeys
from ringstore.auth.keys import SealedSecretError, SecretBox
from ringstore.v1 import admin_pb2, common_pb2

log = logging.getLogger("ringstore.daemon")

EXIT_CONFIG = 2
EXIT_JOIN_REFUSED = 3
EXIT_JOIN_UNREACHABLE = 4
EXIT_ADDRESS_UNAVAILABLE = 5  # a listen port is taken: worth retrying, unlike EXIT_CONFIG
# gRPC server worker threads: bounds concurrent RPCs served by this node.
SERVER_WORKERS_MAX = 64
# Threads that store or read whole chunks for coordinated puts and gets.
CHUNK_WORKERS_MAX = 16
# Threads that send copies, manifests and placement records to holders.
SEND_WORKERS_MAX = 64
# How often the node checks its disk against the full watermarks (a change of verdict is announced
# at once) and how often at most it re-announces its free bytes (only when they moved by 1 % or more).
DISK_CHECK_INTERVAL_S = 1.0
FREE_BYTES_REPORT_INTERVAL_S = 30.0
# How often a draining node checks whether its store is empty.
DRAIN_CHECK_INTERVAL_S = 1.0
# Operator decisions about this node that must outlive a restart (drain, maintenance window),
# kept in the data dir next to node.json.
OPERATOR_STATE_FILE = "operator.json"
# Listen hosts that mean "every interface": not an address another machine can dial.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "[::]", "::", ""})
# gRPC health service name that is SERVING while this node's metadata answers and NOT_SERVING while
# it is refilled from peers after damage (or damaged): a load balancer can route metadata reads away.
METADATA_HEALTH_SERVICE = "ringstore.v1.Metadata"


class _NodeIdFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.node_id = "-"

    def filter(self, record: logging.LogRecord) -> bool:
        record.node_id = self.node_id
        return True


_log_filter = _NodeIdFilter()


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_log_filter)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s node=%(node_id)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class ClusterState:
    """The ClusterView the coordinator uses: membership plus the ring built from it."""

    def __init__(self, membership: Membership, ring_vnodes: int, weight_unit_bytes: int,
                 monotonic_s: Callable[[], float]) -> None:
        self._monotonic_s = monotonic_s
        self.ring_changed_at_s = monotonic_s()
        self._membership = membership
        self._vnodes = ring_vnodes
        self._weight_unit_bytes = weight_unit_bytes
        self._lock = threading.Lock()
        self._ring_key: tuple = ()
        self._ring = Ring([], vnodes_per_node=ring_vnodes)
        self.node_id = membership.node_id
        self.rebuild()

    def rebuild(self, *_args) -> None:
        members = ring_members(self._membership.members(), self._weight_unit_bytes)
        with self._lock:
            if members != self._ring_key:
                self._ring = Ring(members, vnodes_per_node=self._vnodes)
                self._ring_key = members
                self.ring_changed_at_s = self._monotonic_s()

    def ring(self) -> Ring:
        return self._ring

    def is_live(self, node_id: str) -> bool:
        return self._membership.is_live(node_id)

    def address_of(self, node_id: str) -> str:
        member = self._membership.get(node_id)
        if member is None:
            raise KeyError(node_id)
        return member.address

    def client_address_of(self, node_id: str) -> str:
        """The client port's address the node announced; "" when unknown or not announced."""
        member = self._membership.get(node_id)
        return "" if member is None else member.client_address

    def state_name(self, node_id: str) -> str:
        member = self._membership.get(node_id)
        return "UNKNOWN" if member is None else member.state.name

    def live_count(self) -> int:
        return sum(1 for m in self._membership.members() if m.state.live)

    def store_of(self, node_id: str) -> tuple[str, int]:
        """(store id, store created at Unix ms) the node last announced; ("", 0) when unknown."""
        member = self._membership.get(node_id)
        return ("", 0) if member is None else (member.store_id, member.store_created_at_unix_ms)

    def full_nodes(self) -> dict[str, int]:
        """ALIVE members above their disk-full watermark -> the free bytes they last reported."""
        return {m.node_id: m.free_bytes for m in self._membership.members()
                if m.state.live and m.disk_full}

    def members_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for m in self._membership.members():
            counts[m.state.name] = counts.get(m.state.name, 0) + 1
        return counts


class NodeDaemon:
    def __init__(self, config: NodeConfig, *, allow_fault_injection: bool = False,
                 rebuild_metadata: bool = False, allow_alone: bool = False) -> None:
        self.config = config
        # The master keyring for encryption at rest (None: this node cannot encrypt); SIGHUP reloads it.
        self._keyring: masterkeys.Keyring | None = None
        if config.master_key_file:
            try:
                self._keyring = masterkeys.load(config.master_key_file)
            except masterkeys.KeyringError as err:
                raise ConfigError(str(err)) from None
            log.info("encryption at rest: master keys %s (primary %s)", ", ".join(self._keyring.ids),
                     self._keyring.primary.key_id)
        # Run as a cluster of one when no join candidate answers, even after having been a member
        # (`--allow-alone`, node/rejoin.py).
        self.allow_alone = allow_alone
        # Whether AdminService.SetFaults may inject faults here (`--allow-fault-injection`); the
        # faults themselves start empty on every start (see node/faults.py).
        self.allow_fault_injection = allow_fault_injection
        self.faults = Faults()
        self.clock = SystemClock()
        self.store = NodeStore(os.path.join(config.data_dir, "store"),
                               map_size_bytes=config.storage.lmdb_map_size_bytes,
                               rebuild_metadata=rebuild_metadata, digest_sealer=DigestSealer(config.cluster_secret))
        stored_id = self.store.load_node_id()
        if stored_id is None and not config.node_id and self.store.node_id_lost():
            self.store.close()
            raise ConfigError(f"data dir {config.data_dir}: its node id was in the damaged metadata env and could not "
                              "be read; start noded again with --node-id <this node's id> (nodectl status lists the "
                              "cluster's members)")
        if stored_id and config.node_id and stored_id != config.node_id:
            self.store.close()
            raise ConfigError(f"data dir {config.data_dir} belongs to node {stored_id!r}, not {config.node_id!r}; "
                              "use its own --node-id or another --data-dir")
        self.node_id = stored_id or config.node_id or f"node-{secrets.token_hex(4)}"
        # Whether this data dir has run a node before (which may have promised readers a ring).
        self._ran_before = stored_id is not None or os.path.exists(os.path.join(config.data_dir, "node.json"))
        if not stored_id:
            self.store.save_node_id(self.node_id)
        self.members_path = rejoin.members_file_path(config.data_dir)
        try:
            self.remembered = read_members_file(self.members_path, owner=self.node_id)
        except (MembersFileError, StoreError) as err:
            self.store.close()
            raise ConfigError(f"{err}; it lists the members this node rejoins its cluster through: fix it, or move "
                              "it away and start with --join ADDR of a live member") from None
        storage = config.storage
        self.store.set_disk_limits(node_id=self.node_id, full_ratio=storage.disk_full_ratio,
                                   free_bytes_min=storage.disk_free_bytes_min, bytes_max=storage.disk_bytes_max,
                                   headroom_bytes=storage.chunk_size_bytes)
        _log_filter.node_id = self.node_id
        self.tls: NodeTls | None = None
        # The S3 port (`--s3-listen`), once started.
        self.s3: S3Gateway | None = None
        self.s3_address = ""
        if not config.insecure:
            try:
                self.tls = NodeTls(config.tls_cert, config.tls_key, config.tls_ca, node_id=self.node_id)
            except ringstore_tls.TlsError as err:
                self.store.close()
                raise ConfigError(str(err)) from None
            self._warn_if_expiring()
        self.generation = self.clock.wall_ms()
        self.metrics = Metrics()
        # Each generation's series is made here: a collection can start on a thread that holds the
        # histogram's own lock (a scrape), and making a series from inside it would wait on that lock.
        gc_pauses = [self.metrics.python_gc_pause.labels(str(generation)) for generation in range(3)]
        self.gc_pauses = collector.PauseMeter(lambda generation, seconds: gc_pauses[generation].observe(seconds))
        self._report_metadata_open()
        self.store.set_corrupt_record_hook(self._on_corrupt_record)
        self.repair_queue = RepairQueue()
        self._stopped = threading.Event()
        # Set to run a metadata sync pass now (the ring changed, or a member came back with a new
        # store).
        self._metadata_sync_wake = threading.Event()
        self._ring_fingerprint_seen = 0
        # Member -> transitions to a state that is not live seen here (the tombstone purger's
        # stable window starts again on each).
        self._not_live_seen: dict[str, int] = {}

    def start(self) -> None:
        cfg = self.config
        storage = cfg.storage
        self.peers = PeerClient(node_id=self.node_id, message_bytes_max=storage.grpc_message_bytes_max,
                                credentials=self.tls.channel_credentials if self.tls else None,
                                ca_file=cfg.tls_ca or None, faults=self.faults,
                                on_batch=lambda call, items: self.metrics.peer_batch_items.labels(call).observe(items))
        if self.tls:
            self.tls.on_reload(self.peers.reset)
        delay = []
        if self.allow_fault_injection:
            log.warning("fault injection is ON: any client reaching this node may drop its peer calls and delay "
                        "its RPCs and disk writes (AdminService.SetFaults); for tests and cluster-sim only")
            delay.append(DelayInterceptor(self.faults))
            self.store.set_write_delay(self.faults.delay_disk)
        identity = [PeerIdentityInterceptor(
            on_reject=lambda reason: self.metrics.auth_failures.labels(reason).inc())] if self.tls else []
        # Under --insecure nothing checks who calls (it is one trusted machine's plaintext cluster).
        access_keys = [RequestAuthInterceptor(
            self._lookup_key, on_reject=lambda reason: self.metrics.auth_failures.labels(reason).inc(),
            wall_ms=self.clock.wall_ms,
            not_initialised=lambda: None if self.credentials.initialised() else NOT_INITIALISED,
            check_link=self._check_link)] if self.tls else []
        options = [("grpc.max_send_message_length", storage.grpc_message_bytes_max),
                   ("grpc.max_receive_message_length", storage.grpc_message_bytes_max),
                   ("grpc.so_reuseport", 0), BDP_PROBE_OPTION]
        # Two servers, each with its own workers: a flood of client calls cannot starve heartbeats.
        self.server = grpc.server(
            cf.ThreadPoolExecutor(max_workers=SERVER_WORKERS_MAX, thread_name_prefix="grpc"),
            interceptors=access_keys + delay, options=options)
        self.peer_server = grpc.server(
            cf.ThreadPoolExecutor(max_workers=SERVER_WORKERS_MAX, thread_name_prefix="grpc-peer"),
            interceptors=identity + delay, options=options)
        self.client_address = self._listen(self.server, cfg.listen_address, require_client_auth=False)
        peer_bound = self._listen(self.peer_server, cfg.peer_listen_address, require_client_auth=True)
        self.address = cfg.advertise_address or peer_bound
        # Where clients read chunk copies from this node (direct reads), as others are told it: a
        # wildcard listen host is not dialable, so the advertised peer host stands in for it.
        client_host, client_port = self.client_address.rsplit(":", 1)
        if client_host in WILDCARD_HOSTS:
            client_host = self.address.rsplit(":", 1)[0]
        self.advertised_client_address = f"{client_host}:{client_port}"
        if self.tls is None:
            log.warning("--insecure: both ports are plaintext and nothing authenticates peers or clients; anyone "
                        "who can reach %s or %s can read, write and delete every object", self.client_address,
                        peer_bound)
        metrics_host, metrics_port = cfg.metrics_address.rsplit(":", 1)
        try:
            self.metrics_server, self.metrics_port = self.metrics.serve(metrics_host, int(metrics_port))
        except OSError as err:
            error = AddressUnavailable if err.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL) else ConfigError
            raise error(f"cannot serve metrics on {cfg.metrics_address}: {err.strerror or err}") from None
        if self.tls:
            self.metrics.tls_not_after.set_function(lambda: self.tls.not_after.timestamp())

        operator = self._load_operator_state()
        disk = self.store.disk.usage()
        # A new store joining a cluster may be a replaced disk under a node id the cluster counts
        # on: until the join answer says otherwise, its metadata answers nothing (an empty home
        # answering "absent" would let a quorum read miss an acknowledged write).
        plan = rejoin.plan_join(cfg.join_addresses, self.remembered, node_id=self.node_id, address=self.address)
        new_store_joining = self.store.created_now and not self.store.refilling and bool(plan.addresses)
        if new_store_joining:
            self.store.begin_refill()
        me = MemberInfo(node_id=self.node_id, address=self.address, zone=cfg.zone,
                        capacity_bytes=cfg.capacity_bytes, generation=self.generation, incarnation=0,
                        state=MemberState.ALIVE, free_bytes=disk.free_bytes, disk_full=disk.full,
                        metrics_port=self.metrics_port, draining=operator["draining"],
                        metadata_health=self._metadata_health_text(),
                        maintenance_until_unix_ms=operator["maintenance_until_unix_ms"],
                        store_id=self.store.identity.store_id,
                        store_created_at_unix_ms=self.store.identity.created_at_unix_ms,
                        tls_not_after_unix_ms=self._tls_not_after_unix_ms(),
                        client_address=self.advertised_client_address)
        # Until the Join answer says whether the cluster counted this node gone (OUT or LEFT), its
        # kept manifests may be stale: they answer nothing meanwhile (node/repair/tombstones.py).
        held_for_join = not self.store.created_now and not self.store.refilling and bool(plan.addresses)
        if held_for_join:
            self.store.begin_refill()
        self.membership = Membership(config=cfg.gossip, me=me, clock=self.clock, rng=random.Random())
        self.cluster = ClusterState(self.membership, cfg.ring.vnodes_per_node, cfg.ring.weight_unit_bytes,
                                    self.clock.monotonic_s)
        self.membership.add_listener(self.cluster.rebuild)
        self.membership.add_listener(self._on_member_change)
        self.members_recorder = rejoin.MembersRecorder(
            path=self.members_path, node_id=self.node_id, generation=self.generation,
            members=self.membership.members, wall_ms=self.clock.wall_ms,
            interval_s=cfg.gossip.members_file_interval_s,
            remembered=self.remembered.members if self.remembered is not None else ())
        self.membership.add_listener(self.members_recorder.on_change)
        self.transport = GrpcTransport(
            self.peers, on_send=lambda kind: self.metrics.gossip_messages.labels(kind.lower(), "sent").inc(),
            diagnose=self._diagnose_peer)
        self.driver = MembershipDriver(membership=self.membership, transport=self.transport, config=cfg.gossip,
                                       clock=self.clock)
        self.hlc = HybridLogicalClock(self.node_id, self.clock.wall_ms)
        self.chunk_pool = cf.ThreadPoolExecutor(max_workers=CHUNK_WORKERS_MAX, thread_name_prefix="chunk")
        self.send_pool = cf.ThreadPoolExecutor(max_workers=SEND_WORKERS_MAX, thread_name_prefix="send")
        # Manifest writes placed on a ring this node has left are refused, in order with metadata
        # sync passes (node/objects/ring_gate.py).
        self.ring_gate = RingGate(lambda: self.cluster.ring().fingerprint, self.clock.monotonic_s,
                                  restarted=self._ran_before)
        replicas = Replicas(view=self.cluster, store=self.store, peers=self.peers,
                            frame_size_bytes=storage.peer_frame_size_bytes, timeout_s=storage.peer_rpc_timeout_s,
                            deep_throttle=self._deep_throttle, ring_gate=self.ring_gate,
                            on_local_batch=lambda items: self.metrics.peer_batch_items.labels(
                                "put_manifest_local").observe(items))
        # Manifest reads ask a read quorum of homes only once every live member uses this node's
        # ring and has handed over under it (node/objects/settle.py).
        self.settlement = RingSettlement(
            ring_fingerprint=lambda: self.cluster.ring().fingerprint,
            live_members=lambda: [m.node_id for m in self.membership.members() if m.state.live],
            ask=self._ask_handover, pool=self.send_pool, monotonic_s=self.clock.monotonic_s)
        self.membership.add_listener(self.settlement.invalidate)
        shared = dict(view=self.cluster, replicas=replicas, config=storage, hlc=self.hlc, chunk_pool=self.chunk_pool,
                      send_pool=self.send_pool, wall_ms=self.clock.wall_ms, report_damage=self._report_damage,
                      put_duration_max_s=cfg.repair.gc_grace_s / 2, settlement=self.settlement)
        self.coordinator = Coordinator(**shared, metrics=self.metrics,
                                       writer=lambda: getattr(caller(), "key_id", "") or "")
        # The cluster's credential records, through a coordinator of their own tenant (node/auth/store.py).
        system = Coordinator(**shared, tenant=SYSTEM_TENANT)
        self.credentials = CredentialStore(system, metadata_replicas=storage.metadata_replicas,
                                           live_count=self.cluster.live_count,
                                           on_quota_unread=self.metrics.quota_unread.inc)
        self.secret_box = SecretBox(cfg.cluster_secret)
        # Encryption at rest: the tenants' data keys, kept as system records (node/objects/at_rest.py).
        self.coordinator.data_keys = at_rest.DataKeys(
            SystemRecords(system, at_rest.DATA_KEY_BUCKET, metadata_replicas=storage.metadata_replicas,
                          live_count=self.cluster.live_count),
            keyring=lambda: self._keyring, wall_ms=self.clock.wall_ms)
        grants = ReadGrants(self.secret_box.read_grant_key(), self.clock.wall_ms)
        write_keys = WriteKeys(self.secret_box.write_grant_key(), self.clock.wall_ms)
        self.coordinator.direct_puts = DirectPuts(self.cluster, write_keys, self.cluster.client_address_of,
                                                  self.clock.wall_ms)
        share_bytes_max = storage.chunk_size_bytes + at_rest.OVERHEAD_BYTES
        copy_writer = CopyWriter(write_keys, self.node_id,
                                 lambda header, data: store_copy(self.store, header, [data], share_bytes_max))
        self.quota_desk = QuotaDesk(usage_of=self._quota_usage, buckets_of=self._buckets_of)
        self.metrics.quota_holds.set_function(self.quota_desk.holds)
        admission = Admission(coordinator=self.coordinator, credentials=self.credentials, view=self.cluster,
                              peers=self.peers, desk=self.quota_desk, pool=self.send_pool,
                              timeout_s=storage.peer_rpc_timeout_s)
        self._start_healing(replicas)
        self.metrics.watch(members_by_state=self.cluster.members_by_state, stats=self.store.stats,
                           disk=self.store.disk.usage)
        self.metrics.repair_queue.set_function(lambda: len(self.repair_queue))
        self.metrics.gossip_health.set_function(self.membership.health)
        self.metrics.metadata_healthy.set_function(lambda: self.store.metadata_health() == "ok")
        self.metrics.dedup_saved.set_function(self.store.dedup_saved_bytes)
        self.metrics.python_gc_frozen.set_function(gc.get_freeze_count)
        self.gc_pauses.start()

        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        admin = AdminServicer(membership=self.membership, ring=self.cluster.ring, store=self.store,
                              default_replicas=storage.default_replicas,
                              metadata_replicas=storage.metadata_replicas, healing=self._healing(),
                              operations=self._operations(), peers=self.peers, pool=self.send_pool).handlers()
        objects = ObjectServicer(self.coordinator, self.metrics, self.cluster.state_name,
                                 access=self.credentials.access if self.tls else None,
                                 change_access=self.credentials.change_access,
                                 admission=admission if self.tls else None,
                                 direct=DirectReads(self.cluster, grants, self.cluster.client_address_of),
                                 grants=grants, read_chunk=self._read_chunk_copy, copy_writer=copy_writer)
        self.server.add_generic_rpc_handlers((
            objects.handlers(), admin,
            InitServicer(store=self.credentials, box=self.secret_box, cluster_key=cfg.cluster_secret,
                         wall_ms=self.clock.wall_ms).handlers(),
            CredentialsServicer(store=self.credentials, box=self.secret_box, wall_ms=self.clock.wall_ms,
                                buckets_of=self._buckets_of, bucket_of=self.coordinator.bucket,
                                data_keys=self.coordinator.data_keys).handlers(),
            ShareLinkServicer(self.coordinator, self.credentials, self.secret_box, self.metrics,
                              wall_ms=self.clock.wall_ms, enabled=self.tls is not None).handlers()))
        self.peer_server.add_generic_rpc_handlers((
            PeerServicer(self.store, self.hlc, self.metrics, storage.peer_frame_size_bytes,
                         storage.chunk_size_bytes, self.node_id, self._deep_throttle,
                         forget_bucket=self.coordinator.forget_bucket, quota_desk=self.quota_desk,
                         ring_gate=self.ring_gate).handlers(),
            MembershipServicer(self.membership, self.transport, self.metrics,
                               cfg.gossip.indirect_probe_timeout_s * (1 + cfg.gossip.health_max)).handlers(),
            admin,
        ))
        self.peer_server.start()
        self.server.start()
        if cfg.s3_listen_address:
            self._start_s3(objects)
        transport = f"with TLS as {self.tls.current.info.identity}" if self.tls else "in plaintext"
        log.info("serving clients on %s and peers on %s %s (metrics on %s:%d), generation %d, store %s created "
                 "at %d, profile %s", self.client_address, self.address, transport, metrics_host, self.metrics_port,
                 self.generation, self.store.identity.store_id, self.store.identity.created_at_unix_ms, cfg.profile)
        unreached = self._join(plan)
        self.return_guard = ReturnGuard(store=self.store, gone_verdicts=self.membership.gone_verdicts)
        previous_state = self.driver.previous_state.name if self.driver.previous_state is not None else None
        if not self.store.created_now and self.return_guard.after_join(previous_state) is not None:
            self.store.begin_refill()  # also a store already refilling after damage: its partial copy goes too
            self.membership.update_me(metadata_health=self._metadata_health_text())
        elif held_for_join:
            self.store.finish_refill()
        if new_store_joining and self.driver.previous_generation:
            log.warning("this node id was a member before (generation %d) and its store is new (a replaced "
                        "disk or data dir): metadata answers once refilled from the peers",
                        self.driver.previous_generation)
        elif new_store_joining:
            self.store.finish_refill()   # a new node: nothing was counted on here
            self.membership.update_me(metadata_health=self._metadata_health_text())
        self.members_recorder.start(self.clock.monotonic_s())
        self.driver.start()
        if unreached:
            threading.Thread(target=self._reach, args=(unreached,), name="reach", daemon=True).start()
        threading.Thread(target=self._watch_disk, name="disk", daemon=True).start()
        for name, loop in (("repair", self.repairer.run), ("metadata-sync", self._metadata_sync_loop),
                           ("metadata-refill", self._metadata_refill_loop),
                           ("scrub", self.scrubber.run), ("gc", self.gc.run), ("drain", self._drain_loop),
                           ("tombstones", self._tombstone_loop), ("members", self._members_loop),
                           ("uploads", self._uploads_loop), ("lifecycle", self.lifecycle.run)):
            threading.Thread(target=loop, args=(self._stopped,), name=name, daemon=True).start()
        for service in ("", "ringstore.v1.ObjectService", "ringstore.v1.PeerService",
                        "ringstore.v1.MembershipService", "ringstore.v1.AdminService"):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        self.health.set(METADATA_HEALTH_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING
                        if self._metadata_health_text() else health_pb2.HealthCheckResponse.SERVING)
        self._write_ready_file()

    def _start_s3(self, objects: ObjectServicer) -> None:
        """The S3 port (node/s3/gateway.py): HTTPS with this node's certificate, reloaded with it."""
        cfg = self.config
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            creds = self.tls.current
            context.load_cert_chain(creds.cert_path, creds.key_path)
            self.tls.on_reload(lambda: context.load_cert_chain(self.tls.current.cert_path, self.tls.current.key_path))
        self.s3 = S3Gateway(objects=objects, coordinator=self.coordinator, metrics=self.metrics,
                            lookup_key=self._lookup_key if self.tls else None, region=cfg.s3_region,
                            domain=cfg.s3_domain, health=self._s3_health,
                            object_size_bytes_max=cfg.storage.object_size_bytes_max, wall_ms=self.clock.wall_ms,
                            ssl_context=context, check_link=self._check_link if self.tls else None)
        try:
            self.s3_address = self.s3.start(cfg.s3_listen_address)
        except OSError as err:
            error = AddressUnavailable if err.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL) else ConfigError
            raise error(f"cannot serve S3 on {cfg.s3_listen_address}: {err.strerror or err}") from None
        if self.tls is None:
            log.warning("--insecure: the S3 port %s is plain HTTP and takes every request as the operator's, "
                        "signed or not", self.s3_address)
        log.info("serving S3 on %s (%s, region %s%s)", self.s3_address, "HTTPS" if context else "HTTP",
                 cfg.s3_region, f", virtual hosts under {cfg.s3_domain}" if cfg.s3_domain else "")

    def _s3_health(self) -> tuple[bool, dict]:
        """GET /health on the S3 port: whether this node can serve now, and a small summary."""
        me = self.membership.me()
        metadata = self._metadata_health_text()
        disk_full = self.store.disk.usage().full
        body = {"node": self.node_id, "state": me.state.name, "draining": me.draining, "disk_full": disk_full,
                "metadata": metadata or "ok", "members": self.cluster.members_by_state(),
                "repair_debt": len(self.repair_queue)}
        reasons = [why for why, bad in (("draining", me.draining), ("disk full", disk_full),
                                        ("metadata not ready: " + metadata, bool(metadata)),
                                        (f"state {me.state.name}", not me.state.live)) if bad]
        if reasons:
            body["not_serving"] = "; ".join(reasons)
        return not reasons, body

    def _join(self, plan: rejoin.JoinPlan) -> list[str]:
        """Join through the --join addresses or the remembered members; when none answers, run alone
        only where node/rejoin.py allows it (else it raises and noded exits 4). Returns the addresses
        of remembered members the joined table does not hold as live, to be called once afterwards."""
        if not plan.addresses:
            return []   # a new cluster's first node: nothing given, nothing remembered
        if plan.remembered:
            log.info("join candidates: %d --join, %d remembered in %s", len(plan.given), len(plan.remembered),
                     self.members_path)
        deadline_s = self.config.gossip.join_deadline_s
        try:
            self.driver.join_cluster(plan.addresses, deadline_s)
        except JoinUnanswered as err:
            log.warning("%s", rejoin.after_no_answer(plan, err, allow_alone=self.allow_alone, deadline_s=deadline_s,
                                                     members_path=self.members_path))
            if self.allow_alone:
                self.members_recorder.forget_unreached()
            return []
        return plan.unreached(self.membership.members())

    def _reach(self, addresses: list[str]) -> None:
        """After a join: call each remembered member the joined cluster did not know as live, once
        (node/rejoin.py: groups formed while a whole cluster started again merge this way)."""
        answered = self.driver.reach(addresses, self.config.gossip.rpc_timeout_s)
        log.info("called %d remembered members the join did not find live: %d answered", len(addresses), answered)

    def _members_loop(self, stop: threading.Event) -> None:
        """Write the members file when it changed, at most once per members_file_interval_s."""
        recorder = self.members_recorder
        while not stop.is_set():
            wait_s = recorder.step(self.clock.monotonic_s())
            recorder.changed.wait(min(wait_s, 1.0))

    # -- self-healing -------------------------------------------------------------------------------

    def _deep_throttle(self, bandwidth_bytes_per_s: int) -> TokenBucket:
        """What a deep probe (`fsck --deep`) reads through: the scrub's own throttle for 0, so
        scrub and deep audits together stay within scrub_bandwidth_bytes_per_s; else a bucket of
        its own at the asked rate."""
        if bandwidth_bytes_per_s == 0:
            return self.scrubber.throttle
        return TokenBucket(bandwidth_bytes_per_s, self.clock)

    def _start_healing(self, replicas: Replicas) -> None:
        cfg = self.config
        settled = lambda: self.clock.monotonic_s() - self.cluster.ring_changed_at_s >= cfg.repair.ring_settle_s  # noqa: E731

        def key_state(tenant: str, bucket: str, key: str, version_id: bytes) -> KeyState:
            versions = self.coordinator.key_versions(tenant, bucket, key, version_id)
            return KeyState(complete=versions is not None, versions=versions or ())

        self.gc = GarbageCollector(self.store, key_state, self.clock, cfg.repair.gc_grace_s, cfg.repair.gc_interval_s)
        self.repairer = Repairer(view=self.cluster, store=self.store, replicas=replicas, clock=self.clock,
                                 config=cfg.repair, queue=self.repair_queue, metrics=self.metrics,
                                 ring_changed_at_s=lambda: self.cluster.ring_changed_at_s,
                                 needed=self.gc.needed)
        self.metadata_sync = MetadataSync(view=self.cluster, store=self.store, replicas=replicas,
                                          metadata_replicas=cfg.storage.metadata_replicas, settled=settled,
                                          wall_ms=self.clock.wall_ms, ring_gate=self.ring_gate)
        self.metrics.handover_pending.labels("pending").set_function(
            lambda: self.metadata_sync.handover().partitions_pending)
        self.metrics.handover_pending.labels("waiting").set_function(
            lambda: self.metadata_sync.handover().partitions_waiting)
        self.metrics.handover_synced.set_function(
            lambda: int(self.metadata_sync.handover().synced_ring_fingerprint == self.cluster.ring().fingerprint))
        self.metadata_refill = MetadataRefill(view=self.cluster, store=self.store, replicas=replicas,
                                              metadata_replicas=cfg.storage.metadata_replicas, settled=settled)
        # Several metadata sync passes, so a stand-in has pushed to a home back from DOWN before a
        # purge can pass over it.
        stable_s = 3 * cfg.repair.repair_scan_interval_s + cfg.repair.ring_settle_s
        self.tombstones = TombstonePurger(view=self.cluster, store=self.store, replicas=replicas, clock=self.clock,
                                          metadata_replicas=cfg.storage.metadata_replicas,
                                          grace_s=cfg.repair.tombstone_grace_s, interval_s=cfg.repair.gc_interval_s,
                                          stable_s=stable_s, settled=settled, member_epoch=self._member_epoch,
                                          register_idle_s=cfg.repair.gc_grace_s,
                                          change_retention_s=cfg.repair.change_retention_s)
        self.store.set_register_horizon(cfg.repair.gc_grace_s / 2)
        self.store.set_change_retention(cfg.repair.change_retention_s)
        self.metrics.tombstones.set_function(lambda: self.tombstones.status().held)
        self.lifecycle = LifecycleWorker(node_id=self.node_id, store=self.store, coordinator=self.coordinator,
                                         clock=self.clock, owns=self._is_first_home, day_s=cfg.repair.lifecycle_day_s,
                                         interval_s=cfg.repair.lifecycle_interval_s,
                                         actions_per_pass_max=cfg.repair.lifecycle_actions_per_pass_max,
                                         on_action=lambda kind: self.metrics.lifecycle_actions.labels(kind).inc())
        self.metrics.lifecycle_backlog.set_function(lambda: self.lifecycle.status().backlog)
        self.metrics.watch_buckets(self._reported_buckets)
        self.store.set_usage_day(cfg.repair.lifecycle_day_s)
        self.coordinator.set_lifecycle_day(cfg.repair.lifecycle_day_s)
        self.coordinator.set_change_retention(cfg.repair.change_retention_s)
        self.metrics.tombstone_oldest_age.set_function(lambda: self.tombstones.status().oldest_age_s)
        self.scrubber = Scrubber(self.store, self.clock, cfg.repair.scrub_bandwidth_bytes_per_s,
                                 cfg.repair.scrub_interval_s, self._on_corrupt)
        self.membership.add_listener(self.repairer.trigger)
        self.metrics.watch_healing(scrub=self.scrubber.status, gc=self.gc.status)
        self.metrics.repair_debt_chunks.set_function(lambda: self.repairer.debt()[0])
        self.metrics.repair_debt_bytes.set_function(lambda: self.repairer.debt()[1])

    def _metadata_sync_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._metadata_sync_wake.wait(self.config.repair.repair_scan_interval_s)
            self._metadata_sync_wake.clear()
            if stop.is_set():
                return
            try:
                self.metadata_sync.step()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass; it is logged
                log.exception("metadata sync pass failed")

    # -- damaged metadata ------------------------------------------------------------------------------

    def _report_metadata_open(self) -> None:
        """Say (log, /metrics) what the store found wrong with its metadata env at open."""
        report = self.store.open_report
        if report is None:
            return
        if report.moved_to:
            self.metrics.metadata_rebuilds.inc()
            log.error("metadata env is corrupt (%s): kept it at %s and started a fresh one; %d share files "
                      "re-indexed, %d moved to quarantine; manifests, bucket and placement records are "
                      "refilled from the peers, and until then this node answers UNAVAILABLE for them",
                      report.damage, report.moved_to, report.shares_reindexed, report.share_files_refused)
        for err in report.corrupt:
            self.metrics.corrupt_records.labels(err.db).inc()
            log.error("corrupt record in db %s (key blake3 %s) found at open: %s; quarantined, refilled from "
                      "the peers", err.db, err.key_hash, err.detail)

    def _on_corrupt_record(self, err: CorruptRecord) -> None:
        """A record failed its checksum on read (the store dropped it): log it, count it."""
        self.metrics.corrupt_records.labels(err.db).inc()
        log.error("corrupt record in db %s (key blake3 %s): %s; quarantined, the other replicas answer for it "
                  "until read repair or the refill puts it back", err.db, err.key_hash, err.detail)

    def _metadata_health_text(self) -> str:
        health = self.store.metadata_health()
        return "" if health == "ok" else health

    def _member_epoch(self, node_id: str) -> tuple[int, int] | None:
        """(generation, times seen not live): changes when the member restarts or is seen DOWN,
        OUT or LEFT, however briefly; not with every incarnation bump (free bytes, maintenance)."""
        member = self.membership.get(node_id)
        return None if member is None else (member.generation, self._not_live_seen.get(node_id, 0))

    def _tombstone_loop(self, stop: threading.Event) -> None:
        purged_before = 0
        while not stop.wait(min(self.config.repair.gc_interval_s, 1.0)):
            try:
                self.tombstones.step()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass; it is logged
                log.exception("tombstone purge pass failed")
            purged_total = self.tombstones.status().purged_total
            self.metrics.tombstones_purged.inc(purged_total - purged_before)
            purged_before = purged_total

    def _is_first_home(self, tenant: str, bucket: str) -> bool:
        """Whether this node is the first live metadata home of the bucket's partition (the one that
        does the partition's background work: upload expiry, lifecycle)."""
        live = [n for n in self.cluster.ring().ordered_nodes(metadata_position(tenant, bucket))
                if self.cluster.is_live(n)]
        return bool(live) and live[0] == self.node_id

    def _reported_buckets(self) -> list:
        """(bucket, usage record, metadata homes) of the user buckets this node is the first live
        metadata home of: each bucket's gauges come from one node, from its own counters."""
        if self.store.metadata_health() != "ok":
            return []
        rows = []
        tenant = self.coordinator.tenant
        for partition_tenant, bucket in self.store.manifest_partitions():
            if partition_tenant != tenant or bucket.endswith(UPLOADS_SUFFIX) or not self._is_first_home(tenant, bucket):
                continue
            rows.append((bucket, self.store.bucket_usage(tenant, bucket), len(self.coordinator.metadata_homes(bucket))))
        return rows

    def _uploads_loop(self, stop: threading.Event) -> None:
        """Abort multipart uploads left unfinished longer than repair.upload_max_age_s."""
        cfg = self.config.repair
        while not stop.wait(cfg.gc_interval_s):
            try:
                self.coordinator.uploads.collect(self.store, self._is_first_home, self.clock.wall_ms(),
                                                 int(cfg.upload_max_age_s * 1000))
            except Exception:  # noqa: BLE001 - a failed pass is retried on the next one
                log.warning("pass over unfinished multipart uploads failed", exc_info=True)

    def _metadata_refill_loop(self, stop: threading.Event) -> None:
        """Refill the metadata from peers while the store waits for it, and announce its health
        (gossip's metadata_health, the health service's ringstore.v1.Metadata) when it changes.
        The return guard runs first in the same loop (every second): a node that refuted an OUT
        verdict about itself drops its manifests before a refill or anything else reads them."""
        next_refill_s = 0.0
        while not stop.wait(min(self.config.repair.repair_scan_interval_s, 1.0)):
            try:
                if self.return_guard.check() is not None:
                    self.store.begin_refill()
                    next_refill_s = 0.0
                now_s = self.clock.monotonic_s()
                if now_s >= next_refill_s:
                    next_refill_s = now_s + self.config.repair.repair_scan_interval_s
                    self.metadata_refill.step()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass; it is logged
                log.exception("metadata refill pass failed")
            health = self._metadata_health_text()
            if health != self.membership.me().metadata_health:
                if health == "damaged":
                    log.error("metadata env failed at run time (%s): this node answers UNAVAILABLE for "
                              "metadata; restart it to rebuild from its peers", self.store.describe_damage())
                self.membership.update_me(metadata_health=health)
            self.health.set(METADATA_HEALTH_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING if health
                            else health_pb2.HealthCheckResponse.SERVING)

    def _on_corrupt(self, share: ShareKey, reason: str) -> None:
        """Scrub found a copy corrupt (quarantined) or unreadable: have repair look at it now."""
        log.warning("scrub: %s", reason)
        self.metrics.corrupt_shares.inc()
        self.repairer.trigger()

    def _healing(self) -> Healing:
        def set_config(request: admin_pb2.SetRepairConfigRequest) -> None:
            if request.HasField("repair_bandwidth_bytes_per_s"):
                self.repairer.set_bandwidth(request.repair_bandwidth_bytes_per_s)
            if request.HasField("repair_concurrency_max"):
                self.repairer.set_concurrency(request.repair_concurrency_max)
            if request.HasField("scrub_bandwidth_bytes_per_s"):
                if request.scrub_bandwidth_bytes_per_s < 1:
                    raise errors.InvalidArgument("scrub bandwidth must be at least 1 byte/s")
                self.scrubber.set_bandwidth(request.scrub_bandwidth_bytes_per_s)

        def start_scrub() -> None:
            self.scrubber.request_pass()

        return Healing(repair_status=lambda: repair_status_pb(self.node_id, self.repairer.status()),
                       set_repair_config=set_config, start_scrub=start_scrub,
                       scrub_status=lambda: scrub_status_pb(self.node_id, self.scrubber.status()),
                       fsck=lambda bucket, deep, bandwidth_bytes_per_s: fsck(
                           self.coordinator, self.cluster, self.coordinator.replicas, self.send_pool,
                           bucket, deep_bandwidth_bytes_per_s=bandwidth_bytes_per_s if deep else None),
                       repair_debt_chunks=lambda: self.repairer.debt()[0], handover=self._handover_pb,
                       lifecycle_status=self.lifecycle.status)

    def _ask_handover(self, node_id: str, timeout_s: float, promise_ring: int) -> admin_pb2.NodeHandover:
        """A member's own handover and its promise for `promise_ring`: this node's from its metadata
        sync and ring gate, another's by GetHandover."""
        if node_id == self.node_id:
            return self._handover_pb(promise_ring)
        request = admin_pb2.GetHandoverRequest(this_node_only=True, promise_ring_fingerprint=promise_ring)
        reply = self.peers.admin_call(self.cluster.address_of(node_id), "GetHandover", request,
                                      admin_pb2.GetHandoverResponse, timeout_s)
        if len(reply.nodes) != 1 or reply.nodes[0].node_id != node_id:
            raise RuntimeError(f"{node_id} answered GetHandover for {[n.node_id for n in reply.nodes]}")
        return reply.nodes[0]

    def _handover_pb(self, promise_ring: int = 0) -> admin_pb2.NodeHandover:
        """This node's handover; with `promise_ring`, first its promise to readers on that ring."""
        promise_s = self.ring_gate.promise(promise_ring) if promise_ring else 0.0
        handover = self.metadata_sync.handover()
        return admin_pb2.NodeHandover(node_id=self.node_id, current_ring_fingerprint=self.cluster.ring().fingerprint,
                                      promise_s=promise_s, **dataclasses.asdict(handover))

    # -- operator actions on this node ----------------------------------------------------------------

    def _operations(self) -> Operations:
        return Operations(node_status=self._node_status, drain=self._drain, set_maintenance=self._set_maintenance,
                          plan_ring=self._plan_ring, set_faults=self._set_faults)

    def _node_status(self) -> admin_pb2.NodeStatus:
        held = holdings(self.store)
        tombstones = self.tombstones.status()
        disk = self.store.disk.usage()
        storage = self.config.storage
        return admin_pb2.NodeStatus(node_id=self.node_id, member=self.membership.me().to_proto(),
                                    shares_stored=held.shares, bytes_stored=held.bytes,
                                    metadata_records=held.metadata_records,
                                    placement_records=held.placement_records, disk_size_bytes=disk.size_bytes,
                                    tombstones_held=tombstones.held,
                                    oldest_tombstone_age_s=tombstones.oldest_age_s,
                                    disk_free_bytes=disk.free_bytes, disk_full_ratio=storage.disk_full_ratio,
                                    disk_free_bytes_min=storage.disk_free_bytes_min,
                                    master_key_ids=self._keyring.ids if self._keyring else [])

    def _drain(self, cancel: bool) -> admin_pb2.NodeStatus:
        me = self.membership.me()
        if me.state == MemberState.LEFT:
            raise errors.FailedPrecondition(f"{self.node_id} has already LEFT the cluster; starting its process "
                                            "again makes it join as a new ring member")
        if cancel and me.draining:
            self.membership.update_me(draining=False)
            self._save_operator_state(draining=False)
            log.info("drain cancelled: back in the ring")
        elif not cancel and not me.draining:
            self._check_drain_leaves_room()
            self.membership.update_me(draining=True)
            self._save_operator_state(draining=True)
            log.info("draining: out of the ring; repair moves this node's data to its new homes")
        return self._node_status()

    def _check_drain_leaves_room(self) -> None:
        """Refuse a drain after which some policy this node holds (or new buckets get) cannot be placed."""
        remaining = [m.node_id for m in self.membership.ring_members() if m.node_id != self.node_id]
        storage = self.config.storage
        widest = {f"replicas={storage.default_replicas}, the default for new buckets": storage.default_replicas,
                  f"metadata, kept {storage.metadata_replicas} times": storage.metadata_replicas}
        for record in self.store.iter_placements():
            layout = Layout.of_record(record)
            widest.setdefault(f"{layout.policy_text} chunks held here", layout.wanted)
        what, wanted = max(widest.items(), key=lambda item: item[1])
        if len(remaining) < wanted:
            raise errors.FailedPrecondition(
                f"draining {self.node_id} would leave {len(remaining)} ring members, but {wanted} are needed by "
                f"{what}; add a node first, or convert those objects to a narrower policy")

    def _set_maintenance(self, duration_s: int) -> admin_pb2.NodeStatus:
        until_ms = self.clock.wall_ms() + duration_s * 1000 if duration_s else 0
        self.membership.update_me(maintenance_until_unix_ms=until_ms)
        self._save_operator_state(maintenance_until_unix_ms=until_ms)
        if until_ms:
            log.info("in maintenance for %d s: peers will not turn this node OUT before then", duration_s)
        else:
            log.info("maintenance ended")
        return self._node_status()

    def _plan_ring(self, request: admin_pb2.PlanRingRequest) -> admin_pb2.PlanRingResponse:
        return plan_ring_change(request, me=self.node_id, ring=self.cluster.ring(), is_live=self.cluster.is_live,
                                records=self.store.iter_placements(),
                                weight_unit_bytes=self.config.ring.weight_unit_bytes,
                                store_created_at_ms=lambda node_id: self.cluster.store_of(node_id)[1])

    def _set_faults(self, request: admin_pb2.SetFaultsRequest) -> admin_pb2.SetFaultsResponse:
        """Replace this node's injected faults (an empty request clears them)."""
        if not self.allow_fault_injection:
            raise errors.FailedPrecondition(f"fault injection is off on {self.node_id}; start noded with "
                                            "--allow-fault-injection (tests and cluster-sim only)")
        try:
            faults = FaultSet.of(drop_peer_addresses=request.drop_peer_addresses,
                                 delay_rpc_ms=request.delay_rpc_ms, delay_disk_ms=request.delay_disk_ms)
        except InvalidFaults as err:
            raise errors.InvalidArgument(str(err)) from None
        self.faults.set(faults)
        log.warning("injected faults now: %s", faults.describe())
        return admin_pb2.SetFaultsResponse(node_id=self.node_id, faults=admin_pb2.SetFaultsRequest(
            drop_peer_addresses=sorted(faults.drop_peer_addresses), delay_rpc_ms=faults.delay_rpc_ms,
            delay_disk_ms=faults.delay_disk_ms))

    def _drain_loop(self, stop: threading.Event) -> None:
        def leave() -> None:
            self.membership.leave()
            self._save_operator_state(draining=False)

        watch = DrainWatch(me=self.membership.me, store=self.store, monotonic_s=self.clock.monotonic_s,
                           settle_s=self.config.repair.ring_settle_s, leave=leave)
        while not stop.wait(DRAIN_CHECK_INTERVAL_S):
            try:
                watch.step()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad check; it is logged
                log.exception("drain check failed")

    def _operator_state_path(self) -> str:
        return os.path.join(self.config.data_dir, OPERATOR_STATE_FILE)

    def _listen(self, server: grpc.Server, address: str, *, require_client_auth: bool) -> str:
        """Bind `server` to `address` (TLS unless --insecure); returns host:port as bound."""
        try:
            if self.tls is None:
                port = server.add_insecure_port(address)
            else:
                port = server.add_secure_port(address,
                                              self.tls.server_credentials(require_client_auth=require_client_auth))
        except RuntimeError:  # grpcio raises "Failed to bind to address ..." (older releases returned 0)
            port = 0
        if port == 0:
            raise AddressUnavailable(f"cannot listen on {address}: address in use or not local")
        return f"{address.rsplit(':', 1)[0]}:{port}"

    def _lookup_key(self, key_id: str):
        """(record, secret) of an access key for the request-auth interceptor; None when unknown."""
        record = self.credentials.key(key_id)
        if record is None:
            return None
        try:
            return record, self.secret_box.open(key_id, record.sealed_secret)
        except SealedSecretError as err:
            log.error("access key %s: %s", key_id, err)
            return None

    def _read_chunk_copy(self, chunk_id: bytes, data_shares: int = 0, parity_shares: int = 0,
                         share_index: int = 0) -> bytes:
        """This node's whole copy of a replicated chunk (data_shares 0), or its share `share_index`
        of an erasure-coded one, checked against its blake3 (ReadChunk)."""
        try:
            key = (ShareKey(chunk_id) if data_shares == 0 and parity_shares == 0 else
                   ShareKey(chunk_id, share_index, data_shares, parity_shares))
        except StoreInvalidArgument as err:
            raise errors.InvalidArgument(f"ReadChunk: {err}") from None
        what = (f"chunk {chunk_id.hex()[:16]}" if key.share_index is None else
                f"share {share_index} of chunk {chunk_id.hex()[:16]} (ec={data_shares}+{parity_shares})")
        try:
            return self.store.read_share(key)
        except ShareNotFound:
            if self._placed_here(key):
                # This node's own placement record says it holds the copy: it was lost here.
                self._report_damage(chunk_id, data_shares, parity_shares, key.share_index, self.node_id, "missing")
            raise errors.NotFound(f"this node holds no copy of {what}: read another holder, "
                                  "or get the object through GetObject") from None
        except CorruptShare as err:
            # The store moved the copy to quarantine; the client reads another holder (or the
            # streamed get decodes), and the copy is made again here (nobody else saw the damage).
            self._report_damage(chunk_id, data_shares, parity_shares, key.share_index, self.node_id, "corrupt")
            raise errors.DataLoss(f"{err}: read another holder") from None

    def _placed_here(self, key: ShareKey) -> bool:
        """Whether the placement record stored here names this node as the holder of `key`."""
        try:
            record = self.store.get_placement(key.chunk_id, key.data_shares, key.parity_shares)
        except StoreError:
            return False
        # A replica's holders are numbered by slot, any of which may be this node's.
        return record is not None and any(
            h.node_id == self.node_id and (key.share_index is None or h.share_index == key.share_index)
            for h in record.holders)

    def _check_link(self, token: str) -> LinkHolder:
        """The caller a share link token stands for, for the request-auth interceptor (LinkError
        otherwise); node/auth/links.py. Never logs the token."""
        return share_links.check(token, link_key=self.secret_box.link_key(), now_ms=self.clock.wall_ms(),
                                 record=self.credentials.link, access_key=self.credentials.key)

    def _diagnose_peer(self, address: str) -> str | None:
        """Whether the peer at `address` refuses this node's certificate, or serves TLS to this
        plaintext node (see GrpcTransport)."""
        if self.tls is None:
            if ringstore_tls.probe(address) is None:
                return None
            return (f"{address} serves TLS and this node runs --insecure: start it with --tls-cert, --tls-key and "
                    "--tls-ca (a certificate from the cluster's CA)")
        creds = self.tls.current
        return ringstore_tls.probe(address, use_tls=True, ca_file=creds.ca_path, cert_file=creds.cert_path,
                                   key_file=creds.key_path)

    def reload_master_keys(self) -> None:
        """SIGHUP: read the master keyring again (a key added for a rotation, or one retired after
        it); on a bad file keep the current keyring and say why."""
        if not self.config.master_key_file:
            return
        try:
            fresh = masterkeys.load(self.config.master_key_file)
        except masterkeys.KeyringError as err:
            log.error("SIGHUP: kept the current master keys (%s): %s", ", ".join(self._keyring.ids), err)
            return
        self._keyring = fresh
        log.info("SIGHUP: master keys %s (primary %s)", ", ".join(fresh.ids), fresh.primary.key_id)

    def reload_tls(self) -> None:
        """SIGHUP: read the certificate, key and CA again and serve and call with them from now on;
        on a bad file keep the old ones and say why."""
        if self.tls is None:
            log.info("SIGHUP: nothing to reload (--insecure)")
            return
        try:
            fresh = self.tls.reload()
        except ringstore_tls.TlsError as err:
            self.metrics.tls_reload_failures.inc()
            log.error("SIGHUP: kept the current certificate: %s", err)
            return
        log.info("SIGHUP: reloaded %s (valid until %s UTC)", fresh.cert_path,
                 fresh.info.not_after.strftime("%Y-%m-%d %H:%M:%S"))
        self.membership.update_me(tls_not_after_unix_ms=self._tls_not_after_unix_ms())
        self._warn_if_expiring()

    def _quota_usage(self, bucket: str) -> common_pb2.UsageRecord:
        """What a bucket's quota counts: its objects and their bytes, the bytes of the versions kept
        behind them (versioned buckets), and the bytes of its unfinished uploads' parts (manifests of
        the hidden uploads bucket, node/objects/uploads.py), so neither old versions nor parts put
        and never completed can go past a byte quota."""
        counted = common_pb2.UsageRecord()
        counted.CopyFrom(self.coordinator.bucket_usage(bucket)[0])
        counted.logical_bytes += self.coordinator.uploads.usage(bucket).logical_bytes + counted.noncurrent_bytes
        return counted

    def _buckets_of(self, tenant: str) -> list[str]:
        """Names of the live buckets `tenant` owns."""
        return [b.name for b in self.coordinator.list_buckets() if b.owner == tenant]

    def _tls_not_after_unix_ms(self) -> int:
        return int(self.tls.not_after.timestamp() * 1000) if self.tls else 0

    def _warn_if_expiring(self) -> None:
        left_s = self.tls.not_after.timestamp() - self.clock.wall_ms() / 1000
        if left_s < ringstore_tls.CERT_EXPIRY_WARNING_S:
            log.warning("this node's certificate %s expires in %.1f days: issue a new one and send SIGHUP",
                        self.tls.current.cert_path, left_s / 86400)

    def _load_operator_state(self) -> dict:
        state = {"draining": False, "maintenance_until_unix_ms": 0}
        try:
            with open(self._operator_state_path()) as f:
                saved = json.load(f)
        except FileNotFoundError:
            return state
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read {self._operator_state_path()}: {err}; fix or remove the file "
                              "(it holds only the drain flag and the maintenance window)") from None
        state["draining"] = bool(saved.get("draining", False))
        until_ms = int(saved.get("maintenance_until_unix_ms", 0))
        state["maintenance_until_unix_ms"] = until_ms if until_ms > self.clock.wall_ms() else 0
        return state

    def _save_operator_state(self, **changes: object) -> None:
        me = self.membership.me()
        state = {"draining": me.draining, "maintenance_until_unix_ms": me.maintenance_until_unix_ms, **changes}
        _write_json_durably(self._operator_state_path(), state)

    def _on_member_change(self, old: MemberInfo | None, new: MemberInfo) -> None:
        fingerprint = self.cluster.ring().fingerprint
        if fingerprint != self._ring_fingerprint_seen:
            # A new ring: hand metadata partitions to their new homes now, not at the next interval.
            self._ring_fingerprint_seen = fingerprint
            self._metadata_sync_wake.set()
        if not new.state.live and (old is None or old.state.live):
            self._not_live_seen[new.node_id] = self._not_live_seen.get(new.node_id, 0) + 1
        if new.state == MemberState.DOWN and old is not None and old.state != MemberState.DOWN:
            self.metrics.member_down.labels(new.node_id).inc()
        came_back = new.state.live and (
            old is None or not old.state.live or old.generation != new.generation)
        if came_back and new.node_id != self.node_id:
            self.peers.forget(new.address)
        if old is not None and old.store_id != new.store_id and new.node_id != self.node_id:
            # A new store under a known node id (a replaced disk): it holds none of the metadata
            # partitions it homes; push them now rather than at the next interval.
            log.info("%s is back with a new store %s (was %s): refilling its copies and metadata",
                     new.node_id, new.store_id or "(none)", old.store_id or "(none)")
            self._metadata_sync_wake.set()

    def _report_damage(self, chunk_id: bytes, data_shares: int, parity_shares: int, share_index: int | None,
                       node_id: str, reason: str) -> None:
        """A read found a copy it could not use: count it and queue it for repair."""
        self.repair_queue.report(DamageReport(chunk_id, data_shares, parity_shares, share_index, node_id, reason))
        self.metrics.damage_reports.labels(reason).inc()
        if reason == "corrupt":
            self.metrics.corrupt_shares.inc()
        self.repairer.trigger()

    def _watch_disk(self) -> None:
        """Announce a change of the disk-full verdict at once (placement on every node depends on
        it) and free bytes now and then (every announcement bumps this node's incarnation)."""
        announced_s = self.clock.monotonic_s()
        while not self._stopped.wait(DISK_CHECK_INTERVAL_S):
            try:
                usage = self.store.disk.usage()
            except OSError:
                log.exception("cannot read the data filesystem's usage")
                continue
            me = self.membership.me()
            now_s = self.clock.monotonic_s()
            if usage.full != me.disk_full:
                log.warning("disk %s", usage.reason if usage.full else "has room again: new copies may be placed here")
                self.membership.update_me(disk_full=usage.full, free_bytes=usage.free_bytes)
                announced_s = now_s
            elif (now_s - announced_s >= FREE_BYTES_REPORT_INTERVAL_S
                  and abs(usage.free_bytes - me.free_bytes) * 100 >= max(me.free_bytes, 1)):
                self.membership.update_me(free_bytes=usage.free_bytes)
                announced_s = now_s

    def _write_ready_file(self) -> None:
        info = {"node_id": self.node_id, "address": self.client_address, "peer_address": self.address,
                "tls": self.tls is not None,
                "metrics_address": f"{self.config.metrics_address.rsplit(':', 1)[0]}:{self.metrics_port}",
                "pid": os.getpid(), "generation": self.generation, "s3_address": self.s3_address}
        _write_json_durably(os.path.join(self.config.data_dir, "node.json"), info)

    def stop(self, *, leave: bool) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._metadata_sync_wake.set()
        for service in ("", "ringstore.v1.ObjectService"):
            self.health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
        if leave and self.membership.me().maintenance_until_unix_ms > self.clock.wall_ms():
            # A planned restart: stay a ring member (peers see us DOWN, handoff copies take our
            # writes, and the window holds off OUT) rather than LEFT, which would move our data.
            log.info("stopping inside a maintenance window: not announcing LEFT")
            leave = False
        if leave:
            try:
                self.driver.leave(self.config.gossip.rpc_timeout_s * 2)
            except Exception:  # noqa: BLE001 - leaving is best effort; peers will detect us anyway
                log.warning("could not announce LEFT to peers", exc_info=True)
        self.driver.stop()
        self.gc_pauses.stop()
        self.members_recorder.flush(self.clock.monotonic_s())
        if self.s3 is not None:
            self.s3.stop()
        client_stopped = self.server.stop(grace=2.0)
        self.peer_server.stop(grace=2.0).wait(5.0)
        client_stopped.wait(5.0)
        self.repairer.close()
        self.chunk_pool.shutdown(wait=False, cancel_futures=True)
        self.send_pool.shutdown(wait=False, cancel_futures=True)
        self.metrics_server.shutdown()
        self.peers.close()
        self.store.close()
        log.info("stopped")


def _write_json_durably(path: str, document: dict) -> None:
    """Replace `path` with `document`, fsynced, so a crash leaves the old or the new file whole."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(document, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def check_private_file(path: str, what: str) -> None:
    """Refuse a secret or private key that group or others may read (as ssh refuses a key), with
    the chmod that fixes it."""
    problem = ringstore_tls.private_file_problem(path)
    if problem:
        raise ConfigError(f"{what} {problem}")


def _read_secret(path: str | None) -> bytes:
    if path:
        check_private_file(path, "cluster secret file")
        with open(path, "rb") as f:
            return f.read().strip()
    env = os.environ.get("RINGSTORE_CLUSTER_SECRET", "")
    return env.encode()


def _check_metadata(data_dir: str) -> int:
    """`noded --check-metadata`: one line per corrupt record and a verdict; 0 clean, 1 damaged."""
    path = os.path.join(data_dir, "store", "meta")
    if not os.path.isdir(path):
        click.echo(f"noded: error: {path} does not exist; is --data-dir the node's data dir?", err=True)
        return EXIT_CONFIG
    damage, _ = probe_env(path)  # pages that abort LMDB abort a child, not this check
    checked, corrupt = 0, []
    if not damage:
        checked, corrupt, damage = check_env(path)
    for err in corrupt:
        click.echo(f"corrupt record in db {err.db} (key blake3 {err.key_hash}): {err.detail}")
    if damage:
        click.echo(f"metadata env {path} is damaged: {damage}; start the node to rebuild it from its peers "
                   "(or with --rebuild-metadata)")
        return 1
    if corrupt:
        click.echo(f"metadata env {path}: {len(corrupt)} of {checked} records corrupt; starting the node drops "
                   "them and refills them from its peers")
        return 1
    click.echo(f"metadata env {path}: {checked} records, all intact")
    return 0


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", required=True, type=click.Path(file_okay=False), help="Where this node keeps its data.")
@click.option("--listen", "listen_address", default="127.0.0.1:7400", show_default=True,
              help="host:port of the client port (port 0 picks a free one).")
@click.option("--peer-listen", "peer_listen_address", default="127.0.0.1:7401", show_default=True,
              help="host:port of the peer port, for other nodes only (port 0 picks a free one).")
@click.option("--advertise", "advertise_address", default="",
              help="host:port peers should use for the peer port (default: as bound).")
@click.option("--tls-cert", default="", help="This node's certificate (PEM), from `nodectl tls issue-node`.")
@click.option("--tls-key", default="", help="Its private key (PEM, mode 0600).")
@click.option("--tls-ca", default="", help="The cluster CA certificate (PEM; several for a CA rotation).")
@click.option("--insecure", is_flag=True,
              help="Plaintext on both ports, no peer authentication: one trusted machine only.")
@click.option("--metrics-listen", "metrics_address", default="127.0.0.1:0", show_default=True,
              help="host:port for the Prometheus endpoint.")
@click.option("--s3-listen", "s3_listen_address", default="",
              help="host:port of the S3 port (HTTPS with the node's certificate; port 0 picks one). Off when empty.")
@click.option("--s3-region", default="ringstore", show_default=True, help="Region S3 clients sign requests for.")
@click.option("--s3-domain", default="", help="Domain for virtual-hosted-style S3 requests (BUCKET.DOMAIN).")
@click.option("--node-id", default="", help="Node id for a new data dir (kept in the data dir afterwards).")
@click.option("--zone", default="", help="Failure domain; copies spread over distinct zones first.")
@click.option("--capacity-bytes", type=int, default=1024 ** 4, show_default=True, help="Ring weight follows it.")
@click.option("--join", "join_addresses", multiple=True,
              help="Peer host:port of any live node (repeatable). Tried before the members remembered in "
                   "DATA_DIR/members.json.")
@click.option("--allow-alone", is_flag=True,
              help="Run as a cluster of one when no join candidate answers, even if this data dir was a member "
                   "of a cluster whose members it remembers (otherwise it exits 4).")
@click.option("--cluster-secret-file", type=click.Path(dir_okay=False), default=None,
              help="File holding the cluster secret (else RINGSTORE_CLUSTER_SECRET).")
@click.option("--master-key-file", type=click.Path(dir_okay=False), default="", envvar="RINGSTORE_MASTER_KEY_FILE",
              help="Master keyring for encryption at rest (`nodectl admin master-key add FILE`; the same file, mode "
                   "0600, on every node). Without one the node cannot encrypt at rest.")
@click.option("--profile", type=click.Choice(NodeConfig.profiles()), default="lan", show_default=True,
              help="Timer profile: lan for real clusters, local for cluster-sim.")
@click.option("--default-replicas", type=int, default=None, help="Copies per chunk for new buckets.")
@click.option("--set", "settings", multiple=True, metavar="SECTION.FIELD=VALUE",
              help="Override one config value, e.g. repair.gc_grace_s=600 (repeatable).")
@click.option("--allow-fault-injection", is_flag=True,
              help="Let AdminService.SetFaults drop this node's peer calls and delay its RPCs and disk "
                   "(tests and cluster-sim only).")
@click.option("--rebuild-metadata", is_flag=True,
              help="Keep the metadata env aside (store/meta.corrupt-<unix ms>) and start a fresh one: share "
                   "files re-indexed, manifests, bucket and placement records refilled from the peers.")
@click.option("--check-metadata", is_flag=True,
              help="Check the stopped node's metadata env (every record's checksum, LMDB's own walk), print "
                   "what is wrong and exit: 0 clean, 1 damaged. Changes nothing.")
@click.option("--log-level", default="info", show_default=True)
def main(data_dir, listen_address, peer_listen_address, advertise_address, tls_cert, tls_key, tls_ca, insecure,
         metrics_address, s3_listen_address, s3_region, s3_domain, node_id, zone, capacity_bytes,
         join_addresses, allow_alone, cluster_secret_file, master_key_file, profile, default_replicas, settings,
         allow_fault_injection, rebuild_metadata, check_metadata, log_level) -> None:
    """Run one Ringstore node."""
    if check_metadata:
        sys.exit(_check_metadata(data_dir))
    setup_logging(log_level)
    try:
        config = NodeConfig.for_profile(
            profile, data_dir=data_dir, listen_address=listen_address, peer_listen_address=peer_listen_address,
            advertise_address=advertise_address, tls_cert=tls_cert, tls_key=tls_key, tls_ca=tls_ca, insecure=insecure,
            node_id=node_id, zone=zone, capacity_bytes=capacity_bytes, join_addresses=tuple(join_addresses),
            metrics_address=metrics_address, s3_listen_address=s3_listen_address, s3_region=s3_region,
            s3_domain=s3_domain, cluster_secret=_read_secret(cluster_secret_file), master_key_file=master_key_file)
        if default_replicas is not None:
            config = dataclasses.replace(config, storage=dataclasses.replace(config.storage,
                                                                             default_replicas=default_replicas))
        overrides = {}
        for item in settings:
            name, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"--set {item!r}: write SECTION.FIELD=VALUE, e.g. repair.gc_grace_s=600")
            overrides[name.strip()] = value.strip()
        config = config.with_settings(overrides)
        make_private_dir(data_dir)
        daemon = NodeDaemon(config, allow_fault_injection=allow_fault_injection,
                            rebuild_metadata=rebuild_metadata, allow_alone=allow_alone)
    except (ConfigError, OSError) as err:
        click.echo(f"noded: error: {err}", err=True)
        sys.exit(EXIT_CONFIG)

    # Refused TLS handshakes, which gRPC's core logs in its own words, become one clear line each.
    relay = CoreLogRelay(node_id=lambda: _log_filter.node_id,
                         on_refusal=lambda reason: daemon.metrics.auth_failures.labels(reason).inc())
    relay.start()
    stop_requested = threading.Event()
    reload_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    signal.signal(signal.SIGHUP, lambda *_: reload_requested.set())
    try:
        daemon.start()
    except PeerRejected as err:
        click.echo(f"noded: error: could not join through {err.address}: {err.reason}", err=True)
        daemon.stop(leave=False)
        sys.exit(EXIT_JOIN_REFUSED)
    except PeerUnreachable as err:
        click.echo(f"noded: error: no join address answered within {config.gossip.join_deadline_s:.0f} s ({err})",
                   err=True)
        daemon.stop(leave=False)
        sys.exit(EXIT_JOIN_UNREACHABLE)
    except rejoin.RefusedToRunAlone as err:
        click.echo(f"noded: error: {err}", err=True)
        daemon.stop(leave=False)
        sys.exit(EXIT_JOIN_UNREACHABLE)
    except AddressUnavailable as err:
        click.echo(f"noded: error: {err}", err=True)
        sys.exit(EXIT_ADDRESS_UNAVAILABLE)
    except ConfigError as err:
        click.echo(f"noded: error: {err}", err=True)
        sys.exit(EXIT_CONFIG)
    # Everything start-up made lives as long as the process: out of every later collection's walk.
    log.info("%d start-up objects exempt from garbage collection", collector.freeze_startup_objects())
    while not stop_requested.wait(0.5):
        if reload_requested.is_set():
            reload_requested.clear()
            daemon.reload_tls()
            daemon.reload_master_keys()
    log.info("stop requested: leaving the cluster")
    daemon.stop(leave=True)


if __name__ == "__main__":
    main()
