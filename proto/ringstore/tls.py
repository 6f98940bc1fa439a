"""TLS as noded, nodectl's client and cluster-sim all need it: reading certificates, the gRPC
credentials made from them, and one-line explanations of a failed handshake.

A node has two ports. The client port serves TLS with the node's certificate and asks clients for
none: clients prove who they are per call (access keys, a later layer). The peer port serves mutual
TLS: a caller must present a certificate chained to the cluster CA whose URI SAN names a node
(`urn:ringstore:node:<id>`), and the node calls its peers with its own certificate. gRPC's server
credentials either require a client certificate on every connection or ask for none, so the two
kinds of caller need two ports (as etcd's 2379/2380 and Garage's RPC and S3 ports do).

Failed handshakes reach a gRPC client as UNAVAILABLE with details like "Tls handshake failed
(TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: ... CERTIFICATE_VERIFY_FAILED: certificate has expired";
`explain` turns the known ones into one line that says what to do. A plaintext client talking to a
TLS port only sees "Socket closed", as it would from a node that died mid-call, so `probe` asks the
port itself, with the standard library's `ssl`, whether it speaks TLS and whether it accepts us.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import socket
import ssl

from typing import TYPE_CHECKING

import grpc

# `cryptography` is imported where certificates are read, not here: every client imports this module
# (nodectl.errors explains TLS failures with it), and x509 alone costs a client process about 15 MiB
# of its memory and a nodectl command 40-50 ms of start-up.
if TYPE_CHECKING:
    from cryptography import x509

NODE_URI_PREFIX = "urn:ringstore:node:"
CLIENT_URI_PREFIX = "urn:ringstore:client:"
# `nodectl status` and the node log warn about a certificate with less than this left.
CERT_EXPIRY_WARNING_S = 30 * 86400.0
# How long `probe` waits for a connection, a handshake and the server's first bytes.
PROBE_TIMEOUT_S = 1.0
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# gRPC names the address it failed to reach: "... last error: UNKNOWN: ipv4:127.0.0.1:7400: Tls ...".
_ADDRESS_IN_DETAILS = re.compile(r"ipv[46]:(\[?[0-9a-fA-F.:]+\]?:\d+)")


class TlsError(ValueError):
    """A certificate, key or CA file is unusable; the message says which and how to fix it."""


@dataclasses.dataclass(frozen=True)
class CertificateInfo:
    """What `describe` reads from a certificate, for people and for expiry checks."""

    subject: str
    issuer: str
    identity: str  # urn:ringstore:node:<id>, urn:ringstore:client:<name>, or "" (a CA)
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    is_ca: bool

    def expires_in_s(self, now: datetime.datetime) -> float:
        return (self.not_after - now).total_seconds()


def _info(cert: x509.Certificate) -> CertificateInfo:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)
            if u.startswith((NODE_URI_PREFIX, CLIENT_URI_PREFIX))]
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return CertificateInfo(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                           identity=uris[0] if uris else "",
                           dns_names=tuple(san.get_values_for_type(x509.DNSName)),
                           ip_addresses=tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
                           not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc, is_ca=is_ca)


def describe(pem: bytes) -> CertificateInfo:
    """Subject, identity, SANs and validity of a PEM certificate (the first in the file)."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as err:
        raise TlsError(f"not a PEM certificate: {err}") from None
    return _info(cert)


def private_file_problem(path: str) -> str | None:
    """Why `path` (a secret or private key) is not private to the service user, with the fix; None
    when it is. As ssh refuses a key others may read."""
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        return (f"{path} is readable by others (mode {mode:04o}); it must be private to the service user: "
                f"run chmod 600 {path}")
    return None


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise TlsError(f"cannot read the {what} {path}: {err.strerror}") from None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclasses.dataclass(frozen=True)
class NodeCredentials:
    """A node's certificate, key and cluster CA as read and checked at start (and on SIGHUP)."""

    cert_path: str
    key_path: str
    ca_path: str
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes
    info: CertificateInfo

    @property
    def node_id(self) -> str:
        return self.info.identity.removeprefix(NODE_URI_PREFIX)


