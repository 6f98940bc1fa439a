"""Heartbeat bookkeeping for the nodes this node watches: when each was last heard, who is silent.

Design. The detector knows nothing about membership rules; it keeps, per watched node, the last
time it was heard and whether an indirect probe about it is in flight, and answers "who has been
silent longer than `down_after_s` and is not already being probed". A node that becomes watched
(a new node, or a change of watchers when someone fails) starts with a full grace period from the
moment it is watched, because it may not yet know that we are its watcher. Heartbeats from nodes
we do not watch are not recorded here (membership still applies their records).

Probes: `start_probe` marks one in flight with a token (the record version being probed), so a
silence produces one probe, not one per step; `finish_probe` hands the token back so the caller
can check the verdict still concerns the same record. A heartbeat heard while a probe is in
flight cancels the probe (its result no longer matters), and a probe whose result never arrives
goes stale after `probe_wait_s_max`, so a lost result delays a verdict but never silences the
detector.

Lifeguard: `extend(delay_s)` pushes every deadline back when the owner's own loop ran late, so
time the watcher spent starved is not counted as the watched node's silence; `silent(now, scale)`
stretches both the silence threshold and the probe wait by the owner's local health multiplier.

Rejected: a phi-accrual detector (Cassandra, Akka). It adapts to jitter, but its threshold is
hard to explain to an operator and to test at exact virtual times; a fixed count of missed
heartbeats plus an indirect probe gives the same protection against one slow link.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable


@dataclasses.dataclass
class _Watch:
    last_heard_s: float
    probe_started_s: float | None = None
    probe_token: Hashable | None = None


class Detector:
    """Per-watched-node silence timers and in-flight probe marks. Not thread-safe on its own."""

    def __init__(self, *, down_after_s: float, probe_wait_s_max: float) -> None:
        if down_after_s <= 0 or probe_wait_s_max <= 0:
            raise ValueError(f"down_after_s ({down_after_s}) and probe_wait_s_max "
                             f"({probe_wait_s_max}) must be > 0")
        self._down_after_s = down_after_s
        self._probe_wait_s_max = probe_wait_s_max
        self._watches: dict[str, _Watch] = {}

    def watched(self) -> list[str]:
        return sorted(self._watches)

    def set_watched(self, node_ids: Iterable[str], now_s: float) -> None:
        """Watch exactly `node_ids`: newly watched nodes get a full grace period from `now_s`,
        nodes no longer watched are forgotten (with any probe in flight about them)."""
        wanted = set(node_ids)
        for node_id in list(self._watches):
            if node_id not in wanted:
                del self._watches[node_id]
        for node_id in wanted:
            if node_id not in self._watches:
                self._watches[node_id] = _Watch(last_heard_s=now_s)

    def heard(self, node_id: str, now_s: float) -> None:
        """A heartbeat from `node_id` arrived: restart its window and cancel any probe about it."""
        watch = self._watches.get(node_id)
        if watch is None:
            return
        watch.last_heard_s = max(watch.last_heard_s, now_s)
        watch.probe_started_s = None
        watch.probe_token = None

    def extend(self, delay_s: float) -> None:
        """Push every watched node's deadline back by `delay_s` (our own loop was late)."""
        assert delay_s >= 0, f"extend by {delay_s}"
        for watch in self._watches.values():
            watch.last_heard_s += delay_s

    def silence_s(self, node_id: str, now_s: float) -> float:
        """Seconds since `node_id` was last heard (KeyError when not watched)."""
        return now_s - self._watches[node_id].last_heard_s

    def silent(self, now_s: float, scale: float = 1.0) -> list[str]:
        """Watched nodes silent longer than `scale` * down_after_s with no fresh probe in flight
        (one younger than `scale` * probe_wait_s_max), sorted."""
        assert scale >= 1.0, f"scale {scale}"
        down_after_s, probe_wait_s = self._down_after_s * scale, self._probe_wait_s_max * scale
        found = []
        for node_id, watch in self._watches.items():
            if now_s - watch.last_heard_s <= down_after_s:
                continue
            if (watch.probe_started_s is not None
                    and now_s - watch.probe_started_s <= probe_wait_s):
                continue
            found.append(node_id)
        return sorted(found)

    def start_probe(self, node_id: str, now_s: float, token: Hashable) -> None:
        watch = self._watches[node_id]
        watch.probe_started_s = now_s
        watch.probe_token = token

    def finish_probe(self, node_id: str, now_s: float, reachable: bool) -> Hashable | None:
        """Record a probe's result; returns the token given to `start_probe`, or None when no
        probe about `node_id` is in flight (result too late, or cancelled by a heartbeat).
        Reachable restarts the node's window: another full `down_after_s` before the next probe."""
        watch = self._watches.get(node_id)
        if watch is None or watch.probe_started_s is None:
            return None
        token = watch.probe_token
        watch.probe_started_s = None
        watch.probe_token = None
        if reachable:
            watch.last_heard_s = max(watch.last_heard_s, now_s)
        return token
