"""noded: one Ringstore storage node.

Layers depend one way (each may import only those listed before it):
ring, erasure (pure) -> store (disk) -> gossip (membership) -> peers (calls to other nodes) ->
objects (the coordinator's put/get/list paths) -> repair -> api (gRPC servicers) -> daemon (wiring).
`config`, `errors`, `hlc` and `metrics` are leaf modules any layer may use.
"""
