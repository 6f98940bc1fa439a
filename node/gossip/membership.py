"""The membership state machine: the table of members, how records spread, and DOWN verdicts.

Design. `Membership` is a step function with no threads and no I/O. `step()` looks at the clock
and returns the messages this node should send now (`Outgoing`); the `on_*` methods take what
peers sent and return what to answer. A driver (`driver.py`) moves the messages over a Transport;
a test or the simulation moves them by calling the target's `on_*` directly, under a manual
clock, and asserts exact virtual times.

The table holds one record per node (see `member.py` for which record wins). Every applied
change is queued for gossip (`broadcast.py`), so news spreads on three paths: piggybacked on
heartbeats and their replies, pushed to `gossip_fanout` random live peers every
`gossip_interval_s` while fresh, and a push-pull state sync with one random live peer every
`state_sync_interval_s` that repairs whatever gossip missed. The same sync also goes to one
random DOWN or OUT member: nothing else is ever sent to a node believed dead, so without it the
two sides of a healed network partition would never hear from each other again (Serf's
"reconnect"). It costs one failing RPC per interval while dead members are remembered.

State sync by digest. A sync sends the table's digest (`digest.py`: `state_sync_buckets` bucket
hashes, kept as records change), not the table. The peer answers with the buckets whose hashes
differ and its records in them (`on_sync_digest`); this node applies those and pushes back, as a
gossip message, its own records there that the peer lacks or holds older
(`on_sync_digest_reply`). Both sides then hold the greater of each record, as after a whole-table
exchange, and a converged pair has exchanged one fixed-size digest and no records, so idle sync
traffic no longer grows with N. Rolling upgrade: a node from before the digest answers the digest
call with UNIMPLEMENTED; `on_sync_digest_unsupported` remembers that for the peer's generation and
returns the whole-table sync to send it instead, and every sync to it stays whole until its record
shows a new generation (the upgrade restarted it). The whole-table call (`on_sync`) is still
answered, for the old nodes' own syncs, so a mixed cluster converges both ways. Rejected: learning
a peer's version from a field in its records. It costs a field for a one-time transition, and an
UNIMPLEMENTED answer says the same for one extra call per old peer and generation.

Failure detection. Every `heartbeat_interval_s` a node heartbeats its watchers
(`watchers.py`: its successors among live node ids). Each node tracks the nodes it watches
(`detector.py`); one silent longer than `down_after_s` gets one indirect probe (`Outgoing` of
kind "indirect_probe", with `indirect_probe_count` live helpers, recently reached ones first); if
the probe fails the watcher marks it SUSPECT, keeping its generation and incarnation, and
broadcasts that; an unrefuted suspicion turns DOWN (below). Only
the node itself can undo a verdict, by bumping its incarnation (refutation); a restarted process
has a new generation, which beats anything said about its previous life. A node DOWN for
`repair_after_down_s` (as seen here) becomes OUT; OUT and LEFT nodes stay in the table (so a stale
ALIVE record cannot resurrect them) but leave the ring.

Lifeguard. If `step()` runs late by more than `lateness_tolerance_intervals *
heartbeat_interval_s` (the expected cadence is one step per `gossip_interval_s`), the node was
starved (CPU, GC, a stopped VM): it holds back verdicts for that step and pushes every watched
node's deadline back by the lateness, so its own stall is not counted as their silence.

Local health (Lifeguard's local health multiplier). A late step only catches stalls longer than
the tolerance; a node starved in many short slices, as every node is when a machine is
overloaded, heartbeats late, hears others late and accuses healthy peers, and every false DOWN
costs the cluster a ring change and more work, which starves it further: 30 nodes started at once
on two cores never settled. So each node keeps a health score, 0 (healthy) to `health_max`,
raised by one for each sign that it is itself the slow one:
- a step ran late (as above);
- it had to refute a DOWN or OUT about itself (others could not hear it);
- the target of a DOWN verdict of its own refuted it in the same generation within two of its
  (scaled) silence thresholds: the verdict was false, and the target was only slow. A refutation
  that comes later follows a real outage (a partition healing, a resumed SIGSTOP) and says
  nothing about this node.
Its silence threshold, probe wait and indirect probe timeout are multiplied by 1 + health, and
the score falls by one after each calm `heartbeat_interval_s * (1 + health)` with no raise (from
the top, 35 intervals back to 0, as long as memberlist's recovery at one probe a second). An
overloaded cluster therefore slows its own accusations until they stop being false, and a
healthy node keeps the configured timers. Only the node's own judgments stretch: nothing it tells
others changes, so a sick node cannot slow detection elsewhere. Unlike memberlist the score does
not fall on each good probe (there is no periodic probe here) but with time.

Rejected: raising the score for each probe helper that gave no answer (memberlist's missed
nacks). Under a partition the helpers across it are silent too, and the minority side, having
raised its timeouts to the maximum, took more than 30 heartbeat intervals to see the majority
DOWN in the simulation (N=100); the signals above already cover a starved node.

Threads. The driver calls `on_*` from gRPC threads and `step()` from its own; one lock guards all
state and nothing inside it blocks. Listeners are called after the lock is released, in the
order the changes were applied: changes go into a queue under the lock, and whichever caller
finds the notification slot free delivers everything queued (a listener may call back into
`Membership`; its own changes are delivered after it returns).

Suspicion (`suspicion.py`). A failed indirect probe makes the target SUSPECT, not DOWN: it stays a
live ring member and learns of the accusation by gossip, and refutes. Only an accuser turns a
suspicion DOWN, once it outlived a timeout that shrinks with confirmations from other accusers and
only while the suspect has not answered the accuser directly. An earlier version rejected this
state (the indirect probe seemed enough against one bad link); a node cut off from half its peers
proved otherwise: it picked its helpers on the far side and its DOWN verdicts about healthy nodes
spread to nodes that could reach them. Probe helpers are now also chosen first among nodes this
node recently had direct contact with (`heard_from`).

Rejected: all-to-all heartbeats. Simple, but traffic grows with N^2; watchers keep it flat.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import logging
import random
import threading
from collections.abc import Callable, Sequence

from node.config import GossipConfig
from node.gossip.broadcast import BroadcastQueue
from node.gossip.clock import Clock
from node.gossip.detector import Detector
from node.gossip.digest import InvalidDigest, bucket_hashes, bucket_of, check_bucket_count, differing
from node.gossip.member import InvalidMember, MemberInfo, MemberState, supersedes
from node.gossip.ring_members import in_ring
from node.gossip.suspicion import Suspicion
from node.gossip.table import MemberTable
from node.gossip.watchers import watched_in_sorted, watchers_in_sorted

log = logging.getLogger("ringstore.gossip")

# Most members one table holds; records about further unknown nodes are dropped (with a warning).
# Also the most records accepted in one message (a sync carries the whole table).
MEMBERS_MAX = 4096
# The broadcast queue holds max(BROADCAST_QUEUE_MIN, BROADCAST_QUEUE_PER_MEMBER * members).
BROADCAST_QUEUE_MIN = 64
BROADCAST_QUEUE_PER_MEMBER = 4
# Most listeners; they are a handful of wiring callbacks (ring rebuild, metrics), never per-request.
LISTENERS_MAX = 16
# Passes one caller makes over the notification queue; changes queued after its last pass are
# delivered by the next caller, never lost.
NOTIFY_PASSES_MAX = 64
# Timers fire when within half a step of due, so a step that wakes a hair early does not slip a
# whole gossip interval.
_DUE_SLACK_FRACTION = 0.5

Listener = Callable[[MemberInfo | None, MemberInfo], None]

_CHANGEABLE_FIELDS = frozenset({"address", "zone", "capacity_bytes", "free_bytes", "metrics_port",
                                "draining", "maintenance_until_unix_ms", "disk_full",
                                "metadata_health", "tls_not_after_unix_ms"})


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """One message `step()` wants sent; the driver (or a test network) delivers it."""

    kind: str                 # "heartbeat" | "gossip" | "sync" | "sync_digest" | "indirect_probe"
    target_node_id: str
    target_address: str
    updates: tuple[MemberInfo, ...] = ()    # heartbeat/gossip payload; sync: the whole table
    helpers: tuple[tuple[str, str], ...] = ()   # indirect_probe: (node_id, address) of helpers
    timeout_s: float = 0.0                      # indirect_probe: the whole budget (health-scaled)
    bucket_hashes: tuple[int, ...] = ()         # sync_digest: my table digest


OUTGOING_KINDS = ("heartbeat", "gossip", "sync", "sync_digest", "indirect_probe")


class Membership:
    """This node's view of the cluster; see the module docstring."""

    def __init__(self, *, config: GossipConfig, me: MemberInfo, clock: Clock,
                 rng: random.Random) -> None:
        if me.state != MemberState.ALIVE:
            raise InvalidMember(f"a node starts ALIVE, not {me.state.name} ({me.node_id})")
        self._config = config
        self._clock = clock
        self._rng = rng
        self.node_id = me.node_id
        self._lock = threading.Lock()
        now_s = clock.monotonic_s()
        self._table = MemberTable(config.state_sync_buckets)
        self._table.add(me, now_s)
        self._broadcasts = BroadcastQueue(retransmit_max=config.gossip_retransmit_max,
                                          size_max=BROADCAST_QUEUE_MIN)
        self._broadcasts.push(me)
        self._detector = Detector(down_after_s=config.down_after_s,
                                  probe_wait_s_max=config.down_after_s)
        self._listeners: list[Listener] = []
        self._pending_events: collections.deque[tuple[MemberInfo | None, MemberInfo]] = (
            collections.deque())
        self._notify_slot = threading.Lock()
        self._slack_s = config.gossip_interval_s * _DUE_SLACK_FRACTION
        self._last_step_s: float | None = None
        self._next_heartbeat_s = now_s
        self._next_gossip_s = now_s
        # Spread first syncs over one interval so nodes started together do not sync in lockstep.
        self._next_sync_s = now_s + config.state_sync_interval_s * rng.random()
        self._health = 0
        self._health_changed_s = now_s
        # node -> ((generation, incarnation), when) of a DOWN verdict this node made and has not
        # seen refuted or superseded yet.
        self._my_verdicts: dict[str, tuple[tuple[int, int], float]] = {}
        # node -> the suspicion about its current SUSPECT record (suspicion.py).
        self._suspicions: dict[str, Suspicion] = {}
        # Joiner -> (generation, state) of the record of its earlier life held when it last joined
        # through me ((0, None): none).
        self._joined_before: dict[str, tuple[int, MemberState | None]] = {}
        # node -> (generation, state) of the record its current generation replaced in my table,
        # however that generation reached me (a join, gossip, a sync).
        self._lives_replaced: dict[str, tuple[int, MemberState | None]] = {}
        # OUT or LEFT verdicts about me (this generation) I refuted: the cluster counted me gone.
        self._gone_verdicts = 0
        # My accusations (SUSPECT records naming me) not yet pushed to the suspect's other watchers.
        self._accusations_to_push: list[MemberInfo] = []
        # node -> when this node last had direct contact with it (a heartbeat from it, an answer
        # from it): helpers are chosen among these first, and a suspicion never turns DOWN here
        # while contact is fresh.
        self._last_contact_s: dict[str, float] = {}
        # node -> its generation when it answered my digest sync with UNIMPLEMENTED (it predates
        # digest sync): it gets whole-table syncs until its record shows another generation. At
        # most one entry per member.
        self._digest_unsupported: dict[str, int] = {}

    # ---- reading ---------------------------------------------------------------------------

    def me(self) -> MemberInfo:
        with self._lock:
            return self._table[self.node_id].info

    def members(self) -> list[MemberInfo]:
        """Every known member, me included, sorted by node id."""
        with self._lock:
            return list(self._table.infos())

    def get(self, node_id: str) -> MemberInfo | None:
        with self._lock:
            entry = self._table.get(node_id)
            return entry.info if entry is not None else None

    def state_age_s(self, node_id: str) -> float:
        """Seconds since this node saw `node_id`'s state change (or first learned of it)."""
        with self._lock:
            entry = self._table.get(node_id)
            if entry is None:
                raise KeyError(f"unknown member {node_id!r}")
            return self._clock.monotonic_s() - entry.state_since_s

    def ring_members(self) -> list[MemberInfo]:
        """The records that make the ring (`ring_members.in_ring`: ALIVE, SUSPECT and DOWN, not
        draining), sorted by node id."""
        return [m for m in self.members() if in_ring(m)]

    def is_live(self, node_id: str) -> bool:
        """ALIVE or SUSPECT: traffic goes to it (a suspicion is not acted on)."""
        with self._lock:
            entry = self._table.get(node_id)
            return entry is not None and entry.info.state.live

    def heard_from(self, node_id: str) -> None:
        """Direct contact with `node_id` (it answered one of my calls): see _last_contact_s."""
        with self._lock:
            if node_id in self._table:
                self._last_contact_s[node_id] = self._clock.monotonic_s()

    def health(self) -> int:
        """The local health score, 0 (healthy) to health_max; timeouts are scaled by 1 + it."""
        with self._lock:
            return self._health

    def watched(self) -> list[str]:
        """The nodes this node currently watches (as of the last step)."""
        with self._lock:
            return self._detector.watched()

    def check(self) -> None:
        """Assert the table's incrementally kept views match a full scan (tests call it after
        every step; O(N log N))."""
        with self._lock:
            self._table.check()

    def add_listener(self, fn: Listener) -> None:
        """Call `fn(old, new)` after every applied change (old is None for a new member).

        Called without any lock held, in the order changes were applied, from whichever thread
        made or drained the change; must not block for long."""
        with self._lock:
            if len(self._listeners) >= LISTENERS_MAX:
                raise ValueError(f"at most {LISTENERS_MAX} membership listeners")
            self._listeners.append(fn)

    # ---- the step ----------------------------------------------------------------------------

    def step(self) -> list[Outgoing]:
        """One bounded unit of work at clock.monotonic_s(); see the module docstring."""
        config = self._config
        with self._lock:
            now_s = self._clock.monotonic_s()
            late_s = 0.0
            if self._last_step_s is not None:
                late_s = now_s - self._last_step_s - config.gossip_interval_s
            self._last_step_s = now_s
            late_max_s = config.lateness_tolerance_intervals * config.heartbeat_interval_s
            hold_verdicts = late_s > late_max_s

            me = self._table[self.node_id].info
            alive_ids = self._table.live   # the table's own sorted list: read, never modified
            live_count = len(alive_ids)
            running = me.state.live
            self._detector.set_watched(
                watched_in_sorted(self.node_id, alive_ids, config.monitor_count) if running else (),
                now_s)
            if hold_verdicts:
                self._detector.extend(late_s)
                log.warning("node=%s step ran %.3f s late; holding back verdicts this round",
                            self.node_id, late_s)
                self._raise_health_locked(now_s, 1, f"step ran {late_s:.3f} s late")
            else:
                self._recover_health_locked(now_s)

            out: list[Outgoing] = []
            heartbeat_due = running and self._due(now_s, self._next_heartbeat_s)
            gossip_due = len(self._broadcasts) > 0 and self._due(now_s, self._next_gossip_s)
            updates: tuple[MemberInfo, ...] = ()
            if heartbeat_due or gossip_due:
                updates = tuple(self._broadcasts.take(config.piggyback_updates_max))
            if heartbeat_due:
                self._next_heartbeat_s = now_s + config.heartbeat_interval_s
                for watcher_id in watchers_in_sorted(self.node_id, alive_ids, config.monitor_count):
                    out.append(self._outgoing_locked("heartbeat", watcher_id, updates=updates))
            if gossip_due and updates:
                self._next_gossip_s = now_s + config.gossip_interval_s
                for peer_id in self._random_live_peers_locked(config.gossip_fanout):
                    out.append(self._outgoing_locked("gossip", peer_id, updates=updates))
            if running and self._due(now_s, self._next_sync_s):
                self._next_sync_s = now_s + config.state_sync_interval_s
                for peer_id in self._random_live_peers_locked(1) + self._random_dead_locked(1):
                    out.append(self._sync_outgoing_locked(peer_id))
            events: list[tuple[MemberInfo | None, MemberInfo]] = []
            if running and not hold_verdicts:
                out.extend(self._probe_silent_locked(now_s, alive_ids))
                self._end_suspicions_locked(now_s, live_count, events)
            out.extend(self._push_accusations_locked(self._table.live))
            if not hold_verdicts:
                self._turn_out_locked(now_s, events)
            self._queue_events_locked(events)
        self._notify()
        return out

    def _due(self, now_s: float, due_s: float) -> bool:
        return now_s >= due_s - self._slack_s

    def _probe_silent_locked(self, now_s: float, alive_ids: list[str]) -> list[Outgoing]:
        out = []
        scale = 1 + self._health
        for node_id in self._detector.silent(now_s, scale):
            target = self._table[node_id].info
            assert target.state.live, f"watching {node_id} in {target.state.name}"
            suspicion = self._suspicions.get(node_id)
            if suspicion is not None and self.node_id in suspicion.accusers:
                continue   # already accused by me; the suspicion runs its course
            chosen = self._probe_helpers_locked(now_s, node_id, alive_ids)
            helpers = tuple((i, self._table[i].info.address) for i in chosen)
            self._detector.start_probe(node_id, now_s, (target.generation, target.incarnation))
            log.info("node=%s member=%s silent %.2f s; indirect probe via %s", self.node_id,
                     node_id, self._detector.silence_s(node_id, now_s),
                     ",".join(chosen) or "direct ping")
            out.append(self._outgoing_locked("indirect_probe", node_id, helpers=helpers,
                                             timeout_s=self._config.indirect_probe_timeout_s * scale))
        return out

    def _probe_helpers_locked(self, now_s: float, target_id: str, alive_ids: list[str]) -> list[str]:
        """`indirect_probe_count` helpers: first among live nodes this node had direct contact with
        in the last silence threshold (a helper we cannot reach tells us nothing; a node cut off
        from part of the cluster would otherwise pick helpers on the far side and accuse), then
        among the rest, each group in random order."""
        fresh_s = self._config.down_after_s * (1 + self._health)
        candidates = [i for i in alive_ids if i != self.node_id and i != target_id]
        reached = [i for i in candidates if now_s - self._last_contact_s.get(i, -float("inf")) <= fresh_s]
        reached_set = set(reached)
        others = [i for i in candidates if i not in reached_set]
        self._rng.shuffle(reached)
        self._rng.shuffle(others)
        return (reached + others)[:self._config.indirect_probe_count]

    def _push_accusations_locked(self, alive_ids: list[str]) -> list[Outgoing]:
        """Each accusation of mine goes straight to the suspect's other watchers: they are the
        nodes whose confirmations shorten the timeout of a real crash, and random gossip would
        reach them only after a few rounds."""
        out = []
        for accusation in self._accusations_to_push:
            for watcher_id in watchers_in_sorted(accusation.node_id, alive_ids, self._config.monitor_count):
                if watcher_id != self.node_id and watcher_id in self._table:
                    out.append(self._outgoing_locked("gossip", watcher_id, updates=(accusation,)))
        self._accusations_to_push.clear()
        return out

    def _expected_confirmations(self, live_count: int) -> int:
        """Other watchers a crashed node has besides its first accuser, with `live_count` live members."""
        return min(self._config.monitor_count, live_count - 1) - 1

    def _end_suspicions_locked(self, now_s: float, live_count: int, events: list) -> None:
        """A suspicion of mine past its timeout turns DOWN here, unless this node had direct
        contact with the suspect within a silence threshold. Only accusers decide: a node holding
        someone else's suspicion has no evidence of its own, and waits for an accuser's verdict or
        the suspect's refutation."""
        config = self._config
        scale = 1 + self._health
        expected = self._expected_confirmations(live_count)
        for node_id, suspicion in list(self._suspicions.items()):
            entry = self._table.get(node_id)
            info = entry.info if entry is not None else None
            if info is None or info.state != MemberState.SUSPECT or (info.generation, info.incarnation) != suspicion.token:
                del self._suspicions[node_id]
                continue
            if self.node_id not in suspicion.accusers:
                continue
            if now_s < suspicion.due_s(expected, config.suspicion_timeout_s_min, config.suspicion_timeout_s_max, scale):
                continue
            if now_s - self._last_contact_s.get(node_id, -float("inf")) <= config.down_after_s * scale:
                continue
            log.warning("node=%s member=%s SUSPECT for %.2f s (accused by %s), not refuted; declaring DOWN "
                        "(generation %d incarnation %d)", self.node_id, node_id, now_s - suspicion.started_s,
                        ",".join(sorted(suspicion.accusers)), info.generation, info.incarnation)
            del self._suspicions[node_id]
            self._apply_locked(dataclasses.replace(info, state=MemberState.DOWN, suspected_by=""), now_s, events)
            self._my_verdicts[node_id] = (suspicion.token, now_s)

    def _turn_out_locked(self, now_s: float, events: list) -> None:
        """DOWN for `repair_after_down_s` turns OUT, unless the node's maintenance window (wall
        clock, set by the node before it went down) is still open; when the window closes, a node
        DOWN long enough turns OUT at once."""
        repair_after_s = self._config.repair_after_down_s
        wall_ms = self._clock.wall_ms()
        for node_id in list(self._table.down):   # a copy: turning OUT leaves the view
            entry = self._table[node_id]
            info = entry.info
            if info.maintenance_until_unix_ms > wall_ms:
                continue
            if info.state == MemberState.DOWN and now_s - entry.state_since_s >= repair_after_s:
                log.info("node=%s member=%s DOWN for %.1f s; now OUT", self.node_id,
                         info.node_id, now_s - entry.state_since_s)
                self._apply_locked(dataclasses.replace(info, state=MemberState.OUT), now_s, events)

    # ---- receiving ---------------------------------------------------------------------------

    def on_heartbeat(self, sender: MemberInfo, updates: Sequence[MemberInfo]) -> list[MemberInfo]:
        """A heartbeat from `sender`: counts as evidence that it lives, applies its record and
        the piggybacked updates; returns the updates to send back (including my newer record of
        the sender, so a node wrongly believed DOWN learns it and refutes)."""
        if sender.node_id == self.node_id:
            raise InvalidMember(f"heartbeat from a node using my own id {self.node_id!r}")
        self._check_count(updates)
        events: list[tuple[MemberInfo | None, MemberInfo]] = []
        with self._lock:
            now_s = self._clock.monotonic_s()
            self._apply_locked(sender, now_s, events)
            known = self._table.get(sender.node_id)
            if known is not None:
                self._last_contact_s[sender.node_id] = now_s
            if known is not None and known.info.state.live:
                self._detector.heard(sender.node_id, now_s)
            for update in updates:
                self._apply_locked(update, now_s, events)
            reply_max = self._config.piggyback_updates_max
            reply = self._broadcasts.peek(reply_max)
            if known is not None and supersedes(known.info, sender):
                reply = [known.info] + [u for u in reply if u.node_id != sender.node_id]
                reply = reply[:reply_max]
            self._queue_events_locked(events)
        self._notify()
        return reply

    def on_heartbeat_reply(self, target_node_id: str, updates: Sequence[MemberInfo]) -> None:
        """The answer to my heartbeat to `target_node_id`: direct contact; apply its updates."""
        self.heard_from(target_node_id)
        self._apply_all(updates)

    def on_gossip(self, updates: Sequence[MemberInfo]) -> None:
        self._apply_all(updates)

    def on_sync(self, members: Sequence[MemberInfo]) -> list[MemberInfo]:
        """A peer's whole table (the sync of a node without digests, or of one that believes I
        am such a node): apply it, answer with mine (push-pull)."""
        self._apply_all(members)
        return self.members()

    def on_sync_reply(self, members: Sequence[MemberInfo]) -> None:
        self._apply_all(members)

    def on_sync_digest(self, hashes: Sequence[int]) -> tuple[list[int], list[MemberInfo]]:
        """A peer's table digest (`digest.py`): the buckets whose hashes differ from mine,
        ascending, and my records in them, in node id order. A digest with another bucket count
        than mine is answered too, from a digest computed for it (O(N)). Raises InvalidDigest for
        a digest with no buckets or more than BUCKETS_MAX."""
        count = len(hashes)
        check_bucket_count(count)
        with self._lock:
            digest = self._table.digest
            if digest is not None and digest.bucket_count == count:
                buckets = differing(digest.hashes(), hashes)
                ids = sorted(node_id for bucket in buckets for node_id in digest.ids(bucket))
                return buckets, [self._table[node_id].info for node_id in ids]
            infos = list(self._table.infos())
            buckets = differing(bucket_hashes(infos, count), hashes)
            wanted = set(buckets)
            return buckets, [info for info in infos if bucket_of(info.node_id, count) in wanted]

    def on_sync_digest_reply(self, peer_id: str, buckets: Sequence[int],
                             members: Sequence[MemberInfo]) -> Outgoing | None:
        """The answer to my digest: the buckets that differ and the peer's records in them. Apply
        those, and return the push back: a gossip to the peer of my records in those buckets that
        it lacks or holds older (None when there are none). Raises InvalidDigest for a bucket
        outside my digest."""
        self._check_count(members)
        events: list[tuple[MemberInfo | None, MemberInfo]] = []
        with self._lock:
            digest = self._table.digest
            if digest is None:
                raise InvalidDigest(f"a digest answer from {peer_id}, but this node sends no digests")
            count = digest.bucket_count
            if len(buckets) > count or any(not 0 <= b < count for b in buckets):
                raise InvalidDigest(f"a digest answer from {peer_id} names {len(buckets)} buckets, "
                                    f"some outside 0..{count - 1}")
            now_s = self._clock.monotonic_s()
            for info in members:
                self._apply_locked(info, now_s, events)
            theirs = {info.node_id: info for info in members}
            push = []
            for bucket in sorted(set(buckets)):
                for node_id in sorted(digest.ids(bucket)):
                    mine = self._table[node_id].info
                    held = theirs.get(node_id)
                    if held is None or supersedes(mine, held):
                        push.append(mine)
            out = None
            if push and peer_id in self._table:
                out = self._outgoing_locked("gossip", peer_id, updates=tuple(push))
            self._queue_events_locked(events)
        self._notify()
        return out

    def on_sync_digest_unsupported(self, peer_id: str) -> Outgoing | None:
        """The peer answered my digest with UNIMPLEMENTED: it runs a version from before digest
        sync. Remember that for its current generation (an upgrade restarts it in a new one) and
        return the whole-table sync to send it now instead (None if it is not in my table)."""
        with self._lock:
            entry = self._table.get(peer_id)
            if entry is None:
                return None
            generation = entry.info.generation
            if self._digest_unsupported.get(peer_id) != generation:
                log.info("node=%s member=%s has no digest sync (an older version, generation %d); "
                         "sending it whole tables until it restarts", self.node_id, peer_id, generation)
                self._digest_unsupported[peer_id] = generation
            return self._outgoing_locked("sync", peer_id, updates=tuple(self._table.infos()))

    def on_join(self, member: MemberInfo) -> list[MemberInfo]:
        """A node joins through me: add or refresh its record, return my whole table (it
        included). A joiner I believe DOWN in the same generation finds that record in the table
        and refutes it."""
        if member.node_id == self.node_id:
            raise InvalidMember(f"joining node uses my own id {self.node_id!r}")
        if member.state != MemberState.ALIVE:
            raise InvalidMember(f"joining node {member.node_id} says it is {member.state.name}, "
                                f"not ALIVE")
        with self._lock:
            known = self._table.get(member.node_id)
            if known is not None and known.info.generation < member.generation:
                earlier = (known.info.generation, known.info.state)
            elif known is not None and known.info.generation == member.generation:
                # Its new life reached me before its Join did (gossip, or my probe of its address
                # answered by the new process): the record that life replaced is the earlier one.
                earlier = self._lives_replaced.get(member.node_id, (0, None))
            else:
                earlier = (0, None)
            self._joined_before[member.node_id] = earlier
        self._apply_all([member])
        return self.members()

    def previous_generation(self, node_id: str) -> int:
        """The generation of `node_id`'s record this node held when it last joined through me (an
        earlier life of the node), 0 when none."""
        with self._lock:
            return self._joined_before.get(node_id, (0, None))[0]

    def previous_state(self, node_id: str) -> MemberState | None:
        """The state of that earlier record (None when there was none)."""
        with self._lock:
            return self._joined_before.get(node_id, (0, None))[1]

    def gone_verdicts(self) -> int:
        """How many OUT or LEFT verdicts about me, in my generation, I have refuted: each means the
        cluster counted me gone for a while (a partition longer than repair_after_down_s)."""
        with self._lock:
            return self._gone_verdicts

    def on_probe_result(self, target_node_id: str, reachable: bool) -> None:
        """The result of the indirect probe about `target_node_id`: unreachable makes it SUSPECT
        (same generation and incarnation as probed), accused by me, or confirms a suspicion
        others hold; reachable gives it another full window."""
        events: list[tuple[MemberInfo | None, MemberInfo]] = []
        with self._lock:
            now_s = self._clock.monotonic_s()
            token = self._detector.finish_probe(target_node_id, now_s, reachable)
            entry = self._table.get(target_node_id)
            if token is None or reachable or entry is None:
                pass
            elif not entry.info.state.live:
                pass   # already DOWN (gossip beat our probe) or gone
            elif (entry.info.generation, entry.info.incarnation) != token:
                pass   # it refuted or restarted while we probed: the verdict is about an old life
            else:
                log.warning("node=%s member=%s unreachable by indirect probe; SUSPECT "
                            "(generation %d incarnation %d)", self.node_id, target_node_id,
                            entry.info.generation, entry.info.incarnation)
                accusation = dataclasses.replace(entry.info, state=MemberState.SUSPECT, suspected_by=self.node_id)
                if self._apply_locked(accusation, now_s, events):
                    self._accusations_to_push.append(accusation)
            self._queue_events_locked(events)
        self._notify()

    # ---- changing myself ---------------------------------------------------------------------

    def leave(self) -> MemberInfo:
        """Mark myself LEFT (bumped incarnation) and broadcast it; returns my record. A drain ends
        here, so the record no longer says draining."""
        with self._lock:
            mine = self._table[self.node_id].info
            left = dataclasses.replace(mine, state=MemberState.LEFT,
                                       incarnation=mine.incarnation + 1, draining=False)
            events = [self._set_me_locked(left)]
            self._queue_events_locked(events)
        self._notify()
        log.info("node=%s leaving (incarnation %d)", self.node_id, left.incarnation)
        return left

    def update_me(self, **changes: object) -> None:
        """Change my own attributes (free_bytes, address, ...); bumps my incarnation and
        broadcasts, so the change wins over my previous record everywhere."""
        unknown = set(changes) - _CHANGEABLE_FIELDS
        if unknown:
            raise ValueError(f"update_me cannot change {', '.join(sorted(unknown))}; "
                             f"changeable: {', '.join(sorted(_CHANGEABLE_FIELDS))}")
        with self._lock:
            mine = self._table[self.node_id].info
            updated = dataclasses.replace(mine, incarnation=mine.incarnation + 1, **changes)
            events = [self._set_me_locked(updated)]
            self._queue_events_locked(events)
        self._notify()

    # ---- internals -----------------------------------------------------------------------------

    def _apply_all(self, updates: Sequence[MemberInfo]) -> None:
        self._check_count(updates)
        events: list[tuple[MemberInfo | None, MemberInfo]] = []
        with self._lock:
            now_s = self._clock.monotonic_s()
            for update in updates:
                self._apply_locked(update, now_s, events)
            self._queue_events_locked(events)
        self._notify()

    @staticmethod
    def _check_count(updates: Sequence[MemberInfo]) -> None:
        if len(updates) > MEMBERS_MAX:
            raise InvalidMember(f"{len(updates)} member records in one message; at most "
                                f"{MEMBERS_MAX}")

    def _apply_locked(self, info: MemberInfo, now_s: float, events: list) -> bool:
        """Apply one record under the lock; True when it changed the table."""
        if info.node_id == self.node_id:
            return self._apply_about_me_locked(info, events)
        entry = self._table.get(info.node_id)
        if entry is None:
            if len(self._table) >= MEMBERS_MAX:
                log.warning("node=%s table full (%d members); ignoring new member %s",
                            self.node_id, MEMBERS_MAX, info.node_id)
                return False
            self._table.add(info, now_s)
            if info.state == MemberState.SUSPECT:
                self._suspicions[info.node_id] = Suspicion((info.generation, info.incarnation), now_s)
                self._suspicions[info.node_id].confirm(info.suspected_by)
            self._broadcasts.resize(max(BROADCAST_QUEUE_MIN,
                                        BROADCAST_QUEUE_PER_MEMBER * len(self._table)))
            self._broadcasts.push(info)
            events.append((None, info))
            log.info("node=%s member=%s learned: %s generation %d incarnation %d", self.node_id,
                     info.node_id, info.state.name, info.generation, info.incarnation)
            return True
        old = entry.info
        if not supersedes(info, old):
            return self._confirm_locked(info, old)
        if info.state == MemberState.SUSPECT:
            suspicion = Suspicion((info.generation, info.incarnation), now_s)
            suspicion.confirm(info.suspected_by)
            self._suspicions[info.node_id] = suspicion
        else:
            self._suspicions.pop(info.node_id, None)
            if old.state == MemberState.SUSPECT and info.state == MemberState.ALIVE:
                # A refutation is news that the node lives: a new silence window, not a re-probe.
                self._detector.heard(info.node_id, now_s)
        verdict = self._my_verdicts.pop(info.node_id, None)
        if (verdict is not None and info.state == MemberState.ALIVE
                and verdict[0] == (old.generation, old.incarnation) and info.generation == old.generation
                and now_s - verdict[1] <= 2 * self._config.down_after_s * (1 + self._health)):
            self._raise_health_locked(now_s, 1, f"{info.node_id} refuted my DOWN verdict about it "
                                                f"{now_s - verdict[1]:.2f} s after I made it")
        if info.generation > old.generation:
            self._lives_replaced[info.node_id] = (old.generation, old.state)
        self._table.set(info, now_s)
        if info.state != old.state:
            log.info("node=%s member=%s %s -> %s (generation %d incarnation %d)", self.node_id,
                     info.node_id, old.state.name, info.state.name, info.generation,
                     info.incarnation)
        self._broadcasts.push(info)
        events.append((old, info))
        return True

    def _confirm_locked(self, info: MemberInfo, old: MemberInfo) -> bool:
        """A SUSPECT record equal in order to the one held: a new accuser is a confirmation, which
        shortens the timeout and is gossiped on (so others count it too)."""
        if info.state != MemberState.SUSPECT or old.state != MemberState.SUSPECT or info.version() != old.version():
            return False
        suspicion = self._suspicions.get(info.node_id)
        if suspicion is None or not suspicion.confirm(info.suspected_by):
            return False
        self._broadcasts.push(info)
        return True

    def _apply_about_me_locked(self, info: MemberInfo, events: list) -> bool:
        """Nobody else decides my record. A record about me that would beat mine in my own
        generation (an accusation, or a stale claim with a higher incarnation) is refuted by
        re-announcing my state with a higher incarnation; other generations are ignored."""
        mine = self._table[self.node_id].info
        if info.generation != mine.generation:
            if info.generation > mine.generation:
                log.warning("node=%s a record claims my id with a newer generation %d (mine %d); "
                            "is another process using this node id?", self.node_id,
                            info.generation, mine.generation)
            return False
        if not supersedes(info, mine):
            return False
        refuted = dataclasses.replace(mine, incarnation=max(mine.incarnation, info.incarnation) + 1)
        log.warning("node=%s refuting %s about me (incarnation %d) with incarnation %d",
                    self.node_id, info.state.name, info.incarnation, refuted.incarnation)
        if info.state in (MemberState.DOWN, MemberState.OUT):
            self._raise_health_locked(self._clock.monotonic_s(), 1,
                                      f"had to refute {info.state.name} about me")
        if info.state in (MemberState.OUT, MemberState.LEFT):
            self._gone_verdicts += 1
        events.append(self._set_me_locked(refuted))
        return True

    def _set_me_locked(self, info: MemberInfo) -> tuple[MemberInfo | None, MemberInfo]:
        old = self._table[self.node_id].info
        assert supersedes(info, old), f"my own record must only move forward ({old} -> {info})"
        self._table.set(info, self._clock.monotonic_s())
        self._broadcasts.push(info)
        return (old, info)

    def _random_live_peers_locked(self, count: int) -> list[str]:
        """`count` random ALIVE or SUSPECT members other than me (a suspicion changes neither
        watchers nor peers): indices drawn over the sorted live view with my own slot skipped,
        O(count), the same draws as sampling a copy of the view without me."""
        live = self._table.live
        at = bisect.bisect_left(live, self.node_id)
        mine = at < len(live) and live[at] == self.node_id
        peers = len(live) - mine
        picks = self._rng.sample(range(peers), min(count, peers))
        return [live[i + 1] if mine and i >= at else live[i] for i in picks]

    def _random_dead_locked(self, count: int) -> list[str]:
        """DOWN or OUT members: a sync now and then is how two sides of a healed partition find
        each other again (nothing else is ever sent to a node believed dead)."""
        dead = self._table.dead
        return self._rng.sample(dead, min(count, len(dead)))

    def _sync_outgoing_locked(self, peer_id: str) -> Outgoing:
        """My digest, or my whole table when I keep no digest or the peer has no digest sync."""
        digest = self._table.digest
        if digest is not None and not self._lacks_digest_sync_locked(peer_id):
            return self._outgoing_locked("sync_digest", peer_id, bucket_hashes=digest.hashes())
        return self._outgoing_locked("sync", peer_id, updates=tuple(self._table.infos()))

    def _lacks_digest_sync_locked(self, peer_id: str) -> bool:
        """The peer answered a digest with UNIMPLEMENTED in the generation it still has."""
        generation = self._digest_unsupported.get(peer_id)
        if generation is None:
            return False
        if generation == self._table[peer_id].info.generation:
            return True
        del self._digest_unsupported[peer_id]   # restarted since, maybe upgraded: try the digest
        return False

    def _outgoing_locked(self, kind: str, target_id: str, *,
                         updates: tuple[MemberInfo, ...] = (),
                         helpers: tuple[tuple[str, str], ...] = (),
                         timeout_s: float = 0.0,
                         bucket_hashes: tuple[int, ...] = ()) -> Outgoing:
        assert kind in OUTGOING_KINDS, kind
        return Outgoing(kind=kind, target_node_id=target_id,
                        target_address=self._table[target_id].info.address,
                        updates=updates, helpers=helpers, timeout_s=timeout_s,
                        bucket_hashes=bucket_hashes)

    def _raise_health_locked(self, now_s: float, points: int, why: str) -> None:
        """Raise my health score (higher is less healthy) by `points`, up to health_max: a sign
        that I am the slow one (module docstring)."""
        health_max = self._config.health_max
        if health_max == 0:
            return
        raised = min(self._health + points, health_max)
        self._health_changed_s = now_s
        if raised != self._health:
            self._health = raised
            log.warning("node=%s local health %d of %d (my timeouts x%d): %s", self.node_id,
                        raised, health_max, 1 + raised, why)

    def _recover_health_locked(self, now_s: float) -> None:
        """One point back after each calm `heartbeat_interval_s * (1 + health)` with no raise."""
        if self._health == 0:
            return
        if now_s - self._health_changed_s < self._config.heartbeat_interval_s * (1 + self._health):
            return
        self._health -= 1
        self._health_changed_s = now_s
        if self._health == 0:
            log.info("node=%s local health back to 0: configured timeouts again", self.node_id)

    def _queue_events_locked(self, events: list) -> None:
        if self._listeners:
            self._pending_events.extend(events)

    def _notify(self) -> None:
        """Deliver queued changes to listeners with no lock held (see the module docstring)."""
        for _ in range(NOTIFY_PASSES_MAX):
            if not self._pending_events:
                return
            if not self._notify_slot.acquire(blocking=False):
                return   # another caller is delivering; it will see our events on its next pass
            try:
                while self._pending_events:
                    old, new = self._pending_events.popleft()
                    for fn in list(self._listeners):
                        try:
                            fn(old, new)
                        except Exception:
                            log.exception("node=%s membership listener failed on %s",
                                          self.node_id, new.node_id)
            finally:
                self._notify_slot.release()
