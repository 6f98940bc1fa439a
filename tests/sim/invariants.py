"""Invariants of membership, checked after every event of the simulation, incrementally.

Design. The engine hands the checker every change a `Membership` listener reported during one event
(observer, old record, new record), plus the faults it applied. The checker keeps, for the whole
cluster, just enough derived state that each check costs O(1) per change, and a few O(N) updates per
fault, so N = 1000 stays affordable:

- own-record: nobody holds a record about node X newer than X's own, in X's generation (a higher
  incarnation can only come from X itself) or in a generation X never had.
- ring-members: each observer's ring member set, kept incrementally from its change events by the
  daemon's ring rule (`node.gossip.ring_members.ring_member`, one record at a time), equals what the
  daemon derives from the whole table (`ring_members(membership.members())`, as
  `ClusterState.rebuild` calls it). Compared as an order-free fingerprint (count, sum of 64-bit
  hashes), recomputed in full only for observers whose ring membership changed in the event.
- majority-down: a node that is live (running, not paused, on the majority side of any partition) is
  never held DOWN or OUT by a majority of running nodes for longer than
  `MAJORITY_DOWN_INTERVALS_MAX` heartbeat intervals after its last fault (plus one
  `state_sync_interval_s` after a partition heals: the sides only meet again through the periodic
  sync to a dead member).
- DOWN verdicts (an observer's own suspicion of a node turning DOWN in its step) are counted, and counted as
  false when the accused node was live and reachable from its accuser during the whole window the
  evidence was gathered in. A false verdict is a figure of the run, not a violation: the tests
  assert there are none without faults and at 1 % loss.

The same state answers the questions scenarios wait on in O(1): has every running node seen X the
way X really is (`agreement`), do all running nodes derive the same ring (`ring_agreed`), when did
the first observer see X DOWN.

Nothing here iterates a set in an order that could reach the event heap or the rng: sets answer
membership and size only, so a run does not depend on PYTHONHASHSEED.

Rejected: recomputing every observer's view of every node after each event. It is the obvious
checker and the right one for a handful of nodes, but it is O(N^2) per event, about 10^10 table
reads for one N = 1000 run.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
from typing import TYPE_CHECKING

from node.gossip import MemberInfo, MemberState
from node.gossip.ring_members import ring_member, ring_members
from node.ring import RingMember

if TYPE_CHECKING:
    from .engine import Proc, Sim

ALIVE, SUSPECT, DOWN, OUT, LEFT = (MemberState.ALIVE, MemberState.SUSPECT, MemberState.DOWN, MemberState.OUT,
                                   MemberState.LEFT)
_DEAD_STATES = (DOWN, OUT)
# A live node held DOWN by a majority must have refuted within this many heartbeat intervals of its
# last fault: it hears its DOWN record in its next heartbeat reply and its refutation spreads by
# gossip in a few rounds, so 10 leaves room for loss without hiding a node that cannot refute.
MAJORITY_DOWN_INTERVALS_MAX = 10
# False verdicts remembered for the report (each one is also counted).
FALSE_VERDICTS_LISTED_MAX = 20
_HASH_MASK = (1 << 64) - 1
_NEVER_US = 1 << 62


class SimViolation(AssertionError):
    """An invariant failed, or a run did not reach a state in time; the message ends with
    `reproduce with --seed N ...`."""


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A false DOWN verdict: `accuser`'s own probe declared the live, reachable `accused` DOWN."""

    time_s: float
    accuser: str
    accused: str


