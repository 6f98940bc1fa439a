"""Configuration: one frozen dataclass per subsystem, with named profiles.

Every field says what it trades off. `lan()` is for real deployments; `local()` is for cluster-sim
and tests, where many nodes share one machine and we want failures detected in a second or two
rather than seconds. Values are validated in `__post_init__` with a message that says how to fix
them, because a bad timer is much cheaper to reject at start-up than to debug as a flapping
cluster.
"""

from __future__ import annotations

import dataclasses
import re

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
# The wire contract's longest object key in UTF-8 bytes (node.objects.validate.KEY_LENGTH_BYTES_MAX;
# a unit test checks they agree): config may lower the limit, never raise it past what clients
# and docs promise.
KEY_LENGTH_BYTES_LIMIT = 1024
# Most buckets in a membership table digest (node.gossip.digest.BUCKETS_MAX; a unit test checks they
# agree): a peer refuses a digest with more.
STATE_SYNC_BUCKETS_MAX = 4096


class ConfigError(ValueError):
    """A configuration value is out of range; the message says which and how to fix it."""


class AddressUnavailable(ConfigError):
    """A listen address could not be bound: the port is taken (or the host is not local). Unlike
    other configuration errors this one may pass by itself, so noded exits with its own code."""


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@dataclasses.dataclass(frozen=True)
class GossipConfig:
    """Membership and failure detection (node/gossip), and how a starting node finds the cluster
    (node/rejoin.py: the join deadline and the members file it remembers the cluster by)."""

    # Time between heartbeats a node sends to its watchers. Lower detects failures sooner at the
    # cost of bandwidth and CPU on every node.
    heartbeat_interval_s: float = 1.0
    # Consecutive heartbeats a watcher may miss before it starts the indirect check. Lower detects
    # sooner; higher tolerates slow links and GC pauses without accusing anyone.
    missed_heartbeats_down: int = 3
    # Watchers per node. More watchers make detection robust to a watcher dying too, at the cost of
    # more heartbeats per node per interval (load stays flat as the cluster grows).
    monitor_count: int = 3
    # Nodes asked to reach a silent node before it is declared DOWN (SWIM indirect probe). More
    # helpers protect against one bad link; each costs one RPC.
    indirect_probe_count: int = 2
    # How long the indirect check may take before the silent node is declared SUSPECT.
    indirect_probe_timeout_s: float = 0.5
    # A SUSPECT node turns DOWN after a timeout between these two (Lifeguard): the maximum with no
    # confirmation from another watcher, the minimum once every other watcher confirmed it. The
    # minimum is the floor on detection added to a real crash (its watchers all confirm); the
    # maximum is the time a falsely accused node has to hear of it and refute before anyone routes
    # around it (one bad link, a partly cut-off accuser). Higher maximum: fewer false DOWN verdicts.
    suspicion_timeout_s_min: float = 0.25
    suspicion_timeout_s_max: float = 6.0
    # Random peers each fresh update is pushed to per gossip round. Higher spreads verdicts faster
    # at the cost of bandwidth.
    gossip_fanout: int = 3
    # Time between gossip rounds while fresh updates exist.
    gossip_interval_s: float = 0.2
    # How many rounds an update stays fresh (is re-sent); the total sends per update is
    # gossip_retransmit_max * gossip_fanout.
    gossip_retransmit_max: int = 4
    # Period of the full push-pull state exchange with one random peer, which repairs anything
    # gossip missed. Lower converges faster after partitions at the cost of a full table per period.
    state_sync_interval_s: float = 30.0
    # Buckets of the table digest that state sync sends instead of the table (node/gossip/digest.py):
    # a converged pair exchanges 8 bytes per bucket per sync and no records, and a difference costs
    # the records of the buckets it touches (about N / buckets each). More buckets: a bigger constant
    # message, fewer records re-sent per difference. 0 sends the whole table every sync, as nodes
    # before the digest did (to rule the digest out when debugging; they interoperate either way).
    state_sync_buckets: int = 64
    # A DOWN node becomes OUT (leaves the ring; its data is repaired elsewhere) after this long.
    # Higher avoids repair storms on restarts; lower restores redundancy sooner.
    repair_after_down_s: float = 300.0
    # Deadline of one membership RPC (heartbeat, gossip, ping).
    rpc_timeout_s: float = 0.5
    # When the node's own loop runs this many intervals late, it holds back verdicts for a round
    # (Lifeguard): a starved watcher must not accuse healthy peers.
    lateness_tolerance_intervals: float = 0.5
    # Most updates piggybacked on one message; bounds message size in large clusters.
    piggyback_updates_max: int = 32
    # Local health (Lifeguard): each sign that this node itself is slow (a late step, having to
    # refute a DOWN about itself, a DOWN verdict of its own that the accused refuted at once) adds
    # one, up to this; its silence threshold and probe timeout are
    # multiplied by 1 + health. 0 turns it off. Higher keeps an overloaded cluster from accusing
    # itself into a storm; each point costs that much slower detection while the node is unhealthy.
    health_max: int = 7
    # How long a starting node keeps trying its join candidates (its --join addresses and the
    # members it remembers) before it gives up: exit 4, or a cluster of one when that is allowed
    # (node/rejoin.py). Longer lets the nodes of a whole cluster started at once find each other
    # even when they come up far apart; shorter reports a wrong --join or a dead cluster sooner.
    join_deadline_s: float = 30.0
    # Least time between two writes of the members file (DIR/members.json, node/rejoin.py): a
    # change of a member's state or address, or a new member, is saved at most this long after it
    # happened. Lower keeps the file fresher for a crash (a kill -9 loses the changes since the last
    # write); higher costs fewer fsyncs while the cluster flaps.
    members_file_interval_s: float = 10.0

    def __post_init__(self) -> None:
        _require(self.heartbeat_interval_s > 0, "heartbeat_interval_s must be > 0 (try 1.0)")
        _require(self.missed_heartbeats_down >= 1, "missed_heartbeats_down must be >= 1 (try 3)")
        _require(self.monitor_count >= 1, "monitor_count must be >= 1 (try 3)")
        _require(self.indirect_probe_count >= 0, "indirect_probe_count must be >= 0 (try 2)")
        _require(self.indirect_probe_timeout_s > 0, "indirect_probe_timeout_s must be > 0")
        _require(0 < self.suspicion_timeout_s_min <= self.suspicion_timeout_s_max,
                 "suspicion_timeout_s_min must be > 0 and <= suspicion_timeout_s_max (try 0.25 and 6.0)")
        _require(self.gossip_fanout >= 1, "gossip_fanout must be >= 1 (try 3)")
        _require(self.gossip_interval_s > 0, "gossip_interval_s must be > 0")
        _require(self.gossip_retransmit_max >= 1, "gossip_retransmit_max must be >= 1")
        _require(self.state_sync_interval_s > 0, "state_sync_interval_s must be > 0 (try 30)")
        _require(0 <= self.state_sync_buckets <= STATE_SYNC_BUCKETS_MAX,
                 f"state_sync_buckets must be in 0..{STATE_SYNC_BUCKETS_MAX} (try 64; 0 sends whole tables)")
        _require(self.repair_after_down_s > 0, "repair_after_down_s must be > 0 (try 300)")
        _require(self.rpc_timeout_s > 0, "rpc_timeout_s must be > 0")
        _require(self.piggyback_updates_max >= 1, "piggyback_updates_max must be >= 1")
        _require(self.health_max >= 0, "health_max must be >= 0 (try 7; 0 turns local health off)")
        _require(self.join_deadline_s > 0, "join_deadline_s must be > 0 (try 30)")
        _require(self.members_file_interval_s > 0, "members_file_interval_s must be > 0 (try 10)")

    @property
    def down_after_s(self) -> float:
        """Silence after which a watcher starts the indirect check."""
        return self.heartbeat_interval_s * self.missed_heartbeats_down

    @classmethod
    def lan(cls) -> "GossipConfig":
        return cls()

    @classmethod
    def local(cls) -> "GossipConfig":
        """Fast timers for cluster-sim: DOWN within about a second, OUT after 10 s."""
        return cls(
            heartbeat_interval_s=0.25,
            indirect_probe_timeout_s=0.3,
            suspicion_timeout_s_min=0.1,
            suspicion_timeout_s_max=3.0,
            gossip_interval_s=0.1,
            state_sync_interval_s=2.0,
            repair_after_down_s=10.0,
            rpc_timeout_s=0.3,
            members_file_interval_s=1.0,
        )


