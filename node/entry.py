"""The `noded` command: caps malloc arenas before any thread starts (ringstore/memory.py), settles
gRPC's core log verbosity before grpc is imported (node/core_log.py), then runs the daemon."""

from ringstore.memory import bound_malloc_arenas

bound_malloc_arenas()

from node.core_log import prepare_verbosity  # noqa: E402

prepare_verbosity()

from node.daemon import main  # noqa: E402 (grpc must come after prepare_verbosity)

__all__ = ["main"]
