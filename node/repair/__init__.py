"""Repair, handoff return, rebalance, scrub and garbage collection.

Sits between `objects` and `api` in the dependency order: step functions driven by thin loops.
Today it holds the repair queue the read paths report damage to; the loop that drains it is issue 4.
`metadata_sync` keeps partitions on their homes as the ring changes; `metadata_refill` pulls a
node's own metadata back from its peers after the store found it damaged.
"""

from node.repair.queue import REASONS, REPAIR_REPORTS_MAX, DamageReport, RepairQueue

__all__ = ["REASONS", "REPAIR_REPORTS_MAX", "DamageReport", "RepairQueue"]

# Throttles, scrub and garbage collection (issue 4).
from node.repair.throttle import RateMeter, TokenBucket  # noqa: E402
from node.repair.scrub import Scrubber, ScrubStatus  # noqa: E402
from node.repair.gc import GarbageCollector, GcStatus, KeyState, Verdict, ref_verdict  # noqa: E402

__all__ += ["RateMeter", "TokenBucket", "Scrubber", "ScrubStatus", "GarbageCollector", "GcStatus",
            "KeyState", "Verdict", "ref_verdict"]
