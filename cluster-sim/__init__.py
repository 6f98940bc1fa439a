"""cluster-sim: a Ringstore cluster of real noded processes on one machine, and faults to throw at it.

Layers, each importing only those before it:
`errors` -> `clusterfile` (DIR/cluster.json) -> `processes` (pids, signals, the noded command line)
-> `_status` (a node's membership view, through `nodectl.client`) -> `cluster` (LocalCluster, the
Python API the integration tests use) -> `cli` (the `cluster-sim` command, thin on LocalCluster).

cluster-sim never imports `node`: it starts `python -m node` as a subprocess and talks to it over
gRPC like any client, so what it exercises is exactly what an operator runs. The alternative,
driving node objects in-process, belongs to `tests/sim`, which simulates the network and clock
deterministically; this package is the other end of that trade, with real processes, sockets and
signals and no determinism.
"""

from cluster_sim.cluster import LocalCluster
from cluster_sim.clusterfile import NodeProcess
from cluster_sim.errors import ClusterError, ClusterTimeout, NodeExitedError

__all__ = ["ClusterError", "ClusterTimeout", "LocalCluster", "NodeExitedError", "NodeProcess"]
