"""Server interceptor for fault injection: every RPC this node serves waits `delay_rpc_ms` first.

Installed by the daemon only under `noded --allow-fault-injection`; the delay itself comes from
the node's `Faults` (node/faults.py), which AdminService.SetFaults replaces, and is 0 until a test
or cluster-sim asks for a slow node.

The wait runs inside the handler, on the gRPC worker thread that serves the call: the wrapped
handler sleeps, then calls the real one. Rejected alternative: sleeping in `intercept_service`
itself. gRPC calls interceptors on the server's one polling thread, so every call would queue
behind every other call's delay and a 200 ms delay would serve five RPCs a second in all, which
is a stalled node, not a slow one.

AdminService.SetFaults is never delayed, so the call that clears a delay is answered at once.
"""

from __future__ import annotations

import grpc

from node.api.handlers import wrapped_handler
from node.faults import Faults

# Served without delay: the call that changes the faults.
UNDELAYED_METHODS = frozenset({"/ringstore.v1.AdminService/SetFaults"})


def delayed_handler(handler: grpc.RpcMethodHandler, faults: Faults) -> grpc.RpcMethodHandler:
    """`handler` with the injected delay before its behavior, whatever its streaming shape."""
    def wrap(behavior):
        def delayed(request_or_iterator, context):
            faults.delay_rpc()
            return behavior(request_or_iterator, context)

        return delayed

    return wrapped_handler(handler, wrap)


class DelayInterceptor(grpc.ServerInterceptor):
    """Delays every RPC but SetFaults by the `Faults`' current `delay_rpc_ms`."""

    def __init__(self, faults: Faults) -> None:
        self._faults = faults

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if (handler is None or not self._faults.current().delay_rpc_ms
                or handler_call_details.method in UNDELAYED_METHODS):
            return handler
        return delayed_handler(handler, self._faults)
