"""noded: one Ringstore storage node.

Layers depend one way (each may import only those listed before it):
ring, erasure (pure) -> store (disk) -> gossip (membership) -> peers (calls to other nodes) ->
objects (the coordinator's put/get/list paths) -> repair -> api (gRPC servicers) -> daemon (wiring).
`rejoin` (whom a starting node joins through, the members file it remembers the cluster by) sits
above gossip and store, used only by the daemon.
`config`, `errors`, `hlc` and `metrics` are leaf modules any layer may use.
"""
