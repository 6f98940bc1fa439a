"""The unit tier talks plaintext to in-process fakes (tests/unit/nodectl_fakes.py), so every
Client made without TLS arguments is plaintext here (RINGSTORE_INSECURE=1), whatever the caller's
environment says, and unsigned (no access key from the environment or a profile file). TLS itself
is tested with real certificates in test_tls_*.py and test_peer_identity.py,
which pass their CA explicitly."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator

import grpc
import pytest


@pytest.fixture(autouse=True)
def _plaintext_clients(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("RINGSTORE_INSECURE", "1")
    monkeypatch.delenv("RINGSTORE_CA", raising=False)
    # Unsigned unless a test says otherwise: no key from the environment or the user's profile file.
    for name in ("RINGSTORE_ACCESS_KEY_ID", "RINGSTORE_SECRET_ACCESS_KEY", "RINGSTORE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.getbasetemp() / "empty-credentials"
    if not empty.exists():
        empty.touch(mode=0o600)
    monkeypatch.setenv("RINGSTORE_CREDENTIALS_FILE", str(empty))


@pytest.fixture
def serve_grpc() -> Iterator[Callable[[grpc.GenericRpcHandler], str]]:
    """`serve(handlers)` -> "127.0.0.1:PORT": an in-process plaintext gRPC server with those
    handlers on a free loopback port; every one started is stopped at teardown."""
    servers: list[grpc.Server] = []

    def serve(handlers: grpc.GenericRpcHandler) -> str:
        server = grpc.server(cf.ThreadPoolExecutor(max_workers=4))
        server.add_generic_rpc_handlers((handlers,))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield serve
    for server in servers:
        server.stop(None)