@dataclasses.dataclass(frozen=True)
class RingConfig:
    """Placement (node/ring)."""

    # Tokens per node of weight 1.0. More tokens spread load more evenly and move less on
    # membership changes, at the cost of memory and a slower ring rebuild.
    vnodes_per_node: int = 256
    # Capacity that counts as weight 1.0; a node's weight is capacity_bytes / this.
    weight_unit_bytes: int = 1024 * GIB

    def __post_init__(self) -> None:
        _require(1 <= self.vnodes_per_node <= 4096, "vnodes_per_node must be in 1..4096 (try 256)")
        _require(self.weight_unit_bytes > 0, "weight_unit_bytes must be > 0")


@dataclasses.dataclass(frozen=True)
class StorageConfig:
    """Object layout and the write/read paths."""

    # Objects are cut into chunks of this size. Larger chunks mean fewer placement records and
    # RPCs; smaller ones mean finer deduplication and less memory per in-flight chunk.
    chunk_size_bytes: int = 4 * MIB
    # Objects up to this size live inside their manifest (no chunk, no placement record).
    inline_max_bytes: int = 4 * KIB
    # Size of one data message to and from clients. 256 KiB..1 MiB streams fastest in gRPC Python,
    # and a client's default receive limit is 4 MiB.
    frame_size_bytes: int = 1 * MIB
    # Size of one data message between nodes: a whole 4 MiB chunk or share in one message costs a
    # holder ~15 % less CPU than four 1 MiB ones (one hand-off between gRPC's threads and the
    # handler instead of four); docs/performance.md.
    peer_frame_size_bytes: int = 4 * MIB
    # Compressed puts (node/objects/compression.py): the zstd level, and the least share of a chunk
    # compression must save for the chunk to be stored compressed (else it is stored raw).
    compression_level: int = 3
    compression_saving_min: float = 0.1
    # Default copies per chunk for buckets created without a policy.
    default_replicas: int = 3
    # Copies of every manifest and bucket record, whatever the object's policy.
    metadata_replicas: int = 3
    # Metadata replicas that must have a manifest durably before a put is acknowledged.
    metadata_write_quorum: int = 2
    # Chunks a put coordinator may have in flight to holders at once; bounds its memory to about
    # this many times chunk_size_bytes. 2: since a copy goes to a holder as one unary call, gRPC keeps
    # the call's copy of it until the holder answers, and with 3 the coordinator of a 1 GiB
    # replicas=3 put peaked at 160 MiB; with 2 at 145, as fast (docs/design.md, "A copy in one unary
    # call"). Earlier 3, not 4, for the same reason with streams.
    put_inflight_chunks_max: int = 2
    # Chunks a get coordinator reads ahead of the one it is sending.
    get_readahead_chunks_max: int = 2
    # An erasure-coded read that has waited this long for a share asks one more holder (a parity
    # share) instead of waiting on a slow disk. Lower hides slow nodes sooner at the cost of extra
    # reads (and decode CPU) whenever a holder is merely busy.
    read_hedge_after_s: float = 1.0
    # Longest object key, in UTF-8 bytes; at most KEY_LENGTH_BYTES_LIMIT. Lower only to keep keys
    # short for another system that mirrors this one.
    key_length_bytes_max: int = 1024
    # Largest object accepted by one put.
    object_size_bytes_max: int = 5 * 1024 * GIB
    # Largest gRPC message accepted; must hold one frame plus headers.
    grpc_message_bytes_max: int = 8 * MIB
    # Deadline for one chunk transfer between nodes.
    peer_rpc_timeout_s: float = 30.0
    # LMDB map size: the most metadata one node can hold (a sparse file; costs nothing until used).
    lmdb_map_size_bytes: int = 16 * GIB
    # A node is full (announces it; placement and repair send it no chunk copies; it refuses them
    # itself) once this fraction of the room it may use is taken. Lower keeps more slack for writes
    # in flight and for the disk's own fragmentation; higher uses more of every disk.
    disk_full_ratio: float = 0.95
    # A node is also full once fewer bytes than this are free, whatever the ratio: 5 % of a large disk
    # is more slack than needed, of a small one too little. The slack is what metadata (manifests,
    # tombstones, placement records) still writes into on a full node, so deletes keep working.
    disk_free_bytes_min: int = 1 * GIB
    # Most bytes of chunk data this node may store; 0 means the whole filesystem. Set it when the
    # data dir shares a disk with other things, or to fill a node in a test without filling the disk.
    disk_bytes_max: int = 0

    def __post_init__(self) -> None:
        _require(64 * KIB <= self.chunk_size_bytes <= 64 * MIB,
                 "chunk_size_bytes must be in 64 KiB..64 MiB (try 4194304)")
        _require(0 <= self.inline_max_bytes <= self.chunk_size_bytes,
                 "inline_max_bytes must be in 0..chunk_size_bytes (try 4096)")
        _require(4 * KIB <= self.frame_size_bytes <= self.chunk_size_bytes,
                 "frame_size_bytes must be in 4 KiB..chunk_size_bytes (try 1048576)")
        _require(1 <= self.compression_level <= 19, "compression_level must be in 1..19 (try 3)")
        _require(0.0 <= self.compression_saving_min < 1.0, "compression_saving_min must be in 0..1 (try 0.1)")
        _require(1 <= self.key_length_bytes_max <= KEY_LENGTH_BYTES_LIMIT,
                 f"key_length_bytes_max must be in 1..{KEY_LENGTH_BYTES_LIMIT}, the wire contract's "
                 "limit (try 1024)")
        _require(self.default_replicas >= 1, "default_replicas must be >= 1 (try 3)")
        _require(self.metadata_replicas >= 1, "metadata_replicas must be >= 1 (try 3)")
        _require(1 <= self.metadata_write_quorum <= self.metadata_replicas,
                 "metadata_write_quorum must be in 1..metadata_replicas (try 2 of 3)")
        _require(self.put_inflight_chunks_max >= 1, "put_inflight_chunks_max must be >= 1")
        _require(self.get_readahead_chunks_max >= 0, "get_readahead_chunks_max must be >= 0")
        _require(self.read_hedge_after_s > 0, "read_hedge_after_s must be > 0 (try 1.0)")
        _require(self.grpc_message_bytes_max >= self.frame_size_bytes + 64 * KIB,
                 "grpc_message_bytes_max must exceed frame_size_bytes by 64 KiB for headers")
        _require(4 * KIB <= self.peer_frame_size_bytes <= self.grpc_message_bytes_max - 64 * KIB,
                 "peer_frame_size_bytes must be in 4 KiB..grpc_message_bytes_max - 64 KiB (try 4194304)")
        _require(0 < self.disk_full_ratio <= 1, "disk_full_ratio must be in (0, 1] (try 0.95)")
        _require(self.disk_free_bytes_min >= 0,
                 "disk_free_bytes_min must be >= 0 (try 1073741824; 0 = no absolute watermark)")
        _require(self.disk_bytes_max >= 0, "disk_bytes_max must be >= 0 (0 = the whole filesystem)")

    @classmethod
    def lan(cls) -> "StorageConfig":
        return cls()

    @classmethod
    def local(cls) -> "StorageConfig":
        return cls(peer_rpc_timeout_s=10.0, lmdb_map_size_bytes=2 * GIB, read_hedge_after_s=0.5,
                   disk_free_bytes_min=16 * MIB)


