"""The simulated network: one-way delay, loss, partitions and cut links, all drawn from the run's rng.

Design. Every message crosses the network once per direction, and each crossing asks `transit_us`:
it is lost with probability `loss_ratio`, otherwise it arrives after `delay_s_min` plus a uniform
`delay_jitter_s`. Whether the two ends can reach each other at all is asked separately, at the
moment the message arrives (`reachable`), so a partition that starts while a message is in flight
drops it, as a real one would. Loss and delay are drawn in the order the engine sends messages, from
the one `random.Random` of the run, so the same seed draws the same fates.

A partition is a list of groups: nodes in different groups cannot reach each other, and nodes named
in no group form one more group together (so `partition([minority])` splits the cluster in two).
Cut links are one-way and come on top of the groups. Healing clears both.

Rejected: a latency matrix per pair of nodes (a "topology"). It would let a test place nodes in
racks, but membership only cares whether a message arrives before a deadline, and one base delay
plus jitter reorders messages enough to exercise that; N^2 pairs would also cost 8 MB at N = 1000.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Collection, Sequence

US_PER_S = 1_000_000
# Heartbeat intervals are about a second and probe budgets half of that; a one-way delay beyond this
# would be a different network, not a slow LAN, and would turn every probe into a failure.
DELAY_S_MAX = 0.1


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """How messages travel between simulated nodes."""

    # Fixed part of every one-way delay. Higher moves every round trip toward the RPC and probe
    # deadlines; LAN round trips are a fraction of a millisecond.
    delay_s_min: float = 0.0005
    # Uniform extra delay on top of delay_s_min, drawn per message. More jitter reorders messages
    # (a reply may overtake the next request); zero makes every crossing take the same time.
    delay_jitter_s: float = 0.002
    # Probability that one crossing is lost. A request/response RPC crosses twice, an indirect
    # probe through a helper four times.
    loss_ratio: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.delay_s_min <= DELAY_S_MAX:
            raise ValueError(f"delay_s_min must be in 0..{DELAY_S_MAX} s, got {self.delay_s_min}")
        if not 0.0 <= self.delay_jitter_s <= DELAY_S_MAX:
            raise ValueError(f"delay_jitter_s must be in 0..{DELAY_S_MAX} s, got "
                             f"{self.delay_jitter_s}")
        if not 0.0 <= self.loss_ratio < 1.0:
            raise ValueError(f"loss_ratio must be in [0, 1) (try 0.01), got {self.loss_ratio}")

    @property
    def delay_s_max(self) -> float:
        """Longest one-way delay a message can take."""
        return self.delay_s_min + self.delay_jitter_s


class Network:
    """Reachability and per-crossing fate; not thread-safe (the engine is single-threaded)."""

    def __init__(self, config: NetworkConfig, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self._min_us = round(config.delay_s_min * US_PER_S)
        self._jitter_us = round(config.delay_jitter_s * US_PER_S)
        self._loss = config.loss_ratio
        self._group: dict[str, int] = {}       # node -> group number; absent = group 0
        self._cut: set[tuple[str, str]] = set()  # (src, dst) pairs that drop everything

    def partition(self, groups: Sequence[Collection[str]]) -> None:
        """Split the network: each of `groups` becomes an island; unnamed nodes form the last."""
        group: dict[str, int] = {}
        for number, members in enumerate(groups, start=1):
            for node_id in sorted(members):
                if node_id in group:
                    raise ValueError(f"node {node_id} is in partition groups {group[node_id]} and "
                                     f"{number}; a node belongs to one group")
                group[node_id] = number
        self._group = group

    def cut(self, src: str, dst: str) -> None:
        """Drop everything from `src` to `dst` (one way; cut both ways for a dead link)."""
        self._cut.add((src, dst))

    def heal(self) -> None:
        self._group = {}
        self._cut = set()

    def group_of(self, node_id: str) -> int:
        return self._group.get(node_id, 0)

    def reachable(self, src: str, dst: str) -> bool:
        group = self._group
        if group and group.get(src, 0) != group.get(dst, 0):
            return False
        return not self._cut or (src, dst) not in self._cut

    def transit_us(self) -> int | None:
        """One crossing: its delay in microseconds, or None when the message is lost."""
        rng = self._rng
        if self._loss and rng.random() < self._loss:
            return None
        return self._min_us + int(rng.random() * self._jitter_us)
