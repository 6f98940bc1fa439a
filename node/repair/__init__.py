"""Repair, handoff return, rebalance, scrub and garbage collection (issue 4; not built yet).

Will sit between `objects` and `api` in the dependency order: step functions driven by thin loops.
"""