@dataclasses.dataclass(frozen=True)
class RepairConfig:
    """Self-healing (node/repair): repair, rebalancing, handoff return, scrub, garbage collection."""

    # Time between scans of this node's placement records (each scan audits the chunks this node is
    # responsible for and queues what is below full redundancy or away from home). A membership
    # change starts a scan at once; this bounds how long damage nobody reported can go unnoticed.
    repair_scan_interval_s: float = 60.0
    # Most bytes per second repair and rebalancing write from this node; 0 means unthrottled.
    # Lower leaves more disk and network to clients; higher restores redundancy sooner.
    repair_bandwidth_bytes_per_s: int = 200 * MIB
    # Most chunks this node repairs at once. Higher hides per-chunk latency; each costs up to one
    # chunk of memory (a decoded stripe) and a few RPCs in flight.
    repair_concurrency_max: int = 4
    # Surplus copies (a handoff copy gone home, a copy rebalanced away) are dropped only after the
    # ring has not changed for this long, so two nodes that briefly disagree about the ring never
    # both drop copies the other counts on.
    ring_settle_s: float = 30.0
    # Most bytes per second scrub reads back and re-hashes on this node.
    scrub_bandwidth_bytes_per_s: int = 20 * MIB
    # A scrub pass starts this long after the previous one finished (or at `nodectl scrub start`);
    # 0 means only on demand.
    scrub_interval_s: float = 7 * 24 * 3600.0
    # A copy no live object version references is deleted only after this long (counted from the
    # later of its storing and the version that superseded it). Also the longest a put may run:
    # a put slower than half of it is refused, so collection never races a put in progress.
    gc_grace_s: float = 24 * 3600.0
    # Time between garbage-collection passes over this node's copies (and tombstone purge passes).
    gc_interval_s: float = 3600.0
    # A deleted key's tombstone is purged this long after the delete, once every metadata home holds
    # it and all have been ALIVE for a while (node/repair/tombstones.py). Keep it longer than the
    # longest maintenance window (7 days): a node DOWN in maintenance with handoff copies to push
    # must be back before a tombstone written after it went away can go.
    tombstone_grace_s: float = 10 * 24 * 3600.0
    # A multipart upload neither completed nor aborted this long after it started is aborted (its
    # parts' copies are then collected): a client that vanished mid-upload leaves no lasting garbage.
    upload_max_age_s: float = 7 * 24 * 3600.0
    # Each metadata home keeps this much of its change log (node/store/changes.py): a watch cursor
    # older than this can no longer continue and must resync.
    change_retention_s: float = 7 * 24 * 3600.0
    # The length of a lifecycle day (node/objects/lifecycle.py): rules count their days in these.
    # Shorter only to watch rules act in tests and demos.
    lifecycle_day_s: float = 24 * 3600.0
    # Time between lifecycle passes; each walks the manifests of the buckets this node is the first
    # live metadata home of.
    lifecycle_interval_s: float = 3600.0
    # Most actions (deletes, conversions, aborts) one lifecycle pass takes; the rest wait for the
    # next pass (counted as backlog), so a rule that suddenly applies to millions of objects is paced.
    lifecycle_actions_per_pass_max: int = 10_000

    def __post_init__(self) -> None:
        _require(self.lifecycle_day_s > 0, "lifecycle_day_s must be > 0 (try 86400)")
        _require(self.change_retention_s > 0, "change_retention_s must be > 0 (try 604800, 7 days)")
        _require(self.lifecycle_interval_s > 0, "lifecycle_interval_s must be > 0 (try 3600)")
        _require(self.lifecycle_actions_per_pass_max >= 1, "lifecycle_actions_per_pass_max must be >= 1 (try 10000)")
        _require(self.upload_max_age_s > 0, "upload_max_age_s must be > 0 (try 604800)")
        _require(self.repair_scan_interval_s > 0, "repair_scan_interval_s must be > 0 (try 60)")
        _require(self.repair_bandwidth_bytes_per_s >= 0,
                 "repair_bandwidth_bytes_per_s must be >= 0 (0 = unthrottled; try 209715200)")
        _require(1 <= self.repair_concurrency_max <= 64, "repair_concurrency_max must be in 1..64 (try 4)")
        _require(self.ring_settle_s >= 0, "ring_settle_s must be >= 0 (try 30)")
        _require(self.scrub_bandwidth_bytes_per_s >= 1,
                 "scrub_bandwidth_bytes_per_s must be >= 1 (try 20971520)")
        _require(self.scrub_interval_s >= 0, "scrub_interval_s must be >= 0 (0 = on demand only)")
        _require(self.gc_grace_s > 0, "gc_grace_s must be > 0 (try 86400)")
        _require(self.gc_interval_s > 0, "gc_interval_s must be > 0 (try 3600)")
        _require(self.tombstone_grace_s > 0, "tombstone_grace_s must be > 0 (try 864000)")

    @classmethod
    def lan(cls) -> "RepairConfig":
        return cls()

    @classmethod
    def local(cls) -> "RepairConfig":
        """cluster-sim: scans every 2 s, repair unthrottled, short grace so tests see collection."""
        return cls(repair_scan_interval_s=2.0, repair_bandwidth_bytes_per_s=0, ring_settle_s=2.0,
                   scrub_bandwidth_bytes_per_s=64 * MIB, scrub_interval_s=0.0, gc_grace_s=60.0,
                   gc_interval_s=5.0, tombstone_grace_s=3600.0, upload_max_age_s=3600.0,
                   lifecycle_interval_s=2.0)


