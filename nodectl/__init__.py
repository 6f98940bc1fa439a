"""nodectl: the Ringstore client library and the `nodectl` command line on top of it.

Library first, CLI thin (httpx's client and `_main.py`): `nodectl.client.Client` owns the gRPC
channel, deadlines, retries, input validation and the translation of protobuf into plain frozen
dataclasses; `nodectl.cli` only parses arguments, calls the client and formats results.
`nodectl.errors` is the one exception hierarchy both use, with the CLI's exit codes.

Dependency order inside the package: errors <- client <- cli. `client` and `cli` are packages
whose `__init__` maps their modules and re-exports every name, so `from nodectl.client import X`
does not depend on the layout. The fake node the unit tests run against is test code and lives in
tests/unit/nodectl_fakes.py, outside the shipped package. This package talks to nodes over the
wire contract (`ringstore.v1`, `ringstore.frames`) only and never imports `node`: whatever it needs
to know about a node, it learns from a reply.

gRPC's C core logs every failed TLS handshake on stderr at INFO ("Handshake failed with error
SSL_ERROR_SSL: ..."), before this package turns the failure into one line that says what to do;
unless GRPC_VERBOSITY is set, importing nodectl sets it to ERROR so the one line is all a user sees.
"""

import os

# Whether GRPC_VERBOSITY was ours to set: cluster-sim leaves it out of the nodes' environment then.
GRPC_VERBOSITY_DEFAULTED = "GRPC_VERBOSITY" not in os.environ
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # before grpc is first imported, below

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
