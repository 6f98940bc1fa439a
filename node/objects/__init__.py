"""The object paths: put, get, list, delete and buckets, coordinated by whichever node a client calls.

Dependency order: ring, erasure, store, gossip, peers -> objects -> api. This package never sees a
gRPC servicer; it calls other nodes through `node.peers.PeerClient` and its own disk through
`node.store.NodeStore`, and raises `node.errors` exceptions that `node.api` maps to status codes.

Inside: validate, placement, quorum, replicas (local or remote holder calls), chunk_io (one chunk's
copies), register (the bucket register: CASPaxos per bucket name over the directory homes), then
coordinator, which uses them all.
"""