_NODE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_S3_REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_S3_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _is_host_port(address: str) -> bool:
    host, sep, port = address.rpartition(":")
    return bool(sep) and bool(host) and port.isdigit() and int(port) <= 65535


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """Everything one noded needs."""

    data_dir: str
    # Client port: ObjectService, AdminService and health, TLS with no client certificate.
    listen_address: str = "127.0.0.1:7400"
    # Peer port: PeerService, MembershipService and AdminService between nodes, mutual TLS.
    peer_listen_address: str = "127.0.0.1:7401"
    # Address other nodes use to reach this one's peer port; defaults to the bound peer address.
    advertise_address: str = ""
    # The node's certificate and key and the cluster CA (PEM files); all three, or `insecure`.
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    # Plaintext on both ports and no peer authentication (`noded --insecure`): one trusted machine.
    insecure: bool = False
    node_id: str = ""
    zone: str = ""
    capacity_bytes: int = 1024 * GIB
    join_addresses: tuple[str, ...] = ()
    metrics_address: str = "127.0.0.1:0"
    # S3 port (`--s3-listen`): HTTPS with the node's certificate (HTTP under --insecure); "" for none.
    s3_listen_address: str = ""
    # The region S3 clients must sign for (`--s3-region`), and the domain under which bucket names
    # are subdomains for virtual-hosted-style requests (`--s3-domain`; "" for path style only).
    s3_region: str = "ringstore"
    s3_domain: str = ""
    cluster_secret: bytes = b""
    # The master keyring for encryption at rest (`--master-key-file`, ringstore.auth.masterkeys);
    # "" for none: the node then refuses to encrypt at rest.
    master_key_file: str = ""
    profile: str = "lan"
    gossip: GossipConfig = dataclasses.field(default_factory=GossipConfig.lan)
    ring: RingConfig = dataclasses.field(default_factory=RingConfig)
    storage: StorageConfig = dataclasses.field(default_factory=StorageConfig.lan)
    repair: RepairConfig = dataclasses.field(default_factory=RepairConfig.lan)

    def __post_init__(self) -> None:
        _require(bool(self.data_dir), "data_dir is required (--data-dir PATH)")
        _require(not self.node_id or bool(_NODE_ID_RE.match(self.node_id)),
                 f"node id {self.node_id!r} must match [a-z0-9][a-z0-9-]{{0,62}}")
        _require(len(self.cluster_secret) >= 16,
                 "cluster secret must be at least 16 bytes (--cluster-secret-file or "
                 "RINGSTORE_CLUSTER_SECRET)")
        _require(self.capacity_bytes > 0, "capacity_bytes must be > 0")
        for flag, address in (("--listen", self.listen_address), ("--peer-listen", self.peer_listen_address),
                              ("--metrics-listen", self.metrics_address)):
            _require(_is_host_port(address), f"{flag} {address!r} is not HOST:PORT (e.g. 0.0.0.0:7400; port 0 picks "
                                              "a free one)")
        _require(not self.s3_listen_address or _is_host_port(self.s3_listen_address),
                 f"--s3-listen {self.s3_listen_address!r} is not HOST:PORT (e.g. 127.0.0.1:7480; port 0 picks a "
                 "free one)")
        _require(bool(_S3_REGION_RE.match(self.s3_region)),
                 f"--s3-region {self.s3_region!r} must be 1-32 characters of a-z, 0-9 and '-' (e.g. ringstore)")
        _require(not self.s3_domain or bool(_S3_DOMAIN_RE.match(self.s3_domain)),
                 f"--s3-domain {self.s3_domain!r} is not a DNS name such as s3.example.com")
        _require(not self.advertise_address or _is_host_port(self.advertise_address),
                 f"--advertise {self.advertise_address!r} is not HOST:PORT (the peer address others dial)")
        tls_files = (self.tls_cert, self.tls_key, self.tls_ca)
        _require(not (self.insecure and any(tls_files)),
                 "--insecure and --tls-cert/--tls-key/--tls-ca exclude each other: drop one")
        _require(self.insecure or all(tls_files),
                 "the node needs --tls-cert, --tls-key and --tls-ca (make them with `nodectl tls init-ca` and "
                 "`nodectl tls issue-node`), or --insecure for a plaintext cluster on one trusted machine")
        _require(self.listen_address != self.peer_listen_address or self.listen_address.endswith(":0"),
                 f"--listen and --peer-listen are both {self.listen_address}: the client and peer ports differ")

    @staticmethod
    def profiles() -> tuple[str, ...]:
        return ("lan", "local")

    @classmethod
    def for_profile(cls, profile: str, **kwargs) -> "NodeConfig":
        if profile not in cls.profiles():
            raise ConfigError(f"unknown profile {profile!r}; use one of {', '.join(cls.profiles())}")
        gossip = GossipConfig.local() if profile == "local" else GossipConfig.lan()
        storage = StorageConfig.local() if profile == "local" else StorageConfig.lan()
        repair = RepairConfig.local() if profile == "local" else RepairConfig.lan()
        return cls(profile=profile, gossip=gossip, storage=storage, repair=repair, **kwargs)

    def with_settings(self, settings: dict[str, str]) -> "NodeConfig":
        """A copy with `section.field` values replaced (`noded --set repair.gc_grace_s=5`); each
        value is parsed as the field's type and the section re-validated."""
        sections = {"gossip": self.gossip, "ring": self.ring, "storage": self.storage,
                    "repair": self.repair}
        values: dict[str, dict[str, object]] = {}
        for name, text in settings.items():
            section_name, _, field_name = name.partition(".")
            section = sections.get(section_name)
            if section is None or not field_name:
                raise ConfigError(f"unknown setting {name!r}: use SECTION.FIELD with SECTION one of "
                                  f"{', '.join(sections)}")
            fields = {f.name: f for f in dataclasses.fields(section)}
            if field_name not in fields:
                raise ConfigError(f"unknown setting {name!r}; {section_name} has "
                                  f"{', '.join(sorted(fields))}")
            kind = type(getattr(section, field_name))
            try:
                value = kind(float(text)) if kind is int and "e" in text.lower() else kind(text)
            except ValueError:
                raise ConfigError(f"setting {name}={text!r} is not a valid {kind.__name__}") from None
            values.setdefault(section_name, {})[field_name] = value
        # One replace per section: fields that bound each other (chunk and frame sizes) change together.
        changed = {name: dataclasses.replace(sections[name], **fields) for name, fields in values.items()}
        return dataclasses.replace(self, **changed)
