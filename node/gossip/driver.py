"""The thin loop around `Membership`: a timer thread that steps it and a pool that sends.

Design. All decisions live in the step function (`membership.py`); this file only moves messages. A
daemon thread calls `membership.step()` every `gossip_interval_s` of the injected clock and hands
each `Outgoing` to a small thread pool that calls the Transport and feeds the answer back
(`on_heartbeat_reply`, `on_sync_reply`, `on_sync_digest_reply`, `on_probe_result`), dispatching what
an answer asks for in turn: the push back after a digest sync, or the whole-table sync to a peer
that answered the digest with UNIMPLEMENTED (`PeerUnimplemented`: a node from before digest sync). A
failed heartbeat or gossip is dropped on purpose: silence is what the watchers measure, and the next
round or the periodic sync repairs what was lost. At most one RPC per (kind, target) is in flight,
so a slow peer cannot pile up calls, and the total in flight is capped by `rpcs_in_flight_max`.

Indirect probe: every helper is asked in parallel, and the target is pinged directly at the same
time (the silence we saw was in the target -> us direction; us -> target may still work); the
target is reachable if any answer says so within the probe's budget (`indirect_probe_timeout_s`
times the local health multiplier). With no helpers (a two-node cluster) the direct ping is the
whole check. Helpers and pings run on their own pool, so
a full RPC pool can never hold up the probe that waits on them.

Rejected: stepping from a gRPC thread on each incoming heartbeat. It saves a thread, but a node
whose peers are all silent would then never step, which is exactly when it has to.
"""

from __future__ import annotations

import concurrent.futures
import logging
import random
import threading
from collections.abc import Sequence

from node.config import GossipConfig
from node.gossip.clock import Clock
from node.gossip.member import MemberState
from node.gossip.membership import Membership, Outgoing
from node.gossip.transport import JoinUnanswered, PeerRejected, PeerUnimplemented, PeerUnreachable, Transport

log = logging.getLogger("ringstore.gossip")

# Threads sending heartbeats, gossip and syncs.
RPC_WORKERS_MAX = 8
# Membership RPCs queued or running at once; beyond this an Outgoing is dropped (and counted).
RPCS_IN_FLIGHT_MAX = 64
# Join attempts over the whole address list, on top of the deadline.
JOIN_ROUNDS_MAX = 1000
# Peers the LEFT record is pushed to synchronously on leave (in addition to normal gossip).
LEAVE_PUSH_PEERS_MAX = 4