class Checker:
    """Derived cluster state and the invariants over it; see the module docstring."""

    def __init__(self, sim: Sim) -> None:
        self._sim = sim
        gossip = sim.config.gossip
        self._weight_unit_bytes = sim.config.ring.weight_unit_bytes
        hb_us = round(gossip.heartbeat_interval_s * 1e6)
        self._majority_allowance_us = MAJORITY_DOWN_INTERVALS_MAX * hb_us
        self._heal_allowance_us = round(gossip.state_sync_interval_s * 1e6)
        self._evidence_us = round((gossip.down_after_s + gossip.indirect_probe_timeout_s
                                   + gossip.heartbeat_interval_s) * 1e6)
        # node -> (generation, "alive" | "dead" | "left"): what a converged view says about it.
        self._truth: dict[str, tuple[int, str]] = {}
        # node -> running observers whose view of it disagrees with the truth.
        self._wrong: dict[str, set[str]] = {}
        self.wrong_total = 0
        # observer -> (members, sum of member hashes) of its ring member set, kept incrementally.
        self._ring_print: dict[str, tuple[int, int]] = {}
        self._ring_prints = collections.Counter()
        self._member_hash: dict[RingMember, int] = {}
        # node -> running observers holding it DOWN or OUT in its current generation.
        self._down_by: dict[str, set[str]] = {}
        self._majority_since_us: dict[str, int] = {}
        self._next_deadline_us = _NEVER_US
        self._fault_us: dict[str, int] = {}
        self._network_change_us = 0
        self._heal_us = -_NEVER_US
        self._majority_group: int | None = 0
        self._first_seen_us: dict[tuple[str, int, MemberState], int] = {}
        self.verdicts = 0
        self.false_verdicts = 0
        self.false_verdicts_listed: list[Verdict] = []
        self.majority_down_max_us = 0

    # ---- questions scenarios ask -------------------------------------------------------------

    def agreement(self, node_id: str | None = None) -> bool:
        """Every running node sees `node_id` (every node, when None) as it really is: ALIVE in its
        current generation while it runs, DOWN or OUT once killed, LEFT once it left."""
        if node_id is None:
            return self.wrong_total == 0
        return not self._wrong.get(node_id)

    def ring_agreed(self) -> bool:
        """Every running node derives the same ring member set."""
        return len(self._ring_prints) == 1

    def down_by(self, node_id: str) -> set[str]:
        """Running nodes holding `node_id` DOWN or OUT in its current generation (do not modify)."""
        return self._down_by.get(node_id, set())

    def first_seen_s(self, node_id: str, generation: int, state: MemberState) -> float | None:
        """When any node first held `node_id` in `state` in that generation; None if never."""
        at_us = self._first_seen_us.get((node_id, generation, state))
        return None if at_us is None else at_us / 1e6

    # ---- faults ------------------------------------------------------------------------------

    def on_start(self, proc: Proc) -> None:
        """A process started (fresh node, or a restart in a new generation)."""
        sim = self._sim
        me = proc.membership.me()
        node_id = me.node_id
        self._fault_us[node_id] = sim.now_us
        self._down_by[node_id] = set()
        self._majority_since_us.pop(node_id, None)
        self._truth[node_id] = (me.generation, "alive")
        self._recheck_subject(node_id)
        # The newcomer knows only itself, so it is wrong about everyone else until it learns.
        wrong_total = 0
        for subject, wrong in self._wrong.items():
            if subject != node_id and node_id not in wrong:
                wrong.add(node_id)
                wrong_total += 1
        self.wrong_total += wrong_total
        member = ring_member(me, self._weight_unit_bytes)
        self._set_ring_print(node_id, (1, self._hash(member)) if member else (0, 0))
        self._network_changed()

    def on_kill(self, proc: Proc, last: MemberInfo) -> None:
        """A process stopped for good (its node may start again later, in a new generation)."""
        node_id = proc.node_id
        self._fault_us[node_id] = self._sim.now_us
        self._truth[node_id] = (last.generation, "left" if last.state == LEFT else "dead")
        for subject, wrong in self._wrong.items():
            if node_id in wrong:
                wrong.discard(node_id)
                self.wrong_total -= 1
        self._recheck_subject(node_id)
        for holders in self._down_by.values():
            holders.discard(node_id)
        self._set_ring_print(node_id, None)
        self._network_changed()
        for subject in list(self._down_by):
            self._update_majority(subject)

    def on_left(self, node_id: str) -> None:
        """A running node announced LEFT: a converged view now says LEFT about it."""
        generation, _ = self._truth[node_id]
        self._truth[node_id] = (generation, "left")
        self._fault_us[node_id] = self._sim.now_us
        self._recheck_subject(node_id)
        self._reschedule_deadlines()

    def on_fault(self, node_id: str) -> None:
        """A node was paused or resumed: its liveness changed, its silence is excused for a while."""
        self._fault_us[node_id] = self._sim.now_us
        self._reschedule_deadlines()

    def on_network_change(self, healed: bool) -> None:
        self._network_change_us = self._sim.now_us
        if healed:
            self._heal_us = self._sim.now_us
        self._network_changed()

    # ---- after every event ---------------------------------------------------------------------

    def after_event(self, changes: list[tuple[Proc, MemberInfo | None, MemberInfo]],
                    stepper: str | None) -> None:
        """Check the changes one event made; `stepper` is the node whose step the event was (a
        SUSPECT turning DOWN in its own step is its verdict)."""
        sim = self._sim
        now_us = sim.now_us
        dirty: dict[str, Proc] = {}
        subjects: dict[str, None] = {}
        for proc, old, new in changes:
            observer, subject = proc.node_id, new.node_id
            sim.trace_change(observer, new)
            old_member = ring_member(old, self._weight_unit_bytes) if old is not None else None
            new_member = ring_member(new, self._weight_unit_bytes)
            if old_member != new_member:
                count, total = self._ring_print[observer]
                if old_member is not None:
                    count, total = count - 1, total - self._hash(old_member)
                if new_member is not None:
                    count, total = count + 1, total + self._hash(new_member)
                self._set_ring_print(observer, (count, total & _HASH_MASK))
                dirty[observer] = proc
            if subject == observer:
                continue
            self._check_own_record(observer, new)
            self._set_view(subject, observer, self._expected(subject, new))
            generation = self._truth[subject][0]
            key = (subject, new.generation, new.state)
            if key not in self._first_seen_us:
                self._first_seen_us[key] = now_us
            down = new.state in _DEAD_STATES and new.generation == generation
            holders = self._down_by[subject]
            if down != (observer in holders):
                if down:
                    holders.add(observer)
                else:
                    holders.discard(observer)
                subjects[subject] = None
            if (stepper == observer and old is not None and old.state in (ALIVE, SUSPECT)
                    and new.state == DOWN):
                self._verdict(observer, subject)
        for observer, proc in dirty.items():
            self._check_ring_members(proc)
        for subject in subjects:
            self._update_majority(subject)
        self.tick()

    def tick(self) -> None:
        """The majority-down deadline; O(1) unless a deadline has passed."""
        if self._sim.now_us < self._next_deadline_us:
            return
        for node_id in self._majority_since_us:
            deadline_us = self._deadline_us(node_id)
            if self._sim.now_us > deadline_us:
                since_s = self._majority_since_us[node_id] / 1e6
                raise self._sim.violation(
                    "majority-down",
                    f"{node_id} is live and reachable but {len(self._down_by[node_id])} of "
                    f"{len(self._sim.procs)} running nodes have held it DOWN since t={since_s:.3f} s, "
                    f"past its deadline t={deadline_us / 1e6:.3f} s")
        self._reschedule_deadlines()

    def finish(self) -> None:
        """Close the books at the end of a run (majority-DOWN spells still open are measured)."""
        for node_id in self._majority_since_us:
            self._close_majority(node_id)

    # ---- internals -----------------------------------------------------------------------------

    def _hash(self, member: RingMember) -> int:
        value = self._member_hash.get(member)
        if value is None:
            text = f"{member.node_id}\0{member.zone}\0{member.weight!r}".encode()
            value = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
            self._member_hash[member] = value
        return value

    def _set_ring_print(self, observer: str, fingerprint: tuple[int, int] | None) -> None:
        """Set (None: forget) an observer's ring fingerprint, keeping the count per fingerprint."""
        prints = self._ring_prints
        old = self._ring_print.pop(observer, None)
        if old is not None:
            prints[old] -= 1
            if not prints[old]:
                del prints[old]
        if fingerprint is not None:
            self._ring_print[observer] = fingerprint
            prints[fingerprint] += 1

    def _check_ring_members(self, proc: Proc) -> None:
        members = ring_members(proc.membership.members(), self._weight_unit_bytes)
        total = sum(self._hash(m) for m in members) & _HASH_MASK
        if (len(members), total) != self._ring_print[proc.node_id]:
            raise self._sim.violation(
                "ring-members",
                f"{proc.node_id} derives {len(members)} ring members from its table, but its change "
                f"events add up to {self._ring_print[proc.node_id][0]}")

    def _check_own_record(self, observer: str, seen: MemberInfo) -> None:
        own = self._sim.own_record(seen.node_id)
        if own is None:
            raise self._sim.violation("own-record", f"{observer} holds a record about "
                                      f"{seen.node_id}, which never ran")
        if (seen.generation, seen.incarnation) > (own.generation, own.incarnation):
            raise self._sim.violation(
                "own-record",
                f"{observer} holds {seen.node_id} at generation {seen.generation} incarnation "
                f"{seen.incarnation} ({seen.state.name}), newer than the node's own record "
                f"(generation {own.generation} incarnation {own.incarnation})")

    def _expected(self, subject: str, seen: MemberInfo | None) -> bool:
        generation, mode = self._truth[subject]
        if seen is None or seen.generation != generation:
            return False
        if mode == "alive":
            return seen.state in (ALIVE, SUSPECT)
        if mode == "dead":
            return seen.state in _DEAD_STATES
        return seen.state == LEFT

    def _set_view(self, subject: str, observer: str, ok: bool) -> None:
        wrong = self._wrong[subject]
        if ok:
            if observer in wrong:
                wrong.discard(observer)
                self.wrong_total -= 1
        elif observer not in wrong:
            wrong.add(observer)
            self.wrong_total += 1

    def _recheck_subject(self, subject: str) -> None:
        """Recompute every running node's view of `subject` (its truth changed): O(N)."""
        wrong = self._wrong.setdefault(subject, set())
        self.wrong_total -= len(wrong)
        wrong.clear()
        for observer, proc in self._sim.procs.items():
            if observer != subject and not self._expected(subject, proc.membership.get(subject)):
                wrong.add(observer)
        self.wrong_total += len(wrong)

    def _verdict(self, accuser: str, accused: str) -> None:
        sim = self._sim
        self.verdicts += 1
        proc = sim.procs.get(accused)
        quiet_since_us = max(self._fault_us.get(accused, 0), self._network_change_us)
        false = (proc is not None and not proc.paused
                 and sim.network.reachable(accuser, accused)
                 and sim.network.reachable(accused, accuser)
                 and sim.now_us - quiet_since_us >= self._evidence_us)
        if false:
            self.false_verdicts += 1
            if len(self.false_verdicts_listed) < FALSE_VERDICTS_LISTED_MAX:
                self.false_verdicts_listed.append(Verdict(sim.now_us / 1e6, accuser, accused))

    def _network_changed(self) -> None:
        """Recompute which partition group holds a majority of the running nodes."""
        sim = self._sim
        sizes: collections.Counter[int] = collections.Counter(
            sim.network.group_of(node_id) for node_id in sim.procs)
        running = len(sim.procs)
        self._majority_group = next((g for g, n in sizes.items() if 2 * n > running), None)
        self._reschedule_deadlines()

    def _live_in_majority(self, node_id: str) -> bool:
        proc = self._sim.procs.get(node_id)
        return (proc is not None and not proc.paused
                and self._sim.network.group_of(node_id) == self._majority_group)

    def _update_majority(self, subject: str) -> None:
        held = 2 * len(self._down_by[subject]) > len(self._sim.procs)
        if held and subject not in self._majority_since_us:
            self._majority_since_us[subject] = self._sim.now_us
            self._reschedule_deadlines()
        elif not held and subject in self._majority_since_us:
            self._close_majority(subject)
            del self._majority_since_us[subject]
            self._reschedule_deadlines()

    def _close_majority(self, subject: str) -> None:
        if self._live_in_majority(subject):
            start_us = max(self._majority_since_us[subject], self._fault_us.get(subject, 0),
                           self._network_change_us)
            self.majority_down_max_us = max(self.majority_down_max_us, self._sim.now_us - start_us)

    def _deadline_us(self, node_id: str) -> int:
        if not self._live_in_majority(node_id):
            return _NEVER_US
        start_us = max(self._majority_since_us[node_id], self._fault_us.get(node_id, 0),
                       self._network_change_us)
        return max(start_us, self._heal_us + self._heal_allowance_us) + self._majority_allowance_us

    def _reschedule_deadlines(self) -> None:
        self._next_deadline_us = min((self._deadline_us(n) for n in self._majority_since_us),
                                     default=_NEVER_US)
