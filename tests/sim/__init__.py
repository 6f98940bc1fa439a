"""The deterministic simulation tier: the real membership, ring and repair-planning code driven by a
virtual clock and a simulated network from one seed, at 10 to 1000 nodes.

    python -m tests.sim --nodes 10,100,1000 --seeds 5 [--seed N] [--loss 0.01] [--json PATH]

A failed run prints `reproduce with --seed N ...`; the same seed gives the same event trace
(`Sim.digest()`). test_simulation.py runs a few seeds in CI.

Dependency order inside the package (each module imports only those before it):
    network     NetworkConfig, Network (delay, loss, partitions, cut links)
    wire        serialized payload bytes of each membership message
    invariants  SimViolation, Checker (incremental invariants after every event)
    layouts     LayoutBook, Checkpoint (ring movement and repair plans at checkpoints)
    engine      SimConfig, Sim (event heap, processes, the driver's and transport's semantics)
    scenarios   run(), RunResult, SCENARIOS (what a run does and measures)
    run         the command line (table and JSON)
Outside the package it imports node.config, node.gossip, node.ring, node.repair.plan and
ringstore.v1, never sockets or threads. Not a pytest package of its own: tests import it through
the rootdir-relative `sim` name pytest gives it, the command line as `tests.sim`; modules here use
relative imports so both work.
"""

from .engine import Sim, SimConfig, sim_gossip_config
from .invariants import SimViolation
from .network import NetworkConfig
from .scenarios import SCENARIOS, RunResult, run

__all__ = ["NetworkConfig", "RunResult", "SCENARIOS", "Sim", "SimConfig", "SimViolation", "run",
           "sim_gossip_config"]
