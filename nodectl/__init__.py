"""nodectl: the Ringstore client library and the `nodectl` command line on top of it.

Library first, CLI thin (httpx's client and `_main.py`): `nodectl.client.Client` owns the gRPC
channel, deadlines, retries, input validation and the translation of protobuf into plain frozen
dataclasses; `nodectl.cli` only parses arguments, calls the client and formats results.
`nodectl.errors` is the one exception hierarchy both use, with the CLI's exit codes.

Dependency order inside the package: errors <- client (a package; its `__init__` maps its
modules) <- cli (and testing, an in-memory server for tests, depends only on the wire contract). This package talks to nodes over the wire contract
(`ringstore.v1`, `ringstore.frames`) only and never imports `node`: whatever it needs to know
about a node, it learns from a reply.
"""

from nodectl.client import (
    BucketInfo,
    Client,
    ClusterStatus,
    ConvertProgress,
    ConvertResult,
    ListPage,
    Member,
    MemberStatus,
    NodeStatus,
    ObjectInfo,
    ObjectReader,
    ObjectStat,
    RingInfo,
    RingMove,
    RingPlan,
    parse_ec,
)
from nodectl.errors import RingstoreError

__all__ = [
    "BucketInfo",
    "Client",
    "ClusterStatus",
    "ConvertProgress",
    "ConvertResult",
    "ListPage",
    "Member",
    "MemberStatus",
    "NodeStatus",
    "ObjectInfo",
    "ObjectReader",
    "ObjectStat",
    "RingInfo",
    "RingMove",
    "RingPlan",
    "RingstoreError",
    "parse_ec",
]
