"""The `noded` command: settles gRPC's core log verbosity before grpc is imported
(node/core_log.py), then runs the daemon."""

from node.core_log import prepare_verbosity

prepare_verbosity()

from node.daemon import main  # noqa: E402 (grpc must come after prepare_verbosity)

__all__ = ["main"]
