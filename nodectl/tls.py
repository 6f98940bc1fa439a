"""Certificates for a Ringstore cluster: a cluster CA, node certificates, client certificates.

Every gRPC port serves TLS, and node-to-node calls are mutual TLS under one cluster CA, so an
operator needs three things, made here with `cryptography` (no openssl shell-outs):

- `init_ca(dir)`: the CA's key and self-signed certificate (`ca.key`, `ca.crt`), ten years.
- `issue_node(ca_dir, node_id, sans)`: a certificate for one node, valid as a server and as a
  client (it calls its peers with it). Its subject CN is the node id, and a URI SAN
  `urn:ringstore:node:<id>` says the same in a form a peer can check without parsing the subject;
  the other SANs are the addresses it is reached at (DNS names and IP addresses), which clients
  and peers check against the address they dialled.
- `issue_client(ca_dir, name)`: a client-only certificate (`urn:ringstore:client:<name>`), for
  deployments that want client certificates besides access keys.

Keys are ECDSA P-256: every TLS stack gRPC ships (BoringSSL, OpenSSL) accepts them in TLS 1.2 and
1.3, and they are small and fast to sign with. Rejected: Ed25519, which BoringSSL accepts for TLS
1.3 signatures but not every client library does for certificate chains, and RSA, which costs ten
times the CPU per handshake for no gain here. Node and client certificates last a year by default
(`--days`), long enough that rotation is an occasional chore and short enough that a leaked key
expires; the CA lasts ten. Private keys are written 0600 in a directory made 0700, through a
temporary file renamed into place, and nothing here overwrites an existing key or certificate:
replacing a CA by accident would cut every node off from every other.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import re
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nodectl.errors import AlreadyExists, InvalidArgument, NotFound
from ringstore import tls as ringstore_tls
from ringstore.tls import CLIENT_URI_PREFIX, NODE_URI_PREFIX, CertificateInfo

CA_KEY_FILE = "ca.key"
CA_CERT_FILE = "ca.crt"
CA_DAYS = 3650
CERT_DAYS_DEFAULT = 365
CERT_DAYS_MAX = 3650
# Certificates are valid from a little before they were made: clocks of the hosts that check them
# may be behind the one that issued them (the cluster tolerates 30 s of skew; this is generous).
BACKDATE = datetime.timedelta(minutes=5)
SANS_MAX = 32
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DNS_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                     r"[A-Za-z0-9])?)*$")


@dataclasses.dataclass(frozen=True)
class Issued:
    """Files written: the private key (0600) and the certificate."""

    key_path: Path
    cert_path: Path
    not_after: datetime.datetime


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _check_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= CERT_DAYS_MAX:
        raise InvalidArgument(f"--days must be a whole number of days in 1..{CERT_DAYS_MAX}, got {days!r}")


def _check_name(name: str, what: str) -> None:
    if not _NAME_RE.match(name):
        raise InvalidArgument(f"{what} {name!r} is invalid: use 1..63 characters of a-z, 0-9 and '-', "
                              "starting with a letter or digit")


def parse_sans(sans: Sequence[str]) -> list[x509.GeneralName]:
    """Each SAN as an IP address if it parses as one, else a DNS name; bad ones are INVALID_ARGUMENT."""
    if len(sans) > SANS_MAX:
        raise InvalidArgument(f"{len(sans)} SANs given; at most {SANS_MAX}")
    names: list[x509.GeneralName] = []
    for san in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(san)))
            continue
        except ValueError:
            pass
        if not _DNS_RE.match(san):
            raise InvalidArgument(f"SAN {san!r} is neither an IP address nor a DNS name (letters, digits, '-' "
                                  "and dots); give the host name or address the node is reached at")
        names.append(x509.DNSName(san.lower()))
    return names


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` (which must not exist) through a temporary file created with `mode`."""
    if path.exists():
        raise AlreadyExists(f"{path} exists; remove it first or write to another directory (nothing is "
                            "overwritten, so a CA or key in use is never replaced by accident)")
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)  # whatever the umask took away
        os.link(temp, path)  # fails if path appeared meanwhile: never overwrites
    finally:
        temp.unlink(missing_ok=True)


