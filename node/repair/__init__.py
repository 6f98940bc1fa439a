"""Repair, handoff return, rebalance, scrub and garbage collection.

Sits between `objects` and `api` in the dependency order: step functions driven by thin loops.
Today it holds the repair queue the read paths report damage to; the loop that drains it is issue 4.
"""

from node.repair.queue import REASONS, REPAIR_REPORTS_MAX, DamageReport, RepairQueue

__all__ = ["REASONS", "REPAIR_REPORTS_MAX", "DamageReport", "RepairQueue"]
