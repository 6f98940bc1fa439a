"""Suspicion: the time between a failed indirect check and a DOWN verdict, and who may give it.

Design (SWIM's suspect state with Lifeguard's dynamic timeout). A watcher whose indirect check of a
silent node fails does not declare it DOWN: it marks it SUSPECT and gossips that, naming itself as
the accuser. A SUSPECT node is still a live ring member that reads and writes go to; the state only
tells the accused, wherever gossip reaches it, to refute with a higher incarnation. Every node that
holds the SUSPECT record keeps a `Suspicion`: when it learned of it and which distinct accusers it
has heard of. The timeout shrinks from `suspicion_timeout_s_max` (one accuser) to
`suspicion_timeout_s_min` (every other expected watcher confirms) on a log scale:

    timeout = max(min, max - (max - min) * log(1 + confirmations) / log(1 + expected))

so a real crash, which every watcher of the node sees at about the same moment, costs the minimum,
and a lone accusation (one bad link, or an accuser cut off from part of the cluster) leaves the
accused the maximum to hear of it and refute. When the timeout passes, the record turns DOWN at an
accuser (only nodes with evidence of their own decide; the others wait for an accuser's verdict),
and only if it has had no direct contact with the accused for a silence threshold (a heartbeat
from it, an answer from it). The accused still sees the DOWN a far node may give, and refutes it
as before.

Why: a node cut off from half its peers (partition scenario: node-4 cut from node-1, node-5 and
node-6) picked both of its two probe helpers on the far side about one probe in six and declared a
healthy node DOWN; the verdict spread to nodes that could reach it, which routed around it, and
the cycle repeated 11 to 13 times in 40 s. Helpers are now also chosen first among nodes this node
has recently heard from (`Membership`), and an accusation has to survive a refutation window.

Rejected: counting confirmations only from the node's own watchers (they are known to everyone),
because watchers change with membership and a confirmation from any node with its own failed probe
is equally independent evidence.

Pure: a value per suspected node; the clock is passed in.
"""

from __future__ import annotations

import dataclasses
import math

# Most distinct accusers remembered per suspicion: beyond the expected confirmations they change
# nothing, and the set must not grow with a flood of forged records.
ACCUSERS_MAX = 16


def suspicion_timeout_s(confirmations: int, expected: int, timeout_s_min: float, timeout_s_max: float) -> float:
    """Lifeguard's timeout: `timeout_s_max` with no confirmation, `timeout_s_min` once `expected`
    others confirmed (log scale between). `expected` < 1 (a single watcher) gives the maximum."""
    assert 0 < timeout_s_min <= timeout_s_max, (timeout_s_min, timeout_s_max)
    if expected < 1 or confirmations <= 0:
        return timeout_s_max
    fraction = math.log(1 + min(confirmations, expected)) / math.log(1 + expected)
    return max(timeout_s_min, timeout_s_max - (timeout_s_max - timeout_s_min) * fraction)


@dataclasses.dataclass
class Suspicion:
    """One suspected life of one node, as this node knows it."""

    # (generation, incarnation) of the suspected record: a refutation or a restart ends it.
    token: tuple[int, int]
    started_s: float
    accusers: set[str] = dataclasses.field(default_factory=set)

    def confirm(self, accuser: str) -> bool:
        """Count `accuser`; True when it is a new one (the record is worth re-gossiping)."""
        if not accuser or accuser in self.accusers or len(self.accusers) >= ACCUSERS_MAX:
            return False
        self.accusers.add(accuser)
        return True

    def confirmations(self) -> int:
        """Accusers beyond the first."""
        return max(0, len(self.accusers) - 1)

    def due_s(self, expected: int, timeout_s_min: float, timeout_s_max: float, scale: float = 1.0) -> float:
        """When the suspicion may turn DOWN (the timeout stretched by local health `scale`)."""
        return self.started_s + scale * suspicion_timeout_s(self.confirmations(), expected,
                                                             timeout_s_min, timeout_s_max)
