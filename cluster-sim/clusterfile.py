"""`DIR/cluster.json`: what cluster-sim started, so a later command (or a crashed test) can stop it.

The file records, per node, the id, data dir, log path, secret file, ports/addresses, pid and
generation, plus the cluster-wide secret file, profile, default replicas and whether the nodes
run with fault injection allowed (absent in older files: off). It is written
atomically (temp file + rename) after every change — including right after each spawn, before the
node is even serving — so `down` can always find every pid we started. It carries a
`format_version`; an unknown version is refused rather than guessed at.

Rejected alternative: pid files inside each data dir. They belong to noded's directory layout, and
one file for the whole cluster is what `status` and `down` want to read anyway.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

from cluster_sim.errors import ClusterError

# 2: a client and a peer address per node, and the cluster CA (TLS); version 1 clusters ran one port.
FORMAT_VERSION = 2
CLUSTER_FILE_NAME = "cluster.json"


@dataclasses.dataclass
class NodeProcess:
    """One node cluster-sim started; mutable because a restart gives it a new pid and generation."""

    node_id: str
    data_dir: str  # absolute; the pid-ownership check looks for it in /proc/<pid>/cmdline
    log_path: str
    secret_file: str
    pid: int = 0
    host: str = "127.0.0.1"  # loopback address both ports bind (127.0.0.2, ... under `up(hosts=True)`)
    port: int = 0  # client port, kept across restarts so the address stays the same
    address: str = ""  # client address: what nodectl and tests talk to
    peer_port: int = 0  # peer port (mutual TLS, nodes only), kept across restarts like `port`
    peer_address: str = ""  # what other nodes call, join through, and fault injection drops
    # The node's certificate and key ("" under --insecure), and the CA file it trusts ("": the cluster's).
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    metrics_address: str = ""
    s3_port: int = 0  # S3 port, kept across restarts like `port`
    s3_address: str = ""  # the S3 endpoint (https:// under TLS, http:// under --insecure)
    generation: int = 0
    zone: str = ""
    capacity_bytes: int | None = None
    paused: bool = False  # SIGSTOPped by cluster-sim and not yet SIGCONTed
    # This node's own config overrides, on top of the cluster's (e.g. a small storage.disk_bytes_max).
    settings: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "NodeProcess":
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise ClusterError(f"cluster.json node record has unknown fields {unknown}")
        try:
            return cls(**raw)
        except TypeError as err:  # a required field is missing
            raise ClusterError(f"cluster.json node record is incomplete: {err}") from None


@dataclasses.dataclass
class ClusterFile:
    """The whole of cluster.json."""

    secret_file: str
    # Directory of the cluster CA (ca.crt, ca.key); "" when the cluster runs --insecure.
    ca_dir: str = ""
    profile: str = "local"
    replicas: int = 3
    nodes: list[NodeProcess] = dataclasses.field(default_factory=list)
    # Config overrides every node starts with (`noded --set SECTION.FIELD=VALUE`).
    settings: dict[str, str] = dataclasses.field(default_factory=dict)
    # Every node (also those added or restarted later) runs `noded --allow-fault-injection`.
    fault_injection: bool = False
    # Each node on its own loopback address (127.0.0.2, 127.0.0.3, ...), as on separate hosts.
    hosts: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "secret_file": self.secret_file,
            "ca_dir": self.ca_dir,
            "profile": self.profile,
            "replicas": self.replicas,
            "settings": dict(self.settings),
            "fault_injection": self.fault_injection,
            "hosts": self.hosts,
            "nodes": [node.to_dict() for node in self.nodes],
        }

    @classmethod
    def from_dict(cls, raw: Any) -> "ClusterFile":
        if not isinstance(raw, dict):
            raise ClusterError("cluster.json must hold a JSON object")
        version = raw.get("format_version")
        if version != FORMAT_VERSION:
            raise ClusterError(f"cluster.json format_version {version!r} is not supported "
                               f"(expected {FORMAT_VERSION})")
        try:
            return cls(
                secret_file=str(raw["secret_file"]),
                ca_dir=str(raw["ca_dir"]),
                profile=str(raw.get("profile", "local")),
                replicas=int(raw.get("replicas", 3)),
                nodes=[NodeProcess.from_dict(node) for node in raw.get("nodes", [])],
                settings={str(k): str(v) for k, v in dict(raw.get("settings", {})).items()},
                fault_injection=bool(raw.get("fault_injection", False)),
                hosts=bool(raw.get("hosts", False)),
            )
        except KeyError as err:
            raise ClusterError(f"cluster.json lacks field {err}") from None


def cluster_file_path(directory: str | os.PathLike) -> Path:
    return Path(directory) / CLUSTER_FILE_NAME


def write_cluster_file(directory: str | os.PathLike, cluster: ClusterFile) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path = cluster_file_path(directory)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        json.dump(cluster.to_dict(), out, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def read_cluster_file(directory: str | os.PathLike) -> ClusterFile:
    path = cluster_file_path(directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ClusterError(f"{path} not found: no cluster was started in {directory}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ClusterError(f"{path} is not valid JSON: {err}") from None
    return ClusterFile.from_dict(raw)


_NODE_NUMBER_RE = re.compile(r"(\d+)")


def natural_key(node_id: str) -> tuple:
    """Sort key putting node-2 before node-10."""
    return tuple(int(part) if part.isdigit() else part for part in _NODE_NUMBER_RE.split(node_id))
