"""Finding the cluster again at start: whom to join, and when a node may run as a cluster of one.

The problem. A node announces LEFT on every SIGTERM outside a maintenance window, and the others
never call a LEFT member again. So a node restarted without a `--join` that names a live member (a
systemd unit whose `--join` names only the node itself, a container restarted with the first node's
command line) used to come up as a cluster of one, report itself healthy, and serve manifests the
cluster had since overwritten or deleted.

The design. Each node keeps the members it knows in its data dir (`DIR/members.json`,
node/store/members_file.py): every other member's node id, peer address, last state, generation and
incarnation. `MembersRecorder` keeps it in step with the membership table: a listener marks the file
stale when a member appears or changes state or address (not on the incarnation bumps that carry free
bytes), and `step(now_s)` writes it at most once per `gossip.members_file_interval_s`; the daemon
also writes it once right after the join and once when it stops. A member remembered at start that
the table has not heard of yet is carried over into every write until it has (a node that joined
through one member and died a moment later must not forget the rest).

At start the join candidates are the `--join` addresses, then the remembered members' addresses,
live ones first (`plan_join`); the node's own id and address are left out. If one answers within
`gossip.join_deadline_s`, the node joins through it, exactly as through a `--join` address (the Join
answer tells it whether the cluster counted it LEFT or OUT, and node/repair/tombstones.py drops its
manifests if so). Then, in the background, it calls every remembered member the joined table does not
hold as live, once (`JoinPlan.unreached`, `MembershipDriver.reach`), as memberlist's join contacts
every address it is given. Without that, a whole cluster started again at once could settle as two
clusters: nodes 1 and 2 joining each other while 3 and 4, which found 1 and 2 not yet serving, joined
each other. With it, of any two nodes that remember each other, the one that makes its calls later
finds the other serving (each serves before it joins), so they end in one cluster.

If no candidate answers the join (`after_no_answer`):

- with `--allow-alone` it runs as a cluster of one, on purpose, and forgets the members it could not
  reach: its next write of the file lists only the members that join it;
- else, if it remembers a member that did not leave (ALIVE, SUSPECT, DOWN or OUT when last seen), it
  refuses to start: exit 4, one line naming the members it tried and the ways forward;
- else, with `--join` addresses given, exit 4 as before;
- else every member it remembers had LEFT: this node was the last to stop, it holds the newest
  data, and it starts alone (with a warning) so that the others, which remember it, rejoin through it.
  That is how a whole cluster stopped gracefully comes back whatever order its nodes start in.

A data dir with no members file (a new node, or one from before this file existed) and no `--join`
starts a new cluster, as the first node of a cluster always has.

A node that LEFT (drained, or stopped with SIGTERM) rejoins as a member when it starts again, as it
did with `--join`: the cluster's ring takes it back and the return guard refills its metadata.
Rejected: Serf's default of forgetting the snapshot's members on a graceful leave (its
`rejoin_after_leave` off). Here every SIGTERM is a leave, so that default would make every plain
restart either refuse or run alone. Rejected: only refusing to start alone, without remembering
(the operator would have to keep every node's `--join` list right by hand, which is the mistake that
got us here). Rejected: remembering members inside the LMDB environment (a metadata rebuild would
lose them exactly when the node must rejoin to refill). Rejected: writing only the table (a node
would forget every member the first answer did not know, the moment it joined). Rejected: putting the
remembered members into the membership table at start, as DOWN records of their old lives, so that
the periodic sync to a dead member finds them (Serf's reconnect): a starting node would count the
whole cluster DOWN, then OUT, and plan repair around members it merely had not heard from yet.

Layer: above node/gossip (member records, the table) and node/store (the file); the daemon wires it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Sequence

from node.gossip import JoinUnanswered, MemberInfo, MemberState
from node.store import (MEMBERS_FILE_NAME, MembersSnapshot, RememberedMember, StoreError,
                        write_members_file)
from node.store.members_file import MEMBERS_FILE_ENTRIES_MAX

log = logging.getLogger("ringstore.rejoin")

# Order in which remembered members are tried: most likely to answer first. DOWN may be a restart
# in progress, LEFT usually is one (every SIGTERM is a leave), OUT was dead for repair_after_down_s.
_STATE_ORDER = {"ALIVE": 0, "SUSPECT": 1, "DOWN": 2, "LEFT": 3, "OUT": 4}
# Members named in the refusal line; the rest are counted.
NAMED_IN_ERROR_MAX = 5
# The flag that lets a node run alone when nobody answers (documented in docs/operations.md).
ALLOW_ALONE_FLAG = "--allow-alone"


def members_file_path(data_dir: str) -> str:
    return os.path.join(data_dir, MEMBERS_FILE_NAME)


class RefusedToRunAlone(Exception):
    """The node was a member of a cluster, reached none of it, and was not told it may run alone.
    The message is the one line noded prints (exit 4)."""


@dataclasses.dataclass(frozen=True)
class JoinPlan:
    """Whom a starting node tries to join through, and what it remembered."""

    # --join addresses other than this node's own, in the order given.
    given: tuple[str, ...]
    # Members from the members file other than this node, in the order tried.
    remembered: tuple[RememberedMember, ...]

    @property
    def addresses(self) -> list[str]:
        """Every candidate address once: --join first, then the remembered members."""
        seen: dict[str, None] = dict.fromkeys(self.given)
        for member in self.remembered:
            seen.setdefault(member.address, None)
        return list(seen)

    @property
    def must_rejoin(self) -> bool:
        """It remembers a member that did not leave: running alone would split the cluster."""
        return any(m.state != MemberState.LEFT.name for m in self.remembered)

    def unreached(self, table: Sequence[MemberInfo]) -> list[str]:
        """Addresses of the remembered members `table` (after the join) does not hold as live."""
        live = {m.node_id for m in table if m.state.live}
        return list(dict.fromkeys(m.address for m in self.remembered if m.node_id not in live))


def plan_join(join_addresses: Sequence[str], snapshot: MembersSnapshot | None, *, node_id: str,
              address: str) -> JoinPlan:
    """The join candidates of a node with id `node_id` whose peer address is `address`."""
    given = tuple(dict.fromkeys(a for a in join_addresses if a != address))
    remembered: tuple[RememberedMember, ...] = ()
    if snapshot is not None:
        others = [m for m in snapshot.members if m.node_id != node_id and m.address != address]
        remembered = tuple(sorted(others, key=lambda m: (_STATE_ORDER.get(m.state, len(_STATE_ORDER)), m.node_id)))
    return JoinPlan(given=given, remembered=remembered)


def after_no_answer(plan: JoinPlan, error: JoinUnanswered, *, allow_alone: bool, deadline_s: float,
                    members_path: str) -> str:
    """No candidate answered the join within `deadline_s`. Returns the warning to log before running
    as a cluster of one; raises RefusedToRunAlone, or `error` itself when only --join addresses
    failed (module docstring)."""
    if allow_alone:
        return (f"no join candidate answered within {deadline_s:.0f} s (last: {error.last_reason}); running as a "
                f"cluster of one ({ALLOW_ALONE_FLAG}): {members_path} will list only the members that join it")
    if plan.must_rejoin:
        also = f" nor --join {', '.join(plan.given)}" if plan.given else ""
        raise RefusedToRunAlone(
            f"this node was a member of a cluster, and none of the {len(plan.remembered)} members it remembers"
            f"{also} answered within {deadline_s:.0f} s ({_describe(plan.remembered)}; last: {error.last_reason}); "
            f"it will not run as a cluster of one: start one of them first, or give --join ADDR of a live member, "
            f"or pass {ALLOW_ALONE_FLAG} to start a cluster of one from this data dir on purpose "
            f"({members_path} lists the members it remembers)")
    if plan.given:
        raise error
    return (f"every member this node remembers had LEFT ({_describe(plan.remembered)}) and none answered within "
            f"{deadline_s:.0f} s: running as a cluster of one, as the last member to stop; the others rejoin "
            "through it")


def _describe(members: Sequence[RememberedMember]) -> str:
    named = ", ".join(f"{m.node_id} at {m.address} {m.state}" for m in members[:NAMED_IN_ERROR_MAX])
    more = len(members) - NAMED_IN_ERROR_MAX
    return named + (f" and {more} more" if more > 0 else "")


class MembersRecorder:
    """Keeps the members file in step with the membership table (module docstring).

    `on_change` is a membership listener that marks the file stale and sets `changed`, which the
    daemon's loop waits on; `step(now_s)` writes the file when it is stale and the last write is at
    least `interval_s` old, and returns how long the loop may sleep. So the first change after a quiet
    spell is written at once, and a burst of changes costs one write per interval. Nothing is
    written before `start`, so a node that refuses to start, or stops during its join, leaves the
    file it started with as it was. `remembered` (the file read at start) is carried into each write
    for every member the table has no record of yet, until `forget_unreached`."""

    def __init__(self, *, path: str, node_id: str, generation: int, members: Callable[[], Sequence[MemberInfo]],
                 wall_ms: Callable[[], int], interval_s: float,
                 remembered: Sequence[RememberedMember] = ()) -> None:
        self._path = path
        self._node_id = node_id
        self._generation = generation
        self._members = members
        self._wall_ms = wall_ms
        self._interval_s = interval_s
        self._lock = threading.Lock()
        # Remembered members the table has not heard of (yet), by node id.
        self._carried = {m.node_id: m for m in remembered if m.node_id != node_id}
        self._started = False
        self._stale = False
        # When the last write was made or tried (a failed write is retried an interval later).
        self._saved_at_s: float | None = None
        # (node id, address, state) of every member in the last write: a write that would not change
        # any of them is skipped.
        self._saved_view: tuple[tuple[str, str, str], ...] | None = None
        # Set by every change that matters; the daemon's loop waits on it.
        self.changed = threading.Event()
        # Writes made, and writes that failed (each logged).
        self.writes_total = 0
        self.write_failures_total = 0

    def on_change(self, old: MemberInfo | None, new: MemberInfo) -> None:
        if new.node_id == self._node_id:
            return
        if old is None or old.state != new.state or old.address != new.address:
            self._stale = True
            self.changed.set()

    def forget_unreached(self) -> None:
        """Stop carrying remembered members the table has not heard of (`--allow-alone` ran alone)."""
        with self._lock:
            if self._carried:
                self._carried.clear()
                self._stale = True

    def start(self, now_s: float) -> None:
        """The join is decided: from now on the file follows the table. Writes it at once."""
        with self._lock:
            self._started = True
            self._write_locked(now_s)

    def step(self, now_s: float) -> float:
        """One write if one is due; returns the seconds until a stale file may be written, or
        `interval_s` when there is nothing to write."""
        with self._lock:
            self.changed.clear()
            if not self._started or not self._stale:
                return self._interval_s
            if self._saved_at_s is not None and now_s - self._saved_at_s < self._interval_s:
                return self._interval_s - (now_s - self._saved_at_s)
            self._write_locked(now_s)
            return self._interval_s

    def flush(self, now_s: float) -> None:
        """Write now whatever changed since the last write (the node is stopping)."""
        with self._lock:
            if self._started and self._stale:
                self._write_locked(now_s)

    def _write_locked(self, now_s: float) -> None:
        self._stale = False
        known: list[RememberedMember] = []
        for m in self._members():
            if m.node_id == self._node_id:
                continue
            self._carried.pop(m.node_id, None)   # the table never drops a member again
            try:
                known.append(RememberedMember(node_id=m.node_id, address=m.address, state=m.state.name,
                                              generation=m.generation, incarnation=m.incarnation))
            except StoreError as err:   # an address no join could dial (not HOST:PORT): nothing to keep
                log.warning("not remembering %s: %s", m.node_id, err)
        room = MEMBERS_FILE_ENTRIES_MAX - len(known)
        carried = sorted(self._carried.values(), key=lambda m: m.node_id)[:max(room, 0)]
        members = sorted([*known, *carried], key=lambda m: m.node_id)
        view = tuple((m.node_id, m.address, m.state) for m in members)
        if view == self._saved_view:
            return
        try:
            snapshot = MembersSnapshot(node_id=self._node_id, generation=self._generation,
                                       saved_at_unix_ms=self._wall_ms(), members=tuple(members))
            write_members_file(self._path, snapshot)
        except (OSError, StoreError) as err:
            self._stale = True   # try again an interval later
            self._saved_at_s = now_s
            self.write_failures_total += 1
            log.error("cannot write %s (%s): a restart now would rejoin through the members written last",
                      self._path, err)
            return
        self._saved_at_s = now_s
        self._saved_view = view
        self.writes_total += 1