def _make_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def init_ca(directory: str | Path, *, common_name: str = "Ringstore cluster CA", days: int = CA_DAYS,
            now: datetime.datetime | None = None) -> Issued:
    """Make a cluster CA in `directory`: ca.key (0600) and ca.crt. Refuses to overwrite."""
    _check_days(days)
    directory = Path(directory)
    _make_dir(directory)
    for name in (CA_KEY_FILE, CA_CERT_FILE):
        if (directory / name).exists():
            raise AlreadyExists(f"{directory / name} exists: this directory already holds a CA; use it, or "
                                "pick another --dir")
    now = now or _now()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_private(directory / CA_KEY_FILE, _key_pem(key), 0o600)
    _write_private(directory / CA_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return Issued(directory / CA_KEY_FILE, directory / CA_CERT_FILE, cert.not_valid_after_utc)


def _load_ca(ca_dir: str | Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_dir = Path(ca_dir)
    key_path, cert_path = ca_dir / CA_KEY_FILE, ca_dir / CA_CERT_FILE
    for path in (key_path, cert_path):
        if not path.is_file():
            raise NotFound(f"{path} not found: --ca must name a directory made by `nodectl tls init-ca`")
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError as err:
        raise InvalidArgument(f"{ca_dir} does not hold a readable CA key and certificate: {err}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidArgument(f"{key_path} is not an ECDSA key; make the CA with `nodectl tls init-ca`")
    return key, cert


def _issue(ca_dir: str | Path, *, common_name: str, uri: str, sans: Sequence[x509.GeneralName],
           usages: Sequence[x509.ObjectIdentifier], out_dir: str | Path, stem: str, days: int,
           now: datetime.datetime | None) -> Issued:
    _check_days(days)
    ca_key, ca_cert = _load_ca(ca_dir)
    out_dir = Path(out_dir)
    _make_dir(out_dir)
    key_path, cert_path = out_dir / f"{stem}.key", out_dir / f"{stem}.crt"
    for path in (key_path, cert_path):
        if path.exists():
            raise AlreadyExists(f"{path} exists; remove it first (rotation: issue into another directory, then "
                                "move the files into place and send the node SIGHUP)")
    now = now or _now()
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri), *sans]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(key_path, _key_pem(key), 0o600)
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return Issued(key_path, cert_path, cert.not_valid_after_utc)


def issue_node(ca_dir: str | Path, node_id: str, sans: Sequence[str], *, out_dir: str | Path | None = None,
               days: int = CERT_DAYS_DEFAULT, now: datetime.datetime | None = None) -> Issued:
    """A node's certificate and key (`<node_id>.crt`, `<node_id>.key`, in `out_dir`, by default the
    CA directory): server and client use, the node id in CN and a URI SAN, `sans` as DNS/IP SANs."""
    _check_name(node_id, "node id")
    if not sans:
        raise InvalidArgument(f"give at least one --san for {node_id}: the host name or IP address peers and "
                              "clients reach it at (they check it against the certificate)")
    return _issue(ca_dir, common_name=node_id, uri=NODE_URI_PREFIX + node_id, sans=parse_sans(sans),
                  usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
                  out_dir=out_dir or ca_dir, stem=node_id, days=days, now=now)


def issue_client(ca_dir: str | Path, name: str, *, out_dir: str | Path | None = None,
                 days: int = CERT_DAYS_DEFAULT, now: datetime.datetime | None = None) -> Issued:
    """A client-only certificate and key (`<name>.crt`, `<name>.key`)."""
    _check_name(name, "client name")
    return _issue(ca_dir, common_name=name, uri=CLIENT_URI_PREFIX + name, sans=[],
                  usages=[ExtendedKeyUsageOID.CLIENT_AUTH], out_dir=out_dir or ca_dir, stem=name, days=days,
                  now=now)


def describe(pem: bytes) -> CertificateInfo:
    """Subject, identity, SANs and validity of a PEM certificate (the first in the file)."""
    try:
        return ringstore_tls.describe(pem)
    except ringstore_tls.TlsError as err:
        raise InvalidArgument(str(err)) from None