def load_node_credentials(cert_path: str, key_path: str, ca_path: str, *, node_id: str,
                          now: datetime.datetime | None = None) -> NodeCredentials:
    """Read a node's files and check what would otherwise fail later, one handshake at a time: the
    key is private and matches the certificate, the certificate names `node_id`, is signed by a CA
    in `ca_path` and is valid now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    now = now or _now()
    key_pem = _read(key_path, "TLS private key")
    problem = private_file_problem(key_path)
    if problem:
        raise TlsError(f"TLS private key {problem}")
    cert_pem = _read(cert_path, "TLS certificate")
    ca_pem = _read(ca_path, "cluster CA certificate")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise TlsError(f"{cert_path} is not a PEM certificate; make one with `nodectl tls issue-node`") from None
    try:
        cas = x509.load_pem_x509_certificates(ca_pem)
    except ValueError:
        raise TlsError(f"{ca_path} is not a PEM CA certificate; it is the ca.crt of `nodectl tls init-ca`") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise TlsError(f"{key_path} is not an unencrypted PEM private key") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.DER, public)
            != cert.public_key().public_bytes(serialization.Encoding.DER, public)):
        raise TlsError(f"{key_path} is not the key of {cert_path}; give the key issued with that certificate")
    info = _info(cert)
    if info.identity != NODE_URI_PREFIX + node_id:
        named = info.identity or "no Ringstore identity"
        raise TlsError(f"{cert_path} names {named}, but this node is {node_id}; issue it a certificate with "
                       f"`nodectl tls issue-node {node_id}`")
    if not any(_issued_by(cert, ca) for ca in cas):
        raise TlsError(f"{cert_path} is not signed by the CA in {ca_path}; issue it from that CA or give the "
                       "CA that issued it")
    if now < info.not_before:
        raise TlsError(f"{cert_path} is not valid before {info.not_before:%Y-%m-%d %H:%M:%S} UTC (is this "
                       "host's clock right?)")
    if now >= info.not_after:
        raise TlsError(f"{cert_path} expired at {info.not_after:%Y-%m-%d %H:%M:%S} UTC; issue a new one with "
                       f"`nodectl tls issue-node {node_id}`")
    return NodeCredentials(cert_path=cert_path, key_path=key_path, ca_path=ca_path, cert_pem=cert_pem,
                           key_pem=key_pem, ca_pem=ca_pem, info=info)


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def channel_credentials(ca_pem: bytes | None = None, *, cert_pem: bytes | None = None,
                        key_pem: bytes | None = None) -> grpc.ChannelCredentials:
    """gRPC channel credentials trusting `ca_pem` (else the system's roots), presenting a client
    certificate when `cert_pem`/`key_pem` are given."""
    return grpc.ssl_channel_credentials(root_certificates=ca_pem, private_key=key_pem, certificate_chain=cert_pem)


def explain(details: str, address: str | None = None, *, ca_file: str | None = None) -> str | None:
    """One line for a gRPC failure that was a TLS problem (None when it was not). `address` is
    read from gRPC's details when not given; `ca_file` is the CA the caller trusts, if known."""
    if address is None:
        match = _ADDRESS_IN_DETAILS.search(details)
        address = match.group(1) if match else "the node"
    trusted = (f"the CA in {ca_file}" if ca_file
               else "the CA this client trusts (--ca FILE or RINGSTORE_CA, else the system's CAs)")
    if "WRONG_VERSION_NUMBER" in details:
        return (f"{address} does not speak TLS (a node started with --insecure?): connect with --insecure, or "
                "give the node its certificate")
    if "certificate has expired" in details:
        return f"the certificate of {address} has expired: issue the node a new one and send it SIGHUP"
    if "certificate is not yet valid" in details:
        return f"the certificate of {address} is not valid yet: check the clocks of this host and the node"
    if "Hostname Verification" in details or "No match found for server name" in details:
        return (f"the certificate of {address} does not name that address: connect to an address in its SANs, "
                "or issue it a certificate with --san for this one")
    if "CERTIFICATE_VERIFY_FAILED" in details:
        return f"the certificate of {address} is not signed by {trusted}"
    return None


def probe(address: str, *, use_tls: bool = False, ca_file: str | None = None, cert_file: str | None = None,
          key_file: str | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Ask `address` directly what a failed gRPC call could not say ("Socket closed"). A plaintext
    caller (`use_tls` False) learns whether the port serves TLS. A TLS caller (trusting `ca_file`,
    else the system's CAs, presenting `cert_file` when given) learns whether the port refuses its
    certificate or takes only node certificates. None when it is not a TLS problem (refused,
    silent, or the port accepts us)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_alpn_protocols(["h2"])
    if not use_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_file:
        context.load_verify_locations(ca_file)
    else:
        context.load_default_certs()
    if cert_file and key_file:
        context.load_cert_chain(cert_file, key_file)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as raw:
            with context.wrap_socket(raw, server_hostname=host) as conn:
                if not use_tls:
                    return (f"{address} serves TLS: give the cluster's CA certificate (--ca FILE or "
                            "RINGSTORE_CA), or run the cluster with --insecure on both sides")
                conn.sendall(_HTTP2_PREFACE)
                if conn.recv(1):
                    return None
                if cert_file:
                    return (f"{address} refused this certificate ({cert_file}): it is not signed by the "
                            "cluster's CA, or has expired")
                return (f"{address} is a peer port: it takes only node certificates; connect to the "
                        "node's client port")
    except ssl.SSLCertVerificationError as err:
        return explain(f"CERTIFICATE_VERIFY_FAILED: {err.verify_message}", address, ca_file=ca_file)
    except ssl.SSLError as err:
        if err.reason == "WRONG_VERSION_NUMBER":
            return explain("WRONG_VERSION_NUMBER", address, ca_file=ca_file)
        return None
    except (OSError, ValueError):
        return None
