"""The node's TLS material: loaded and checked at start, swapped whole on SIGHUP.

Both servers take dynamic credentials whose fetcher gRPC calls before each new handshake: after a
reload each server's fetcher hands over the new certificate once, so connections made afterwards
use it and connections already open keep theirs until they close. Peer channels are made again
with the new client certificate (`on_reload` listeners; the daemon's PeerClient). The node never
leaves the cluster for a rotation.

A reload that fails its checks (a key that is not the certificate's, a certificate for another
node, one the CA did not sign, one already expired) keeps the old material and says why in the log:
a typo during rotation must not take a serving node off the network.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable

import grpc

from ringstore.tls import NodeCredentials, load_node_credentials

log = logging.getLogger("ringstore.tls")


class NodeTls:
    """The current NodeCredentials and the gRPC credentials made from them. Thread-safe."""

    def __init__(self, cert_path: str, key_path: str, ca_path: str, *, node_id: str) -> None:
        self._paths = (cert_path, key_path, ca_path)
        self._node_id = node_id
        self._lock = threading.Lock()
        self._current = load_node_credentials(cert_path, key_path, ca_path, node_id=node_id)
        self._version = 0
        self._listeners: list[Callable[[], None]] = []

    @property
    def current(self) -> NodeCredentials:
        with self._lock:
            return self._current

    @property
    def not_after(self) -> datetime.datetime:
        return self.current.info.not_after

    def on_reload(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def reload(self) -> NodeCredentials:
        """Read the files again; raises TlsError (keeping the old material) when they fail a check."""
        fresh = load_node_credentials(*self._paths, node_id=self._node_id)
        with self._lock:
            self._current = fresh
            self._version += 1
        for listener in self._listeners:
            listener()
        return fresh

    def _configuration(self, creds: NodeCredentials) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(creds.key_pem, creds.cert_pem)],
                                                         root_certificates=creds.ca_pem)

    def server_credentials(self, *, require_client_auth: bool) -> grpc.ServerCredentials:
        """Credentials for one server: the peer port requires a client certificate under the CA,
        the client port asks for none."""
        with self._lock:
            served = [self._version]
            initial = self._configuration(self._current)

        def fetch() -> grpc.ServerCertificateConfiguration | None:
            with self._lock:
                if served[0] == self._version:
                    return None
                served[0] = self._version
                return self._configuration(self._current)

        return grpc.dynamic_ssl_server_credentials(initial, fetch,
                                                   require_client_authentication=require_client_auth)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Credentials for calls to peers: trust the cluster CA, present this node's certificate."""
        creds = self.current
        return grpc.ssl_channel_credentials(root_certificates=creds.ca_pem, private_key=creds.key_pem,
                                            certificate_chain=creds.cert_pem)
