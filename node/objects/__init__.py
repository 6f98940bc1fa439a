"""The object paths: put, get, list, delete and buckets, coordinated by whichever node a client calls.

Dependency order: ring, erasure, store, gossip, peers -> objects -> api. This package never sees a
gRPC servicer; it calls other nodes through `node.peers.PeerClient` and its own disk through
`node.store.NodeStore`, and raises `node.errors` exceptions that `node.api` maps to status codes.
"""
