"""LocalCluster: a Ringstore cluster of real noded processes on one machine, for tests and demos.

Design. Each node is `python -m node` in its own session (so a Ctrl-C in the terminal does not
reach it and a kill never hits its siblings), with its own data dir `DIR/<node-id>/` and its stderr
in `DIR/logs/<node-id>.log`. Its two ports (client and peer) are picked by the node (`--listen
127.0.0.1:0 --peer-listen 127.0.0.1:0`) and read back from the `node.json` it writes once serving; a
restart passes the same ports so the addresses stay put (unless one was taken meanwhile: then the
node starts again on new ones, `EXIT_ADDRESS_UNAVAILABLE`). Every node serves TLS under the cluster's
CA with a certificate cluster-sim issues it (`certs.py`) unless the cluster runs `insecure`; with
`hosts` each node binds its own loopback address (127.0.0.2, ...) and its certificate names only that.
Everything we start is recorded in `DIR/cluster.json` the moment it is spawned, so `down` (from this
object, a later CLI call or a test fixture after a crash) finds every pid. Signals go only to pids
that are alive and whose command line names the node's data dir (see `processes.py`).

Readiness is observed, never assumed: `up` returns only once every node's own
AdminService.GetClusterStatus lists every node ALIVE, and every wait polls with a deadline and on
timeout raises ClusterError with what each node saw and the tail of its log. Time comes from an
injected `Clock`, so the waiting logic is unit-tested without sleeping.

Rejected alternative: running the nodes as threads or asyncio tasks in the test process. Faster to
start, but a `kill -9`, a SIGSTOP, a port kept across a restart or a process that exits with code 3
are exactly what the integration tier has to exercise, and only real processes have them.

`replace_disk` is a disk replaced under the same host: kill -9, the data dir removed, the node started
empty with the same id and port (the node finds a new generation and nothing else of its past).

Network and disk faults (`set_faults`, `partition`, `heal`) go through the nodes' own fault
injection (AdminService.SetFaults, see node/faults.py), which a node accepts only when started with
`--allow-fault-injection`: a cluster brought `up(fault_injection=True)` starts every node, also
those added or restarted later, with it. A partition is each side dropping its own calls to the
other, so it needs no root and no network namespaces, and leaves every other link up.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets as secrets_module
import shlex
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import grpc

from cluster_sim import certs
from cluster_sim._status import MemberView, NodeView, StatusReader, StatusUnavailable, state_name
from cluster_sim.clusterfile import (
    ClusterFile,
    NodeProcess,
    cluster_file_path,
    natural_key,
    read_cluster_file,
    write_cluster_file,
)
from cluster_sim.errors import ClusterError, ClusterTimeout, NodeExitedError
from cluster_sim.processes import node_command, owns_pid, parse_signal, pid_alive, tail_log
import nodectl
from nodectl.tls import CA_CERT_FILE
from ringstore.auth import masterkeys, signing
from ringstore.auth.credentials import Credentials, load_profile, write_profile
from ringstore.v1 import admin_pb2, admin_pb2_grpc

PROFILES: tuple[str, ...] = ("local", "lan")
SECRET_FILE_NAME = "cluster.secret"
# The master keyring for encryption at rest, beside the secret and shared by every node the same way.
MASTER_KEY_FILE_NAME = "master.keys"
CREDENTIALS_FILE_NAME = "credentials"
CREDENTIALS_PROFILE = "default"
NODE_FILE_NAME = "node.json"
# The AWS SDKs' config and credentials files for the S3 port (`cluster-sim env` exports them).
AWS_CONFIG_FILE_NAME = "aws-config"
AWS_CREDENTIALS_FILE_NAME = "aws-credentials"
SECRET_BYTES = 32
NODES_MAX = 64  # one machine, two cores: beyond this the cluster measures the scheduler, not Ringstore
KILL_WAIT_S = 10.0  # a SIGKILLed pid is normally gone in milliseconds
TERM_WAIT_S = 30.0  # graceful leave hands data off before exiting
DOWN_GRACE_S = 20.0  # how long `down` lets SIGTERMed nodes leave before SIGKILL
POLL_INTERVAL_S = 0.05
CLUSTER_POLL_INTERVAL_S = 0.1  # polling every node at once: keep the RPC rate modest
HOSTS_MAX = 253  # 127.0.0.2 .. 127.0.0.254
# noded's exit code when a listen port (client, peer, metrics or S3) is taken (node.daemon; a unit
# test checks they agree).
EXIT_ADDRESS_UNAVAILABLE = 5
SET_FAULTS_TIMEOUT_S = 5.0  # SetFaults is never delayed by the faults it changes; it answers in ms


class Clock(Protocol):
    def monotonic_s(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic_s(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def zone_for(index: int, zones: int) -> str:
    """Zone of the index-th node (1-based): round-robin over zone-1..zone-Z, '' without zones."""
    assert index >= 1, index
    return f"zone-{(index - 1) % zones + 1}" if zones > 0 else ""


def host_for(index: int, hosts: bool) -> str:
    """Node `index`'s loopback address: 127.0.0.1 for all, or its own (127.0.0.<index + 1>) under
    `hosts`, so nothing can lean on every node sharing one address."""
    assert index >= 1, index
    if not hosts:
        return "127.0.0.1"
    if index > HOSTS_MAX:
        raise ValueError(f"hosts=True gives each node its own 127.0.0.x address; at most {HOSTS_MAX} nodes")
    return f"127.0.0.{index + 1}"


def write_secret_file(path: str | os.PathLike, secret: bytes) -> None:
    """Write the secret as hex text, mode 0600.

    Hex text reads the same whichever way noded loads the file (raw bytes, stripped text, hex), so
    every node of the cluster derives the same key from it.
    """
    if len(secret) < 16:
        raise ValueError(f"cluster secret must be at least 16 bytes, got {len(secret)}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, secret.hex().encode("ascii") + b"\n")
    finally:
        os.close(fd)


def parse_address(address: Any) -> tuple[str, int]:
    """'127.0.0.1:7400' -> ('127.0.0.1', 7400); anything else is a ClusterError (bad node.json)."""
    if not isinstance(address, str) or ":" not in address:
        raise ClusterError(f"bad address {address!r} (expected HOST:PORT)")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"bad address {address!r} (expected HOST:PORT)")
    return host, int(port)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


class LocalCluster:
    """A set of noded processes under one directory; see the module docstring."""

    def __init__(self, directory: str | os.PathLike, *, profile: str = "local",
                 clock: Clock | None = None, status_timeout_s: float = 2.0) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
        self.directory = Path(directory).resolve()
        self.profile = profile
        self.replicas = 3
        self.settings: dict[str, str] = {}
        self.fault_injection = False
        self.secret_file = str(self.directory / SECRET_FILE_NAME)
        self.master_key_file = str(self.directory / MASTER_KEY_FILE_NAME)
        # The cluster CA's directory; "" runs every node --insecure.
        self.ca_dir = ""
        self.hosts = False
        # The operator's access key (None until initialised, and under --insecure).
        self.credentials: Credentials | None = None
        self.nodes: dict[str, NodeProcess] = {}
        self._popens: dict[str, subprocess.Popen] = {}
        self._clock: Clock = clock or SystemClock()
        self._status = StatusReader(timeout_s=status_timeout_s, client_options=self.client_options)

    # ---------------------------------------------------------------- construction

    @classmethod
    def up(cls, directory: str | os.PathLike, *, nodes: int, replicas: int = 3, zones: int = 0,
           secret: bytes | None = None, profile: str = "local", timeout_s: float = 60.0,
           clock: Clock | None = None, settings: dict[str, str] | None = None,
           fault_injection: bool = False, insecure: bool = False,
           ca_dir: str | os.PathLike | None = None, hosts: bool = False,
           operator: Credentials | None = None, initialise: bool = True) -> "LocalCluster":
        """Start `nodes` nodes and return once every node sees every node ALIVE. `settings` are
        config overrides every node (also those added or restarted later) starts with;
        `fault_injection` starts them all with `--allow-fault-injection`, so `set_faults`,
        `partition` and `heal` work (kept in cluster.json, like `settings`).

        Every port serves TLS under a cluster CA, made in DIR/tls/ca unless `ca_dir` names one
        (made there if empty); each node gets a certificate for its id and its address. `insecure`
        runs every node in plaintext instead. `hosts` puts each node on its own loopback address
        (node-1 on 127.0.0.2, node-2 on 127.0.0.3, ...), as if on separate hosts.

        A TLS cluster is initialised once every node is up: its operator access key is `operator`
        (a test session passes one, so its RINGSTORE_ACCESS_KEY_ID works on every cluster) or one
        the cluster makes, and is written to DIR/credentials (profile "default", mode 0600) with the
        address and CA; `client()` and cluster-sim's own calls sign with it. `initialise=False`
        leaves that to the caller (`nodectl admin init`); every call but health fails until then.

        node-1 starts alone; the others start together with `--join` node-1's address. On any
        failure everything started is stopped and ClusterError says what each node saw.
        """
        if not 1 <= nodes <= NODES_MAX:
            raise ValueError(f"nodes must be in 1..{NODES_MAX}, got {nodes}")
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {replicas}")
        if zones < 0:
            raise ValueError(f"zones must be >= 0, got {zones}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        existing = cluster_file_path(directory)
        if existing.exists():
            raise ClusterError(f"{directory} already holds a cluster ({existing}); run "
                               f"`cluster-sim down --dir {directory}` and remove it, or use another dir")
        cluster = cls(directory, profile=profile, clock=clock)
        cluster.replicas = replicas
        cluster.settings = dict(settings or {})
        cluster.fault_injection = fault_injection
        cluster.hosts = hosts
        if insecure and ca_dir is not None:
            raise ValueError("insecure and ca_dir exclude each other: a CA is for TLS")
        if not insecure:
            cluster.ca_dir = str(Path(ca_dir).resolve() if ca_dir is not None else cluster.directory / "tls" / "ca")
            certs.ensure_ca(Path(cluster.ca_dir))
        write_secret_file(cluster.secret_file, secret if secret is not None
                          else secrets_module.token_bytes(SECRET_BYTES))
        if not os.path.exists(cluster.master_key_file):
            masterkeys.add_new(cluster.master_key_file)
        deadline_s = cluster._clock.monotonic_s() + timeout_s

        def remaining_s() -> float:
            return max(deadline_s - cluster._clock.monotonic_s(), 0.001)

        try:
            first = cluster._spawn(cluster._new_node("node-1", zone=zone_for(1, zones), host=host_for(1, hosts)),
                                   join=())
            cluster._wait_serving(first, timeout_s=remaining_s())
            rest = [cluster._spawn(cluster._new_node(f"node-{index}", zone=zone_for(index, zones),
                                                     host=host_for(index, hosts)),
                                   join=(first.peer_address,))
                    for index in range(2, nodes + 1)]
            for node in rest:
                cluster._wait_serving(node, timeout_s=remaining_s())
            cluster.wait_until(cluster._all_see_all_alive, timeout_s=remaining_s(),
                               interval_s=CLUSTER_POLL_INTERVAL_S,
                               what=f"all {nodes} nodes to see each other ALIVE",
                               detail=cluster.describe)
            if not insecure and initialise:
                cluster._initialise(operator)
        except ClusterTimeout as err:
            cluster.down()
            # Each phase waited for what was left of the whole budget; report the budget.
            raise ClusterTimeout(err.what, timeout_s, detail=err.detail) from None
        except BaseException:
            cluster.down()
            raise
        return cluster

    @classmethod
    def load(cls, directory: str | os.PathLike, *, clock: Clock | None = None) -> "LocalCluster":
        """The cluster recorded in DIR/cluster.json (started by another process, e.g. the CLI)."""
        recorded = read_cluster_file(directory)
        cluster = cls(directory, profile=recorded.profile, clock=clock)
        cluster.replicas = recorded.replicas
        cluster.settings = dict(recorded.settings)
        cluster.fault_injection = recorded.fault_injection
        cluster.secret_file = recorded.secret_file
        cluster.master_key_file = str(Path(recorded.secret_file).parent / MASTER_KEY_FILE_NAME)
        cluster.ca_dir = recorded.ca_dir
        cluster.hosts = recorded.hosts
        if cluster.credentials_file.exists():
            profile = load_profile(CREDENTIALS_PROFILE, path=cluster.credentials_file)
            cluster.credentials = profile.credentials if profile else None
        cluster.nodes = {node.node_id: node
                         for node in sorted(recorded.nodes, key=lambda n: natural_key(n.node_id))}
        return cluster

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    # ---------------------------------------------------------------- queries

    @property
    def ca_file(self) -> str | None:
        """The cluster CA's certificate (what RINGSTORE_CA should name); None when --insecure."""
        return str(Path(self.ca_dir) / CA_CERT_FILE) if self.ca_dir else None

    @property
    def credentials_file(self) -> Path:
        """Where the operator key is kept (a credentials file with one profile, "default")."""
        return self.directory / CREDENTIALS_FILE_NAME

    def client_options(self) -> dict[str, Any]:
        """The TLS and credential arguments of nodectl's Client for this cluster."""
        return {"ca_file": self.ca_file, "insecure": not self.ca_dir, "credentials": self.credentials or False}

    def _initialise(self, operator: Credentials | None) -> None:
        """InitCluster through node-1 with the cluster key, then keep the operator key."""
        with open(self.secret_file, "rb") as f:
            cluster_key = f.read().strip()
        from nodectl.client import Client

        options = {**self.client_options(), "credentials": False}
        with Client(address=self.any_address(), timeout_s=30.0, **options) as client:
            result = client.init_cluster(cluster_key, key_id=operator.key_id if operator else "",
                                         secret=operator.secret if operator else "",
                                         description="cluster-sim operator")
        self.credentials = Credentials(result.key_id, result.secret)
        write_profile(self.credentials_file, CREDENTIALS_PROFILE, self.credentials, ca=self.ca_file,
                      address=self.any_address())

    def s3_endpoint(self) -> str:
        """The S3 endpoint of a running node (the first in node-id order), "" when none serves S3."""
        running = set(self.running())
        return next((node.s3_address for node in self._sorted_nodes() if node.node_id in running and node.s3_address),
                    "")

    def write_aws_profile(self) -> tuple[Path, Path]:
        """An AWS config file and credentials file (mode 0600) in the cluster's directory, each with
        the profile `ringstore`: endpoint, region, CA and the operator key, so boto3, the AWS CLI
        and other AWS SDK tools reach the S3 port with AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE
        and AWS_PROFILE set (`cluster-sim env` exports them); no secret is printed."""
        config_path = self.directory / AWS_CONFIG_FILE_NAME
        credentials_path = self.directory / AWS_CREDENTIALS_FILE_NAME
        config = ["[profile ringstore]", "region = ringstore", f"endpoint_url = {self.s3_endpoint()}"]
        if self.ca_file:
            config.append(f"ca_bundle = {self.ca_file}")
        config += ["s3 =", "    addressing_style = path"]  # a nested section: last, or it swallows what follows
        # Under --insecure the nodes check no signature; the SDKs still want a key to sign with.
        key_id, secret = ((self.credentials.key_id, self.credentials.secret) if self.credentials
                          else ("RKINSECURE" + "A" * 10, "insecure-cluster-checks-no-signature"))
        credentials = ["[ringstore]", f"aws_access_key_id = {key_id}", f"aws_secret_access_key = {secret}"]
        for path, lines in ((config_path, config), (credentials_path, credentials)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write("\n".join(lines) + "\n")
        return config_path, credentials_path

    def client(self, address: str | None = None, **kwargs: Any) -> Any:
        """A nodectl Client for `address` (default: any running node) that trusts this cluster and
        signs with its operator key; `kwargs` may override either (credentials=False: unsigned)."""
        from nodectl.client import Client

        return Client(address=address or self.any_address(), **{**self.client_options(), **kwargs})

    def channel(self, address: str) -> grpc.Channel:
        """A raw gRPC channel to a node's client port, TLS under the cluster CA unless --insecure."""
        if not self.ca_dir:
            return grpc.insecure_channel(address)
        with open(self.ca_file, "rb") as f:
            return grpc.secure_channel(address, grpc.ssl_channel_credentials(f.read()))

    def addresses(self) -> list[str]:
        """gRPC addresses of every recorded node (running or not), in node-id order."""
        return [node.address for node in self._sorted_nodes() if node.address]

    def running(self) -> list[str]:
        """Ids of nodes whose process is alive and not SIGSTOPped, in node-id order."""
        return [node.node_id for node in self._sorted_nodes()
                if node.address and not node.paused and self._alive(node)]

    def any_address(self, *, exclude: Iterable[str] = ()) -> str:
        """The address of a running node not in `exclude` (the first in node-id order)."""
        excluded = set(exclude)
        for node_id in self.running():
            if node_id not in excluded:
                return self.nodes[node_id].address
        raise ClusterError(f"no running node outside {sorted(excluded)}")

    def member_views(self, observer_id: str) -> dict[str, MemberView]:
        """Every member with state, generation and incarnation as `observer_id` sees them."""
        return dict(self._read_view(self._node(observer_id)).members)

    def view(self, observer_id: str) -> dict[str, str]:
        """node_id -> state name ('ALIVE', 'DOWN', 'OUT', 'LEFT') as `observer_id` sees it."""
        return self._read_view(self._node(observer_id)).states()

    def status(self) -> dict[str, dict[str, Any]]:
        """Per node: its process state and its view of the members (None when it did not answer)."""
        result: dict[str, dict[str, Any]] = {}
        for node in self._sorted_nodes():
            entry: dict[str, Any] = {
                "pid": node.pid, "process": self._process_state(node), "address": node.address,
                "peer_address": node.peer_address,
                "metrics_address": node.metrics_address, "s3_address": node.s3_address,
                "generation": node.generation,
                "zone": node.zone, "log_path": node.log_path, "view": None, "error": None,
            }
            if entry["process"] == "running":
                try:
                    entry["view"] = self._read_view(node).states()
                except StatusUnavailable as err:
                    entry["error"] = err.message
            result[node.node_id] = entry
        return result

    def metrics_text(self, node_id: str, *, timeout_s: float = 10.0) -> str:
        """The Prometheus text one node serves on its metrics address."""
        address = self._node(node_id).metrics_address
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=timeout_s) as response:
            return response.read().decode()

    def describe(self) -> str:
        """What each node saw and the tail of its log: the detail of every ClusterError."""
        lines = []
        for node in self._sorted_nodes():
            process = self._process_state(node)
            seen = "-"
            if process == "running":
                try:
                    states = self._read_view(node).states()
                    seen = ", ".join(f"{k}={v}" for k, v in sorted(states.items(),
                                                                    key=lambda kv: natural_key(kv[0])))
                except StatusUnavailable as err:
                    seen = f"no answer ({err.message})"
            lines.append(f"{node.node_id} pid {node.pid} {process} at {node.address or '?'}: "
                         f"sees {seen}")
            lines.append(f"  last lines of {node.log_path}:")
            lines.append(_indent(tail_log(node.log_path)))
        return "\n".join(lines)

    # ---------------------------------------------------------------- waiting

    def wait_until(self, predicate: Callable[[], bool], *, timeout_s: float,
                   interval_s: float = POLL_INTERVAL_S, what: str,
                   detail: Callable[[], str] | None = None) -> float:
        """Poll `predicate` until it is true; return the seconds it took.

        Raises ClusterTimeout (a ClusterError) "timed out after {timeout_s} s waiting for {what}"
        with `detail()` as its detail. The predicate runs at least once and once more at the deadline.
        """
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        polls_max = math.ceil(timeout_s / interval_s) + 2
        start_s = self._clock.monotonic_s()
        deadline_s = start_s + timeout_s
        for _ in range(polls_max):
            if predicate():
                return self._clock.monotonic_s() - start_s
            now_s = self._clock.monotonic_s()
            if now_s >= deadline_s:
                break
            self._clock.sleep(min(interval_s, deadline_s - now_s))
        raise ClusterTimeout(what, timeout_s, detail=detail() if detail is not None else "")

    def wait_state(self, target_id: str, state: str, *, observers: Iterable[str] | None = None,
                   timeout_s: float) -> float:
        """Wait until every observer (default: every running node but the target) sees
        `target_id` in `state`; return the seconds it took."""
        wanted = state_name(state)
        self._node(target_id)
        watchers = (list(observers) if observers is not None
                    else [node_id for node_id in self.running() if node_id != target_id])
        if not watchers:
            raise ClusterError(f"no running node to observe {target_id}")
        for node_id in watchers:
            self._node(node_id)

        def seen() -> dict[str, str]:
            result = {}
            for node_id in watchers:
                try:
                    result[node_id] = self.view(node_id).get(target_id, "absent")
                except StatusUnavailable:
                    result[node_id] = "no answer"
            return result

        def everyone_agrees() -> bool:
            return all(value == wanted for value in seen().values())

        def detail() -> str:
            return f"{target_id} as seen by: {seen()}\n{self.describe()}"

        return self.wait_until(everyone_agrees, timeout_s=timeout_s,
                               interval_s=CLUSTER_POLL_INTERVAL_S,
                               what=f"{', '.join(watchers)} to see {target_id} {wanted}",
                               detail=detail)

    # ---------------------------------------------------------------- faults and changes

    def kill(self, node_id: str, sig: str = "KILL") -> None:
        """Send KILL|TERM|STOP|CONT|HUP to the node's pid; KILL and TERM return once the pid is gone,
        HUP (reload the TLS files) at once.

        KILL/TERM of a node that is already gone do nothing; STOP/CONT/HUP of one raise ClusterError.
        """
        signum = parse_signal(sig)
        node = self._node(node_id)
        stopping = signum in (signal.SIGKILL, signal.SIGTERM)
        if not self._alive(node):
            if stopping:
                node.paused = False
                self._save()
                return
            raise ClusterError(f"{node_id} (pid {node.pid}) is not running")
        self._check_owned(node)
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.pid, signum)
            if signum == signal.SIGTERM and node.paused:
                os.kill(node.pid, signal.SIGCONT)  # a stopped process acts on TERM only once continued
        if signum == signal.SIGSTOP:
            node.paused = True
        elif signum == signal.SIGCONT:
            node.paused = False
        if stopping:
            self.wait_until(lambda: not self._alive(node),
                            timeout_s=KILL_WAIT_S if signum == signal.SIGKILL else TERM_WAIT_S,
                            what=f"{node_id} (pid {node.pid}) to exit after {signum.name}",
                            detail=lambda: tail_log(node.log_path))
            node.paused = False
        self._save()

    def restart(self, node_id: str, *, timeout_s: float = 30.0, join: Iterable[str] | None = None,
                extra_args: Iterable[str] = ()) -> None:
        """Stop the node if it runs (SIGTERM), start it again with the same data dir, port and
        secret, joining another running node, and wait for its node.json. Injected faults live in
        the node's memory, so the restarted node has none (its peers keep theirs).

        `join` replaces the --join addresses (() for none: the node then finds its cluster through
        the members it remembers); `extra_args` are more noded flags for this start only."""
        self.restart_many([node_id], timeout_s=timeout_s, join=join, extra_args=extra_args)

    def restart_many(self, node_ids: Iterable[str], *, timeout_s: float = 30.0, join: Iterable[str] | None = None,
                     extra_args: Iterable[str] = ()) -> None:
        """`restart` for several nodes at once: stop those that run, start them all, then wait for
        each one's node.json. Each joins a running node outside the set if there is one; otherwise
        they find each other through the members they remember, as a whole cluster started again
        after a power cut does (started one at a time and waited for, the first would find nobody
        and refuse to run alone)."""
        nodes = [self._node(node_id) for node_id in node_ids]
        for node in nodes:
            if self._alive(node):
                self._check_owned(node)
                try:
                    self.kill(node.node_id, "TERM")
                except ClusterError:
                    self.kill(node.node_id, "KILL")
        if join is None:
            others = [other for other in self.running() if other not in {n.node_id for n in nodes}]
            join = (self.nodes[others[0]].peer_address,) if others else ()
        join = tuple(join)
        deadline_s = self._clock.monotonic_s() + timeout_s
        for node in nodes:
            self._spawn(node, join=join, extra_args=tuple(extra_args))
        for node in nodes:
            try:
                self._wait_serving(node, timeout_s=max(deadline_s - self._clock.monotonic_s(), 0.001))
            except NodeExitedError as err:
                if err.exit_code != EXIT_ADDRESS_UNAVAILABLE:
                    raise
                # Its old port is taken now: the kernel handed it out since (another cluster's node, a
                # client socket's local port). A host that lost its port would take another: so does
                # it, and its peers learn the new address from its rejoin.
                node.port = node.peer_port = 0
                if node.s3_port is not None:
                    node.s3_port = 0
                self._spawn(node, join=join, extra_args=tuple(extra_args))
                self._wait_serving(node, timeout_s=max(deadline_s - self._clock.monotonic_s(), 0.001))

    def replace_disk(self, node_id: str, *, timeout_s: float = 30.0) -> None:
        """A disk replaced under the same host: kill -9 the node (if it runs), remove its data dir
        and everything in it, and start it again on an empty one with the same node id, port and
        secret, joining another running node; waits for its node.json like `restart`. Its log
        (outside the data dir) is kept."""
        node = self._node(node_id)
        data_dir = Path(node.data_dir)
        if data_dir.resolve().parent != self.directory:
            raise ClusterError(f"refusing to remove {data_dir}: it is not a data dir directly under "
                               f"{self.directory}")
        self.kill(node_id, "KILL")
        if data_dir.exists():
            shutil.rmtree(data_dir)
        data_dir.mkdir()
        self.restart(node_id, timeout_s=timeout_s)

    def add_node(self, *, node_id: str | None = None, zone: str = "",
                 capacity_bytes: int | None = None, foreign_ca_dir: str | os.PathLike | None = None,
                 settings: dict[str, str] | None = None, timeout_s: float = 30.0) -> NodeProcess:
        """Start one more node that joins through a running node, and wait until it and that node
        see each other ALIVE. `settings` are this node's own config overrides (kept across restarts),
        applied over the cluster's.

        A node whose certificate comes from `foreign_ca_dir` (another CA) is an intruder. It trusts
        both CAs, so its own start-up checks and its side of each handshake pass; the cluster's side
        refuses its certificate, noded exits with code 3 and this raises NodeExitedError (with
        `.exit_code`). On any failure the new node is stopped and forgotten.
        """
        join_address = self.any_address()
        seed_id = next(n.node_id for n in self.nodes.values() if n.address == join_address)
        if node_id is None:
            node_id = self._free_node_id()
        elif node_id in self.nodes:
            raise ValueError(f"node id {node_id!r} is already in the cluster")
        host = "127.0.0.1"
        if self.hosts:
            taken = {n.host for n in self.nodes.values()}
            host = next(h for h in (host_for(i, True) for i in range(1, HOSTS_MAX + 1)) if h not in taken)
        node = self._new_node(node_id, zone=zone, capacity_bytes=capacity_bytes, host=host)
        if foreign_ca_dir is not None:
            if not self.ca_dir:
                raise ValueError("foreign_ca_dir needs a TLS cluster; this one runs --insecure")
            foreign = Path(foreign_ca_dir)
            certs.ensure_ca(foreign)
            node.tls_cert, node.tls_key = certs.ensure_node_certificate(foreign, foreign / "nodes", node_id,
                                                                        sans=(host, "localhost"))
            trusted = foreign / "nodes" / f"{node_id}-trusts.crt"
            trusted.write_bytes(Path(self.ca_file).read_bytes() + (foreign / CA_CERT_FILE).read_bytes())
            node.tls_ca = str(trusted)
        node.settings = dict(settings or {})
        deadline_s = self._clock.monotonic_s() + timeout_s
        try:
            self._spawn(node, join=(self.nodes[seed_id].peer_address,))
            self._wait_serving(node, timeout_s=timeout_s)

            def joined() -> bool:
                if not self._alive(node):
                    raise NodeExitedError(node_id, self._exit_code(node),
                                          detail=tail_log(node.log_path))
                try:
                    return (self._read_view(node).states().get(seed_id) == "ALIVE"
                            and self._read_view(self.nodes[seed_id]).states().get(node_id) == "ALIVE")
                except StatusUnavailable:
                    return False

            self.wait_until(joined, timeout_s=max(deadline_s - self._clock.monotonic_s(), 0.001),
                            interval_s=CLUSTER_POLL_INTERVAL_S,
                            what=f"{node_id} and {seed_id} to see each other ALIVE",
                            detail=self.describe)
        except ClusterTimeout as err:
            self._forget(node)
            raise ClusterTimeout(err.what, timeout_s, detail=err.detail) from None
        except BaseException:
            self._forget(node)
            raise
        return node

    def set_faults(self, node_id: str, *, drop_to: Iterable[str] = (), delay_rpc_ms: int = 0,
                   delay_disk_ms: int = 0) -> None:
        """Replace the faults `node_id` injects: its calls to the nodes in `drop_to` (node ids)
        fail at once as if the network dropped them, every RPC it serves waits `delay_rpc_ms`
        first, and every chunk copy it writes waits `delay_disk_ms` before its fsync. The defaults
        clear them. This replaces, never merges, the node's earlier faults. Faults live in the
        node's memory: a restarted node has none.

        Raises ClusterError when the cluster runs without fault injection, when the node is not
        running, or when it refuses (the node's message: e.g. a delay over its limit).
        """
        if not self.fault_injection:
            raise ClusterError(f"the cluster in {self.directory} runs without fault injection; start it "
                               "with fault_injection=True (cluster-sim up --fault-injection)")
        if delay_rpc_ms < 0 or delay_disk_ms < 0:
            raise ValueError(f"delays must be >= 0 ms, got delay_rpc_ms={delay_rpc_ms}, "
                             f"delay_disk_ms={delay_disk_ms}")
        node = self._node(node_id)
        targets = list(drop_to)
        if node_id in targets:
            raise ValueError(f"{node_id} cannot drop calls to itself; name its peers in drop_to")
        addresses = []
        for target in targets:
            peer = self._node(target)
            if not peer.peer_address:
                raise ClusterError(f"{target} has never served (no address yet); {node_id} cannot drop calls to it")
            addresses.append(peer.peer_address)
        if node_id not in self.running():
            raise ClusterError(f"{node_id} is {self._process_state(node)}, not running: it cannot take faults")
        request = admin_pb2.SetFaultsRequest(drop_peer_addresses=addresses, delay_rpc_ms=delay_rpc_ms,
                                             delay_disk_ms=delay_disk_ms)
        metadata = ()
        if self.credentials is not None:
            metadata = signing.sign(self.credentials.key_id, self.credentials.secret,
                                    "/ringstore.v1.AdminService/SetFaults", signing.resource_of(request))
        try:
            with self.channel(node.address) as channel:
                admin_pb2_grpc.AdminServiceStub(channel).SetFaults(request, timeout=SET_FAULTS_TIMEOUT_S,
                                                                   metadata=metadata)
        except grpc.RpcError as err:
            details = (err.details() or "").strip().splitlines()
            raise ClusterError(f"{node_id} refused SetFaults: {err.code().name}: "
                               f"{details[0] if details else 'no details'}") from None

    def partition(self, isolated: str, peers: Iterable[str]) -> None:
        """Cut `isolated` off from each of `peers`, both ways: it drops its calls to them and each
        of them drops its calls to it; every other link stays up. Replaces the faults of every
        node named (see `set_faults`); `heal` undoes it."""
        others = list(peers)
        if not others:
            raise ValueError(f"name at least one peer to cut {isolated} off from")
        self.set_faults(isolated, drop_to=others)
        for peer in others:
            self.set_faults(peer, drop_to=(isolated,))

    def heal(self) -> None:
        """Clear the faults of every running node. A SIGSTOPped node cannot answer and keeps its
        faults: continue it, then heal again. Without fault injection there is nothing to clear.

        Every running node is asked even when one fails; then ClusterError names those that did.
        """
        if not self.fault_injection:
            return
        failures = []
        for node_id in self.running():
            try:
                self.set_faults(node_id)
            except ClusterError as err:
                failures.append(err.message)
        if failures:
            raise ClusterError(f"heal left faults on {len(failures)} node(s): {'; '.join(failures)}")

    def down(self) -> None:
        """SIGTERM every node process we recorded and still own, wait, SIGKILL leftovers.

        Only pids recorded in cluster.json (or in memory) whose /proc/<pid>/cmdline names the
        node's data dir are signalled. Idempotent.
        """
        recorded: dict[str, NodeProcess] = {}
        with contextlib.suppress(ClusterError):
            recorded = {node.node_id: node for node in read_cluster_file(self.directory).nodes}
        recorded.update(self.nodes)
        targets = [node for node in recorded.values()
                   if self._alive(node) and owns_pid(node.pid, node.data_dir)]
        for node in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGTERM)
                if node.paused:
                    os.kill(node.pid, signal.SIGCONT)
        try:
            self.wait_until(lambda: not any(self._alive(node) for node in targets),
                            timeout_s=DOWN_GRACE_S, interval_s=POLL_INTERVAL_S,
                            what="every node to exit after SIGTERM")
        except ClusterError:
            for node in targets:
                if self._alive(node) and owns_pid(node.pid, node.data_dir):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(node.pid, signal.SIGKILL)
            self.wait_until(lambda: not any(self._alive(node) for node in targets),
                            timeout_s=KILL_WAIT_S, interval_s=POLL_INTERVAL_S,
                            what="every node to exit after SIGKILL",
                            detail=lambda: ", ".join(f"{n.node_id} pid {n.pid}" for n in targets
                                                     if self._alive(n)))
        for node in recorded.values():
            node.paused = False
        self._status.close()
        if self.nodes:
            self._save()

    # ---------------------------------------------------------------- internals

    def _sorted_nodes(self) -> list[NodeProcess]:
        return sorted(self.nodes.values(), key=lambda node: natural_key(node.node_id))

    def _node(self, node_id: str) -> NodeProcess:
        try:
            return self.nodes[node_id]
        except KeyError:
            known = ", ".join(node.node_id for node in self._sorted_nodes()) or "none"
            raise ClusterError(f"no node {node_id!r} in {self.directory} (known: {known})") from None

    def _free_node_id(self) -> str:
        for index in range(len(self.nodes) + 1, len(self.nodes) + NODES_MAX + 2):
            candidate = f"node-{index}"
            if candidate not in self.nodes and not (self.directory / candidate).exists():
                return candidate
        raise ClusterError(f"no free node id near node-{len(self.nodes) + 1} in {self.directory}")

    def _new_node(self, node_id: str, *, zone: str = "", capacity_bytes: int | None = None,
                  host: str = "127.0.0.1") -> NodeProcess:
        data_dir = self.directory / node_id
        logs_dir = self.directory / "logs"
        data_dir.mkdir(parents=True, exist_ok=True)
        logs_dir.mkdir(parents=True, exist_ok=True)
        return NodeProcess(node_id=node_id, data_dir=str(data_dir),
                           log_path=str(logs_dir / f"{node_id}.log"),
                           secret_file=self.secret_file, zone=zone, host=host,
                           capacity_bytes=capacity_bytes)

    def _spawn(self, node: NodeProcess, *, join: Iterable[str], extra_args: tuple[str, ...] = ()) -> NodeProcess:
        """Start the node's process and record its pid in cluster.json at once."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(Path(node.data_dir) / NODE_FILE_NAME)  # a stale one would look like readiness
        tls_files = None
        if self.ca_dir:
            if not node.tls_cert:
                node.tls_cert, node.tls_key = certs.ensure_node_certificate(
                    Path(self.ca_dir), self.directory / "tls" / "nodes", node.node_id, sans=(node.host, "localhost"))
            tls_files = (node.tls_cert, node.tls_key, node.tls_ca or self.ca_file)
        command = node_command(data_dir=node.data_dir, host=node.host, port=node.port, peer_port=node.peer_port,
                               node_id=node.node_id, tls_files=tls_files,
                               secret_file=node.secret_file, profile=self.profile,
                               join_addresses=tuple(join), zone=node.zone,
                               capacity_bytes=node.capacity_bytes, default_replicas=self.replicas,
                               settings={**self.settings, **node.settings},
                               allow_fault_injection=self.fault_injection, s3_port=node.s3_port,
                               master_key_file=self.master_key_file if os.path.exists(self.master_key_file) else ""
                               ) + list(extra_args)
        env = dict(os.environ)
        env.pop("RINGSTORE_CLUSTER_SECRET", None)  # the secret file, and only it, decides
        env.pop("RINGSTORE_MASTER_KEY_FILE", None)  # as does the keyring beside it
        if nodectl.GRPC_VERBOSITY_DEFAULTED:
            env.pop("GRPC_VERBOSITY", None)  # nodes log refused handshakes at gRPC's own default
        env["PYTHONUNBUFFERED"] = "1"
        with open(node.log_path, "ab") as log:
            log.write(f"--- cluster-sim: {shlex.join(command)}\n".encode())
            log.flush()
            popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=log, start_new_session=True, cwd=self.directory, env=env)
        node.pid = popen.pid
        node.paused = False
        self._popens[node.node_id] = popen
        self.nodes[node.node_id] = node
        self._save()
        return node

    def _wait_serving(self, node: NodeProcess, *, timeout_s: float) -> None:
        """Wait for the node's node.json; take its address, metrics address and generation."""
        node_file = Path(node.data_dir) / NODE_FILE_NAME

        def serving() -> bool:
            try:
                info = json.loads(node_file.read_text(encoding="utf-8"))
            except (FileNotFoundError, json.JSONDecodeError):
                info = None
            if isinstance(info, dict) and "address" in info:
                self._apply_node_file(node, info)
                return True
            if not self._alive(node):
                raise NodeExitedError(node.node_id, self._exit_code(node),
                                      detail=f"last lines of {node.log_path}:\n"
                                             + _indent(tail_log(node.log_path)))
            return False

        self.wait_until(serving, timeout_s=timeout_s, interval_s=POLL_INTERVAL_S,
                        what=f"{node.node_id} (pid {node.pid}) to write {node_file}",
                        detail=lambda: tail_log(node.log_path))
        self._save()

    @staticmethod
    def _apply_node_file(node: NodeProcess, info: dict[str, Any]) -> None:
        _, port = parse_address(info["address"])
        node.address = info["address"]
        node.port = port
        node.peer_address = str(info.get("peer_address", ""))
        if node.peer_address:
            node.peer_port = parse_address(node.peer_address)[1]
        node.metrics_address = str(info.get("metrics_address", ""))
        s3_address = str(info.get("s3_address", ""))
        if s3_address:
            node.s3_port = parse_address(s3_address)[1]
            node.s3_address = ("https://" if info.get("tls") else "http://") + s3_address
        node.generation = int(info.get("generation", 0))
        if info.get("node_id") and info["node_id"] != node.node_id:
            raise ClusterError(f"{node.data_dir}/{NODE_FILE_NAME} names node "
                               f"{info['node_id']!r}, expected {node.node_id!r}")

    def _alive(self, node: NodeProcess) -> bool:
        popen = self._popens.get(node.node_id)
        if popen is not None and popen.pid == node.pid:
            return popen.poll() is None  # also reaps our own child, so it never lingers as a zombie
        return pid_alive(node.pid)

    def _exit_code(self, node: NodeProcess) -> int | None:
        popen = self._popens.get(node.node_id)
        if popen is not None and popen.pid == node.pid:
            return popen.poll()
        return None  # not our child: its exit code went to its parent

    def _process_state(self, node: NodeProcess) -> str:
        if not self._alive(node):
            return "dead"
        return "paused" if node.paused else "running"

    def _check_owned(self, node: NodeProcess) -> None:
        if not owns_pid(node.pid, node.data_dir):
            raise ClusterError(f"refusing to signal pid {node.pid}: its command line does not name "
                               f"{node.data_dir}, so it is not {node.node_id} (pid reused?)")

    def _read_view(self, node: NodeProcess) -> NodeView:
        return self._status.read(node.address)

    def _all_see_all_alive(self) -> bool:
        expected = list(self.nodes)
        if self.ca_dir and self.credentials is None:
            return self._all_count_all_alive()
        for node in self._sorted_nodes():
            try:
                states = self._read_view(node).states()
            except StatusUnavailable:
                return False
            if any(states.get(node_id) != "ALIVE" for node_id in expected):
                return False
        return True

    def _all_count_all_alive(self) -> bool:
        """Before InitCluster no call can be signed, so readiness comes from each node's metrics
        (served without credentials on their own port): every node counts every node ALIVE."""
        for node in self._sorted_nodes():
            try:
                text = self.metrics_text(node.node_id, timeout_s=2.0)
            except OSError:
                return False
            alive = [line for line in text.splitlines() if line.startswith('ringstore_members{state="ALIVE"}')]
            if not alive or float(alive[0].rsplit(" ", 1)[1]) != len(self.nodes):
                return False
        return True

    def _forget(self, node: NodeProcess) -> None:
        """Stop a node that failed to join and drop it from the records."""
        if self._alive(node) and owns_pid(node.pid, node.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGKILL)
            with contextlib.suppress(ClusterError):
                self.wait_until(lambda: not self._alive(node), timeout_s=KILL_WAIT_S,
                                what=f"{node.node_id} to exit")
        self.nodes.pop(node.node_id, None)
        self._popens.pop(node.node_id, None)
        self._save()

    def _save(self) -> None:
        write_cluster_file(self.directory, ClusterFile(
            secret_file=self.secret_file, ca_dir=self.ca_dir, hosts=self.hosts, profile=self.profile,
            replicas=self.replicas,
            nodes=self._sorted_nodes(), settings=self.settings, fault_injection=self.fault_injection))
