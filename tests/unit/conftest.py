"""The unit tier talks plaintext to in-process fakes (tests/unit/nodectl_fakes.py), so every
Client made without TLS arguments is plaintext here (RINGSTORE_INSECURE=1), whatever the caller's
environment says. TLS itself is tested with real certificates in test_tls_*.py and test_peer_identity.py,
which pass their CA explicitly."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plaintext_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGSTORE_INSECURE", "1")
    monkeypatch.delenv("RINGSTORE_CA", raising=False)