class MembershipDriver:
    """Runs one node's `Membership` against a `Transport`; start(), then stop()."""

    def __init__(self, *, membership: Membership, transport: Transport, config: GossipConfig,
                 clock: Clock, rng: random.Random | None = None) -> None:
        self._membership = membership
        self._transport = transport
        # From the Join answer: the generation of an earlier life of this node id the cluster knew
        # (0: none, a new node); see JoinResponse.previous_generation.
        self.previous_generation = 0
        # ... and that record's state (None: none, or an answering node that predates the field).
        self.previous_state: MemberState | None = None
        self._config = config
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=RPC_WORKERS_MAX, thread_name_prefix=f"gossip-rpc-{membership.node_id}")
        probe_workers = max(4, (config.indirect_probe_count + 1) * config.monitor_count)
        self._probe_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=probe_workers, thread_name_prefix=f"gossip-probe-{membership.node_id}")
        self._in_flight_lock = threading.Lock()
        self._in_flight: set[tuple[str, str]] = set()
        # Outgoings not sent because the same call, or too many calls, were in flight.
        self.dropped_total = 0

    # ---- lifecycle -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("membership driver already started")
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"gossip-{self._membership.node_id}")
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the loop, join its thread, and shut the pools down (waiting for calls in flight,
        each bounded by its RPC deadline). Idempotent."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("node=%s gossip loop did not stop within %.1f s",
                          self._membership.node_id, timeout_s)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._probe_pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        interval_s = self._config.gossip_interval_s
        next_s = self._clock.monotonic_s()
        while not self._stopping.is_set():
            try:
                for outgoing in self._membership.step():
                    self._dispatch(outgoing)
            except Exception:
                log.exception("node=%s membership step failed", self._membership.node_id)
            now_s = self._clock.monotonic_s()
            next_s = max(next_s + interval_s, now_s)   # late: skip ahead, never burst
            if not self._stopping.is_set():
                self._clock.sleep(next_s - now_s)

    # ---- joining and leaving ---------------------------------------------------------------

    def join_cluster(self, addresses: Sequence[str], deadline_s: float) -> None:
        """Join through the first of `addresses` that answers, trying them in turn for up to
        `deadline_s` seconds. Raises PeerRejected at once when a node refuses us, and
        JoinUnanswered (a PeerUnreachable) when none answered in time. My own address is skipped (a shared seed
        list may name me); if it was the only one, there is nobody to join."""
        if not addresses:
            raise ValueError("join_cluster needs at least one address (host:port)")
        my_address = self._membership.me().address
        candidates = [a for a in addresses if a != my_address]
        if not candidates:
            return
        deadline_at_s = self._clock.monotonic_s() + deadline_s
        last_reason = "no attempt made"
        for _ in range(JOIN_ROUNDS_MAX):
            for address in candidates:
                remaining_s = deadline_at_s - self._clock.monotonic_s()
                if remaining_s <= 0:
                    break
                try:
                    table = self._transport.join(address, self._membership.me(),
                                                 min(self._config.rpc_timeout_s, remaining_s))
                except PeerUnreachable as error:
                    last_reason = f"{address}: {error.reason}"
                    continue
                self._membership.on_sync_reply(table)
                self.previous_generation = getattr(table, "previous_generation", 0)
                state = getattr(table, "previous_state", 0)
                self.previous_state = MemberState(state) if state else None
                log.info("node=%s joined through %s (%d members)", self._membership.node_id,
                         address, len(table))
                return
            remaining_s = deadline_at_s - self._clock.monotonic_s()
            if remaining_s <= 0:
                break
            self._clock.sleep(min(self._config.heartbeat_interval_s, remaining_s))
        raise JoinUnanswered(",".join(candidates), deadline_s, last_reason)

    def reach(self, addresses: Sequence[str], timeout_s: float) -> int:
        """One Join call to each of `addresses` (my record to it, its table back to me), as memberlist's
        join contacts every address it is given, not only the first that answers: two groups that
        formed through different first answers while a whole cluster started again find each other
        this way. Unreachable or refusing addresses are skipped; returns how many answered."""
        answered = 0
        for address in addresses:
            if self._stopping.is_set():
                break
            try:
                table = self._transport.join(address, self._membership.me(), timeout_s)
            except (PeerUnreachable, PeerRejected) as error:
                log.debug("node=%s could not reach %s: %s", self._membership.node_id, address, error)
                continue
            self._membership.on_sync_reply(table)
            answered += 1
        return answered

    def leave(self, timeout_s: float) -> int:
        """Mark myself LEFT and push that to a few live peers, waiting up to `timeout_s`;
        returns how many acknowledged. Call stop() afterwards."""
        record = self._membership.leave()
        peers = [m for m in self._membership.members()
                 if m.state.live and m.node_id != self._membership.node_id]
        peers = self._rng.sample(peers, min(len(peers), LEAVE_PUSH_PEERS_MAX))
        futures = [self._probe_pool.submit(self._transport.gossip, p.address, [record], timeout_s)
                   for p in peers]
        done, _ = concurrent.futures.wait(futures, timeout=timeout_s)
        acked = sum(1 for f in done if f.exception() is None)
        log.info("node=%s left; %d of %d peers acknowledged", self._membership.node_id, acked,
                 len(peers))
        return acked

    # ---- sending -----------------------------------------------------------------------------

    def _dispatch(self, outgoing: Outgoing) -> None:
        key = (outgoing.kind, outgoing.target_node_id)
        with self._in_flight_lock:
            if key in self._in_flight or len(self._in_flight) >= RPCS_IN_FLIGHT_MAX:
                self.dropped_total += 1
                return
            self._in_flight.add(key)
        try:
            self._pool.submit(self._send, outgoing, key)
        except RuntimeError:   # pool shut down while stopping
            with self._in_flight_lock:
                self._in_flight.discard(key)

    def _send(self, outgoing: Outgoing, key: tuple[str, str]) -> None:
        membership = self._membership
        timeout_s = self._config.rpc_timeout_s
        try:
            if outgoing.kind == "heartbeat":
                reply = self._transport.heartbeat(outgoing.target_address, membership.me(),
                                                  outgoing.updates, timeout_s)
                membership.on_heartbeat_reply(outgoing.target_node_id, reply)
            elif outgoing.kind == "gossip":
                self._transport.gossip(outgoing.target_address, outgoing.updates, timeout_s)
                membership.heard_from(outgoing.target_node_id)
            elif outgoing.kind == "sync":
                reply = self._transport.sync(outgoing.target_address, outgoing.updates, timeout_s)
                membership.heard_from(outgoing.target_node_id)
                membership.on_sync_reply(reply)
            elif outgoing.kind == "sync_digest":
                try:
                    buckets, members = self._transport.sync_digest(
                        outgoing.target_address, outgoing.bucket_hashes, timeout_s)
                except PeerUnimplemented:
                    membership.heard_from(outgoing.target_node_id)
                    follow_up = membership.on_sync_digest_unsupported(outgoing.target_node_id)
                else:
                    membership.heard_from(outgoing.target_node_id)
                    follow_up = membership.on_sync_digest_reply(outgoing.target_node_id, buckets, members)
                if follow_up is not None:
                    self._dispatch(follow_up)
            elif outgoing.kind == "indirect_probe":
                membership.on_probe_result(outgoing.target_node_id, self._probe(outgoing))
            else:
                raise AssertionError(f"unknown outgoing kind {outgoing.kind!r}")
        except (PeerUnreachable, PeerRejected) as error:
            log.debug("node=%s %s to %s failed: %s", membership.node_id, outgoing.kind,
                      outgoing.target_node_id, error)
        except Exception:
            log.exception("node=%s %s to %s failed", membership.node_id, outgoing.kind,
                          outgoing.target_node_id)
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(key)

    def _probe(self, outgoing: Outgoing) -> bool:
        """True when any helper, or a direct ping, reaches the target within the probe's budget."""
        timeout_s = outgoing.timeout_s or self._config.indirect_probe_timeout_s
        target_id, target_address = outgoing.target_node_id, outgoing.target_address
        calls = [self._probe_pool.submit(self._ask_helper, helper_id, helper_address, target_id, target_address,
                                         timeout_s)
                 for helper_id, helper_address in outgoing.helpers]
        calls.append(self._probe_pool.submit(self._ping, target_id, target_address, timeout_s))
        try:
            for future in concurrent.futures.as_completed(calls, timeout=timeout_s):
                try:
                    if future.result():
                        return True
                except (PeerUnreachable, PeerRejected):
                    continue
        except concurrent.futures.TimeoutError:
            pass
        return False

    def _ask_helper(self, helper_id: str, helper_address: str, target_id: str, target_address: str,
                    timeout_s: float) -> bool:
        reachable = self._transport.indirect_probe(helper_address, target_id, target_address, timeout_s)
        self._membership.heard_from(helper_id)   # it answered, whatever it found
        return reachable

    def _ping(self, target_id: str, target_address: str, timeout_s: float) -> bool:
        member = self._transport.ping(target_address, target_id, timeout_s)
        if member is None or member.node_id != target_id:
            return False
        self._membership.heard_from(target_id)
        self._membership.on_gossip([member])   # its own record is the freshest evidence
        return True
