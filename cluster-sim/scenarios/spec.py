"""Scenario files: a small TOML schema, validated up front with one-line errors.

A scenario names a cluster (`nodes`, `settings` for every node, `node_settings` for the last few),
a seeded workload (`[workload]`), a fault schedule (`[[steps]]`, each an `action` at an optional
`at_s` after the workload starts; a step without `at_s` runs when the one before it ends), an
optional cold set (`[cold]`: data written before the workload that it never touches, so repair has
something to move whatever the workload overwrote or deleted) and what must hold at the end
(`[expect]`). `[full]` overrides `nodes`, `workload` keys, `cold` keys and `steps` for the long form
the benchmark runs; everything else is shared by both forms.

Every error is one line naming the file, the key and what is allowed
(`node-crash.toml: steps[2].node: 'node-9' is not a node of this scenario (node-1..node-5)`), and the
schedule is checked as a sequence before anything starts: a node is killed only while it runs, a
stopped node is continued, a partition is healed, so a typo costs a second, not a cluster run.

Rejected alternative: a Python DSL (scenarios as functions). More expressive, but a scenario would
then be code to review rather than data to validate, and `scenario run FILE` would execute
arbitrary code; the schedule's few actions cover the issue's fault list.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

NODES_MIN = 3  # replicas=3 needs three nodes
NODES_MAX = 6  # two cores: more node processes measure the scheduler, not Ringstore
WORKERS_MAX = 32
KEYS_MAX = 100_000
SIZE_BYTES_MAX = 64 * 1024 * 1024  # one object, generated in memory by a worker
DURATION_S_MAX = 3600.0
STEPS_MAX = 200
TIMEOUT_S_MAX = 600.0
FLAP_TIMES_MAX = 100
FLIP_FILES_MAX = 1000
DELAY_MS_MAX = 10_000
MAINTENANCE_S_MAX = 7 * 24 * 3600  # what nodes accept
COLD_SIZE_BYTES_MAX = 1024 * 1024 * 1024  # cold bytes per policy on the victim: a local disk's worth
OP_KINDS: tuple[str, ...] = ("put", "overwrite", "get", "delete")
WAIT_TARGETS: tuple[str, ...] = ("alive", "down", "out", "full")
POLICY_RE = re.compile(r"replicas=(\d+)|ec=(\d+)\+(\d+)")
NODE_ID_RE = re.compile(r"node-(\d+)")
ALL_NODES = "all"    # kill/start: every node at once
EACH_NODE = "each"   # restart: every node in turn
SUFFIX = ".toml"
VICTIM_ACTIONS: tuple[str, ...] = ("kill", "replace-disk")  # steps whose node loses what it held

# Keys each action takes besides `action` and `at_s`, and which of them are required.
ACTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "kill": (frozenset({"node"}), frozenset({"node"})),
    "start": (frozenset({"node", "timeout_s"}), frozenset({"node"})),
    "restart": (frozenset({"node", "maintenance_s", "timeout_s"}), frozenset({"node"})),
    "replace-disk": (frozenset({"node", "timeout_s"}), frozenset({"node"})),
    "stop": (frozenset({"node"}), frozenset({"node"})),
    "cont": (frozenset({"node"}), frozenset({"node"})),
    "flap": (frozenset({"node", "times", "pause_s", "gap_s"}), frozenset({"node", "times", "pause_s", "gap_s"})),
    "partition": (frozenset({"node", "peers"}), frozenset({"node"})),
    "slow": (frozenset({"node", "rpc_ms", "disk_ms"}), frozenset({"node"})),
    "heal": (frozenset(), frozenset()),
    "flip-bytes": (frozenset({"files", "node"}), frozenset({"files"})),
    "scrub": (frozenset({"timeout_s"}), frozenset()),
    "fill": (frozenset({"node", "size_bytes", "timeout_s"}), frozenset({"node"})),
    "maintenance": (frozenset({"node", "duration_s"}), frozenset({"node", "duration_s"})),
    "wait": (frozenset({"for", "node", "timeout_s"}), frozenset({"for"})),
}
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_FILL_SIZE_BYTES = 2 * 1024 * 1024
DEFAULT_FULL_REDUNDANCY_S_MAX = 120.0


class SpecError(ValueError):
    """A scenario file is malformed; the message is one line naming the file and the key."""


@dataclasses.dataclass(frozen=True)
class Workload:
    """What the worker threads do. Each worker owns keys `k-0000`.. with index % workers == its own."""

    duration_s: float
    workers: int
    keys: int
    size_bytes_min: int
    size_bytes_max: int
    # "replicas=N" or "ec=K+M"; each put picks one at random.
    policies: tuple[str, ...]
    # Relative weights of put (a key with no value), overwrite, get and delete.
    ops: Mapping[str, int]
    # Operations per second over all workers; 0 = as fast as they go.
    ops_per_s: float
    # Share of versions whose bytes are text-like (compressible); with any, the workload's bucket
    # stores chunks zstd-compressed, so compressed and raw chunks both meet the faults.
    compressible: float = 0.0
    # The workload's bucket encrypts at rest (node/objects/at_rest.py): every chunk the faults meet
    # is sealed, and the data keys' records must survive them too.
    encrypted: bool = False


@dataclasses.dataclass(frozen=True)
class Step:
    """One action of the fault schedule; fields an action does not take keep their defaults."""

    action: str
    at_s: float | None = None
    node: str = ""
    peers: tuple[str, ...] = ()
    wait_for: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    maintenance_s: int = 0
    duration_s: int = 0
    rpc_ms: int = 0
    disk_ms: int = 0
    files: int = 0
    times: int = 0
    pause_s: tuple[float, float] = (0.0, 0.0)
    gap_s: tuple[float, float] = (0.0, 0.0)
    size_bytes: int = DEFAULT_FILL_SIZE_BYTES

    @property
    def needs_fault_injection(self) -> bool:
        return self.action in ("partition", "slow")

    def describe(self) -> str:
        """One line for progress output: the action and the arguments it was given."""
        parts = [self.action]
        if self.wait_for:
            parts.append(self.wait_for)
        if self.node:
            parts.append(self.node)
        if self.peers:
            parts.append("from " + ",".join(self.peers))
        if self.action == "slow":
            parts.append(f"rpc {self.rpc_ms} ms disk {self.disk_ms} ms")
        if self.action == "flip-bytes":
            parts.append(f"{self.files} file(s)")
        if self.action == "flap":
            parts.append(f"{self.times}x pause {self.pause_s[0]:g}-{self.pause_s[1]:g} s")
        if self.maintenance_s or self.action == "maintenance":
            parts.append(f"maintenance {self.maintenance_s or self.duration_s} s")
        return " ".join(parts)


@dataclasses.dataclass(frozen=True)
class Cold:
    """The cold set: objects put before the workload starts under keys it never touches (`cold-NNNN`),
    `object_size_bytes` each, in every policy of the workload, until `node` (the victim a later
    step kills or replaces) holds at least `size_bytes` of copies or shares of each policy."""

    node: str
    size_bytes: int
    object_size_bytes: int


@dataclasses.dataclass(frozen=True)
class Expect:
    """Invariants beyond the two that always hold (no acknowledged write lost, no wrong read)."""

    false_down_max: int = 0
    # None: not checked.
    failed_reads_max: int | None = None
    failed_puts_max: int | None = None
    bytes_moved_min: int | None = None
    # Bytes moved at most the bytes of puts made while some node was down (the handoff return).
    bytes_moved_within_handoff: bool = False
    corrupt_found_min: int | None = None
    # Repair moved at least the bytes of still-current copies and shares the cold node held when it
    # was killed or replaced (needs [cold]; see cold.py).
    bytes_moved_covers_victim: bool = False
    # After full redundancy the cold node holds again at least the copies and shares of still-current
    # data it held before the fault, and the metadata records it held once the cold set was written.
    victim_refilled: bool = False
    detection_s_max: float | None = None
    full_redundancy_s_max: float = DEFAULT_FULL_REDUNDANCY_S_MAX


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    source: str  # file name, for messages
    nodes: int
    settings: Mapping[str, str]
    node_settings: Mapping[str, Mapping[str, str]]
    workload: Workload
    steps: tuple[Step, ...]
    expect: Expect
    full: bool  # the long form
    cold: Cold | None = None

    @property
    def node_ids(self) -> list[str]:
        return [f"node-{index}" for index in range(1, self.nodes + 1)]

    @property
    def needs_fault_injection(self) -> bool:
        return any(step.needs_fault_injection for step in self.steps)


# ------------------------------------------------------------------------------- loading


def shipped_names() -> list[str]:
    """Names of the scenarios shipped in this package, sorted."""
    return sorted(entry.name[: -len(SUFFIX)] for entry in importlib.resources.files(__package__).iterdir()
                  if entry.name.endswith(SUFFIX))


def load(name_or_path: str, *, full: bool = False) -> Scenario:
    """A shipped scenario by name, or a scenario file by path (anything ending in .toml or naming a
    file); `full` picks the long form."""
    path = Path(name_or_path)
    if name_or_path.endswith(SUFFIX) or path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise SpecError(f"{name_or_path}: cannot read: {err.strerror or err}") from None
        return parse(text, source=path.name, full=full)
    if name_or_path not in shipped_names():
        raise SpecError(f"no scenario {name_or_path!r}; shipped: {', '.join(shipped_names())} "
                        "(or give a path to a .toml file)")
    resource = importlib.resources.files(__package__) / f"{name_or_path}{SUFFIX}"
    return parse(resource.read_text(encoding="utf-8"), source=f"{name_or_path}{SUFFIX}", full=full)


def parse(text: str, *, source: str, full: bool = False) -> Scenario:
    """Validate a scenario document; SpecError (one line) on the first problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{source}: not valid TOML: {err}") from None
    return _Parser(source).scenario(document, full=full)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> SpecError:
        return SpecError(f"{self.source}: {key}: {problem}")

    # -- typed fields

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, got {type(value).__name__}")
        return value

    def only(self, document: Mapping[str, Any], allowed: set[str] | frozenset[str], key: str) -> None:
        unknown = sorted(set(document) - set(allowed))
        if unknown:
            where = f"{key}.{unknown[0]}" if key else unknown[0]
            raise self.fail(where, f"unknown key; allowed: {', '.join(sorted(allowed)) or 'none'}")

    def integer(self, value: Any, key: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"must be an integer in {low}..{high}, got {value!r}")
        return value

    def number(self, value: Any, key: str, low: float, high: float, *, low_open: bool = False) -> float:
        ok = (not isinstance(value, bool) and isinstance(value, (int, float))
              and (value > low if low_open else value >= low) and value <= high)
        if not ok:
            bound = f"> {low:g}" if low_open else f">= {low:g}"
            raise self.fail(key, f"must be a number {bound} and <= {high:g}, got {value!r}")
        return float(value)

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def span(self, value: Any, key: str, high: float) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(key, f"must be [min, max] in seconds, got {value!r}")
        low_s = self.number(value[0], f"{key}[0]", 0.0, high, low_open=True)
        high_s = self.number(value[1], f"{key}[1]", low_s, high)
        return low_s, high_s

    def settings(self, value: Any, key: str) -> dict[str, str]:
        result = {}
        for name, setting in self.table(value, key).items():
            if not re.fullmatch(r"[a-z_]+\.[a-z0-9_]+", name):
                raise self.fail(f"{key}.{name}", "setting names are SECTION.FIELD as `noded --set` takes them "
                                                 "(e.g. repair.gc_grace_s)")
            if isinstance(setting, bool) or not isinstance(setting, (str, int, float)):
                raise self.fail(f"{key}.{name}", f"must be a string or a number, got {setting!r}")
            result[name] = str(setting)
        return result

    # -- the document

    def scenario(self, document: dict[str, Any], *, full: bool) -> Scenario:
        self.only(document, {"name", "description", "nodes", "settings", "node_settings", "workload",
                             "steps", "cold", "expect", "full"}, "")
        for required in ("name", "description", "nodes", "workload"):
            if required not in document:
                raise self.fail(required, "missing (every scenario has name, description, nodes and [workload])")
        name = self.text(document["name"], "name")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            raise self.fail("name", f"must be lower-case letters, digits and dashes, got {name!r}")
        description = self.text(document["description"], "description")
        if "\n" in description.strip():
            raise self.fail("description", "must be one line (`scenario list` prints it as one)")
        nodes_value = document["nodes"]
        workload_doc = dict(self.table(document["workload"], "workload"))
        steps_doc = document.get("steps", [])
        cold_doc = dict(self.table(document["cold"], "cold")) if "cold" in document else None
        if full and "full" in document:
            overrides = self.table(document["full"], "full")
            self.only(overrides, {"nodes", "workload", "cold", "steps"}, "full")
            nodes_value = overrides.get("nodes", nodes_value)
            workload_doc.update(self.table(overrides.get("workload", {}), "full.workload"))
            if "cold" in overrides:
                if cold_doc is None:
                    raise self.fail("full.cold", "overrides a [cold] table the scenario does not have")
                cold_doc.update(self.table(overrides["cold"], "full.cold"))
            steps_doc = overrides.get("steps", steps_doc)
        nodes = self.integer(nodes_value, "nodes", NODES_MIN, NODES_MAX)
        settings = self.settings(document.get("settings", {}), "settings")
        node_settings = self.node_settings(document.get("node_settings", {}), nodes)
        workload = self.workload(workload_doc, nodes)
        if not isinstance(steps_doc, list) or len(steps_doc) > STEPS_MAX:
            raise self.fail("steps", f"must be an array of at most {STEPS_MAX} tables ([[steps]])")
        node_ids = [f"node-{index}" for index in range(1, nodes + 1)]
        steps = self.expand([self.step(item, f"steps[{index}]", node_ids) for index, item in enumerate(steps_doc)],
                            node_ids)
        self.check_sequence(steps, node_ids, workload.duration_s)
        cold = self.cold(cold_doc, node_ids, steps) if cold_doc is not None else None
        expect = self.expect(document.get("expect", {}))
        for expectation, needed in (("bytes_moved_covers_victim", expect.bytes_moved_covers_victim),
                                    ("victim_refilled", expect.victim_refilled)):
            if needed and cold is None:
                raise self.fail(f"expect.{expectation}",
                                "needs a [cold] table naming the victim (the node a step kills or replaces)")
        return Scenario(name=name, description=description.strip(), source=self.source, nodes=nodes,
                        settings=settings, node_settings=node_settings, workload=workload, steps=tuple(steps),
                        expect=expect, full=full, cold=cold)

    def cold(self, document: dict[str, Any], node_ids: list[str], steps: list[Step]) -> Cold:
        self.only(document, {"node", "size_bytes", "object_size_bytes"}, "cold")
        for required in ("node", "size_bytes", "object_size_bytes"):
            if required not in document:
                raise self.fail(f"cold.{required}", "missing ([cold] takes node, size_bytes, object_size_bytes)")
        node = self.node(document["node"], "cold.node", node_ids, "")
        if not any(step.action in VICTIM_ACTIONS and step.node in (node, ALL_NODES) for step in steps):
            raise self.fail("cold.node", f"{node} is never killed or replaced by a step ({', '.join(VICTIM_ACTIONS)});"
                                         " the cold set is there for repair to move what the victim held")
        size_bytes = self.integer(document["size_bytes"], "cold.size_bytes", 1, COLD_SIZE_BYTES_MAX)
        object_size_bytes = self.integer(document["object_size_bytes"], "cold.object_size_bytes", 1,
                                         SIZE_BYTES_MAX)
        return Cold(node=node, size_bytes=size_bytes, object_size_bytes=object_size_bytes)

    def node_settings(self, value: Any, nodes: int) -> dict[str, dict[str, str]]:
        result = {}
        for node_id, settings in self.table(value, "node_settings").items():
            match = NODE_ID_RE.fullmatch(node_id)
            if match is None or not 1 <= int(match.group(1)) <= nodes:
                raise self.fail(f"node_settings.{node_id}", f"not a node of this scenario (node-1..node-{nodes})")
            result[node_id] = self.settings(settings, f"node_settings.{node_id}")
        own = sorted(int(node_id.split("-")[1]) for node_id in result)
        if own and own != list(range(nodes - len(own) + 1, nodes + 1)):
            raise self.fail("node_settings", f"only the last nodes may have their own settings (they join after "
                                             f"the others); with {len(own)} use node-{nodes - len(own) + 1}.."
                                             f"node-{nodes}")
        if len(own) >= nodes:
            raise self.fail("node_settings", "at least node-1 must start with the cluster's settings alone")
        return result

    def workload(self, document: dict[str, Any], nodes: int) -> Workload:
        allowed = {"duration_s", "workers", "keys", "size_bytes_min", "size_bytes_max", "policies", "ops",
                   "ops_per_s", "compressible", "encrypted"}
        self.only(document, allowed, "workload")
        for required in ("duration_s", "workers", "keys", "size_bytes_max", "policies", "ops"):
            if required not in document:
                raise self.fail(f"workload.{required}", "missing")
        duration_s = self.number(document["duration_s"], "workload.duration_s", 0.0, DURATION_S_MAX, low_open=True)
        workers = self.integer(document["workers"], "workload.workers", 1, WORKERS_MAX)
        keys = self.integer(document["keys"], "workload.keys", workers, KEYS_MAX)
        size_max = self.integer(document["size_bytes_max"], "workload.size_bytes_max", 1, SIZE_BYTES_MAX)
        size_min = self.integer(document.get("size_bytes_min", 1), "workload.size_bytes_min", 1, size_max)
        policies = document["policies"]
        if not isinstance(policies, list) or not policies:
            raise self.fail("workload.policies", "must be a non-empty array like [\"replicas=3\", \"ec=2+1\"]")
        for index, policy in enumerate(policies):
            self.policy(policy, f"workload.policies[{index}]", nodes)
        ops = self.table(document["ops"], "workload.ops")
        self.only(ops, set(OP_KINDS), "workload.ops")
        weights = {kind: self.integer(ops.get(kind, 0), f"workload.ops.{kind}", 0, 1000) for kind in OP_KINDS}
        if weights["put"] + weights["overwrite"] == 0:
            raise self.fail("workload.ops", "needs a weight > 0 for put or overwrite (nothing would be written)")
        ops_per_s = self.number(document.get("ops_per_s", 0), "workload.ops_per_s", 0.0, 10_000.0)
        compressible = self.number(document.get("compressible", 0), "workload.compressible", 0.0, 1.0)
        encrypted = document.get("encrypted", False)
        if not isinstance(encrypted, bool):
            raise self.fail("workload.encrypted", "must be true or false")
        return Workload(duration_s=duration_s, workers=workers, keys=keys, size_bytes_min=size_min,
                        size_bytes_max=size_max, policies=tuple(policies), ops=weights, ops_per_s=ops_per_s,
                        compressible=compressible, encrypted=encrypted)

    def policy(self, value: Any, key: str, nodes: int) -> None:
        match = POLICY_RE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise self.fail(key, f"must be \"replicas=N\" or \"ec=K+M\", got {value!r}")
        width = int(match.group(1)) if match.group(1) else int(match.group(2)) + int(match.group(3))
        if width < 1 or (match.group(2) and (int(match.group(2)) < 1 or int(match.group(3)) < 1)):
            raise self.fail(key, f"{value} is not a policy (replicas >= 1; ec needs K >= 1 and M >= 1)")
        if width > nodes:
            raise self.fail(key, f"{value} needs {width} nodes, the scenario has {nodes}")

    def step(self, value: Any, key: str, node_ids: list[str]) -> Step:
        document = self.table(value, key)
        if "action" not in document:
            raise self.fail(f"{key}.action", f"missing; one of {', '.join(ACTIONS)}")
        action = document["action"]
        if action not in ACTIONS:
            raise self.fail(f"{key}.action", f"{action!r} is not one of {', '.join(ACTIONS)}")
        allowed, required = ACTIONS[action]
        self.only(document, allowed | {"action", "at_s"}, key)
        for name in sorted(required):
            if name not in document:
                raise self.fail(f"{key}.{name}", f"missing (`{action}` takes {', '.join(sorted(allowed))})")
        fields: dict[str, Any] = {"action": action}
        if "at_s" in document:
            fields["at_s"] = self.number(document["at_s"], f"{key}.at_s", 0.0, DURATION_S_MAX)
        if "node" in document:
            fields["node"] = self.node(document["node"], f"{key}.node", node_ids, action)
        if "peers" in document:
            peers = document["peers"]
            if not isinstance(peers, list) or not peers:
                raise self.fail(f"{key}.peers", "must be a non-empty array of node ids")
            fields["peers"] = tuple(self.node(peer, f"{key}.peers", node_ids, "") for peer in peers)
            if fields.get("node") in fields["peers"]:
                raise self.fail(f"{key}.peers", f"names {fields['node']} itself")
        if "for" in document:
            if document["for"] not in WAIT_TARGETS:
                raise self.fail(f"{key}.for", f"{document['for']!r} is not one of {', '.join(WAIT_TARGETS)}")
            fields["wait_for"] = document["for"]
            if fields["wait_for"] != "full" and "node" not in fields:
                raise self.fail(f"{key}.node", f"missing (wait for {fields['wait_for']} names a node)")
        if "timeout_s" in document:
            fields["timeout_s"] = self.number(document["timeout_s"], f"{key}.timeout_s", 0.0, TIMEOUT_S_MAX,
                                              low_open=True)
        if "maintenance_s" in document:
            fields["maintenance_s"] = self.integer(document["maintenance_s"], f"{key}.maintenance_s", 1,
                                                   MAINTENANCE_S_MAX)
        if "duration_s" in document:
            fields["duration_s"] = self.integer(document["duration_s"], f"{key}.duration_s", 0, MAINTENANCE_S_MAX)
        for name in ("rpc_ms", "disk_ms"):
            if name in document:
                fields[name] = self.integer(document[name], f"{key}.{name}", 0, DELAY_MS_MAX)
        if action == "slow" and not (fields.get("rpc_ms") or fields.get("disk_ms")):
            raise self.fail(key, "`slow` needs rpc_ms or disk_ms > 0")
        if "files" in document:
            fields["files"] = self.integer(document["files"], f"{key}.files", 1, FLIP_FILES_MAX)
        if "times" in document:
            fields["times"] = self.integer(document["times"], f"{key}.times", 1, FLAP_TIMES_MAX)
        for name in ("pause_s", "gap_s"):
            if name in document:
                fields[name] = self.span(document[name], f"{key}.{name}", TIMEOUT_S_MAX)
        if "size_bytes" in document:
            fields["size_bytes"] = self.integer(document["size_bytes"], f"{key}.size_bytes", 1, SIZE_BYTES_MAX)
        return Step(**fields)

    def node(self, value: Any, key: str, node_ids: list[str], action: str) -> str:
        if action in ("kill", "start") and value == ALL_NODES:
            return value
        if action == "restart" and value == EACH_NODE:
            return value
        if value not in node_ids:
            extra = {"kill": f" or {ALL_NODES!r}", "start": f" or {ALL_NODES!r}",
                     "restart": f" or {EACH_NODE!r}"}.get(action, "")
            raise self.fail(key, f"{value!r} is not a node of this scenario ({node_ids[0]}..{node_ids[-1]}{extra})")
        return value

    @staticmethod
    def expand(steps: list[Step], node_ids: list[str]) -> list[Step]:
        """`restart` of "each" node becomes one restart per node, in node order."""
        result = []
        for step in steps:
            if step.action == "restart" and step.node == EACH_NODE:
                result.extend(dataclasses.replace(step, node=node_id, at_s=step.at_s if index == 0 else None)
                              for index, node_id in enumerate(node_ids))
            else:
                result.append(step)
        return result

    def check_sequence(self, steps: list[Step], node_ids: list[str], duration_s: float) -> None:
        """Walk the schedule as the runner will: each action must find its node in a state it applies to."""
        dead: set[str] = set()
        stopped: set[str] = set()
        faulted: set[str] = set()  # nodes holding injected faults (a restart clears a node's own)
        last_at_s = 0.0
        for index, step in enumerate(steps):
            key = f"steps[{index}] ({step.action})"
            if step.at_s is not None:
                if step.at_s < last_at_s:
                    raise self.fail(f"{key}.at_s", f"{step.at_s:g} s is before the step before it ({last_at_s:g} s);"
                                                   " steps run in order")
                if step.at_s >= duration_s:
                    raise self.fail(f"{key}.at_s", f"{step.at_s:g} s is not within the workload's "
                                                   f"{duration_s:g} s")
                last_at_s = step.at_s
            targets = node_ids if step.node == ALL_NODES else [step.node] if step.node else []
            if step.action in ("kill", "restart", "replace-disk", "stop", "flap", "partition", "slow", "fill",
                               "maintenance"):
                for node_id in targets:
                    if node_id in dead or node_id in stopped:
                        state = "killed" if node_id in dead else "stopped"
                        raise self.fail(key, f"{node_id} is {state} by an earlier step; `{step.action}` needs it "
                                             "running (start or cont it first)")
            if step.action in ("kill", "restart", "replace-disk"):
                faulted.difference_update(targets)
            if step.action == "kill":
                dead.update(targets)
                if len(dead) == len(node_ids) and step.node != ALL_NODES:
                    raise self.fail(key, "kills the last running node one by one; use node = \"all\"")
            elif step.action == "start":
                for node_id in targets:
                    if node_id not in dead:
                        raise self.fail(key, f"{node_id} is not killed by an earlier step; nothing to start")
                dead.difference_update(targets)
            elif step.action == "stop":
                stopped.update(targets)
            elif step.action == "cont":
                if step.node not in stopped:
                    raise self.fail(key, f"{step.node} is not stopped by an earlier step; nothing to continue")
                stopped.discard(step.node)
            elif step.action in ("partition", "slow"):
                for peer in step.peers:
                    if peer in dead or peer in stopped:
                        raise self.fail(key, f"peer {peer} is not running; a partition needs both sides running")
                faulted.update([step.node, *step.peers])
            elif step.action == "heal":
                if faulted & stopped:
                    raise self.fail(key, f"{', '.join(sorted(faulted & stopped))} is stopped and cannot be healed; "
                                         "cont it first")
                faulted.clear()
            if step.action in ("wait", "fill", "scrub", "maintenance", "flip-bytes") and len(dead | stopped) == len(
                    node_ids):
                raise self.fail(key, f"`{step.action}` needs a running node, but every node is killed or stopped")
        if stopped:
            raise self.fail("steps", f"{', '.join(sorted(stopped))} is left stopped; end with a `cont`")
        if faulted:
            raise self.fail("steps", "partition or slow faults are left in force; end with a `heal`")
        if len(dead) == len(node_ids):
            raise self.fail("steps", "every node is left killed; end with a `start` of \"all\"")

    def expect(self, value: Any) -> Expect:
        document = self.table(value, "expect")
        fields = {field.name for field in dataclasses.fields(Expect)}
        self.only(document, fields, "expect")
        result: dict[str, Any] = {}
        for name, setting in document.items():
            key = f"expect.{name}"
            if name in ("bytes_moved_within_handoff", "bytes_moved_covers_victim", "victim_refilled"):
                if not isinstance(setting, bool):
                    raise self.fail(key, f"must be true or false, got {setting!r}")
                result[name] = setting
            elif name in ("detection_s_max", "full_redundancy_s_max"):
                result[name] = self.number(setting, key, 0.0, TIMEOUT_S_MAX, low_open=True)
            else:
                result[name] = self.integer(setting, key, 0, 2**62)
        return Expect(**result)
