"""One connection to one node: the settings, the channel and its stubs, one call made and retried.

Any node coordinates any request, so a client talks to one address. `_Connection` holds what every
call shares (address, timeout_s, the retry settings, the injected sleep and random source, the
channel and its stubs) and `_unary`/`_retrying`; the calls themselves live in one mixin per
service (buckets, objects, cluster, repair), each a subclass of this, and `Client` combines them.

Payload streams use the hand-framed codec in `ringstore.frames`, so 1 MiB frames cross the
wire without a protobuf copy on either side; everything else uses the generated stubs.

Rejected alternative: one class holding every call. It was 500 lines of methods for four services
before tenants, keys and grants; a mixin per service keeps each file to the calls of its service
while `Client` keeps one name and one constructor.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
from ringstore import frames
from ringstore.v1 import admin_pb2_grpc, object_pb2, object_pb2_grpc

from nodectl.client.encryption import EncryptionKey
from nodectl.client.auth import SigningInterceptor
from nodectl.client.deadlines import rpc_error
from nodectl.client.direct import DirectChunks
from nodectl.client.limits import GRPC_MESSAGE_BYTES_MAX, RETRIES_MAX_LIMIT
from nodectl.client.retries import retry_backoff_s
from nodectl.client.validate import parse_address
from nodectl.errors import InvalidArgument, NotFound, NotTrusted, RingstoreError, Unavailable
from ringstore import tls
from ringstore.auth.credentials import Credentials
from ringstore.auth.credentials import resolve as resolve_credentials

if TYPE_CHECKING:
    from nodectl.client import Client


_OBJECT_SERVICE = "/ringstore.v1.ObjectService/"
CA_ENV = "RINGSTORE_CA"
INSECURE_ENV = "RINGSTORE_INSECURE"


def _tls_settings(ca_file: str | None, insecure: bool | None) -> tuple[bool, str | None]:
    """(insecure, CA file): the arguments, else RINGSTORE_INSECURE and RINGSTORE_CA; TLS with the
    system's CAs when nothing is said. Plaintext only when asked for."""
    if insecure is None:
        insecure = os.environ.get(INSECURE_ENV, "").strip().lower() in ("1", "true", "yes", "on")
        if insecure and ca_file:
            insecure = False  # an explicit CA beats the environment's plaintext
    if insecure and ca_file:
        raise InvalidArgument("give a CA file or insecure=True, not both: a CA is for TLS")
    if not insecure and ca_file is None:
        ca_file = os.environ.get(CA_ENV) or None
    return insecure, (None if insecure else ca_file)


def _read_ca(ca_file: str | None) -> bytes | None:
    if ca_file is None:
        return None
    try:
        with open(ca_file, "rb") as f:
            pem = f.read()
    except OSError as err:
        raise NotFound(f"cannot read the CA certificate {ca_file}: {err.strerror}; give the cluster's ca.crt "
                       f"(--ca FILE or {CA_ENV})") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise InvalidArgument(f"{ca_file} holds no PEM certificate; give the cluster's ca.crt (--ca FILE or {CA_ENV})")
    return pem


class _Connection:
    """What every call of `Client` shares: the settings, the channel and its stubs, and
    one call made under a deadline and retried. The per-service mixins derive from it."""

    def __init__(self, *, address: str, timeout_s: float = 30.0, retries_max: int = 3,
                 retry_backoff_s: float = 0.2, ca_file: str | None = None, insecure: bool | None = None,
                 credentials: Credentials | None | bool = None, profile: str | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, direct_reads: bool = True,
                 encryption_key: EncryptionKey | None = None) -> None:
        parse_address(address)
        if not timeout_s > 0:
            raise InvalidArgument(f"timeout_s must be > 0, got {timeout_s!r}")
        if isinstance(retries_max, bool) or not 0 <= retries_max <= RETRIES_MAX_LIMIT:
            raise InvalidArgument(
                f"retries_max must be in 0..{RETRIES_MAX_LIMIT}, got {retries_max!r}")
        if not retry_backoff_s >= 0:
            raise InvalidArgument(f"retry_backoff_s must be >= 0, got {retry_backoff_s!r}")
        self.address = address
        # Client-side encryption (nodectl/client/encryption.py): puts encrypt under it, gets of
        # objects encrypted under it decrypt; None: puts store plaintext, encrypted objects refuse.
        self.encryption_key = encryption_key
        self._timeout_s = timeout_s
        self._retries_max = retries_max
        self._retry_backoff_s = retry_backoff_s
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self.insecure, self.ca_file = _tls_settings(ca_file, insecure)
        self._ca = None if self.insecure else _read_ca(self.ca_file)
        self._channel = self._make_channel(address)
        # Replicated chunks read straight from their holders when a node offers it (direct.py).
        self._direct = (DirectChunks(lambda holder: self._make_channel(holder, bdp_probe=False), timeout_s)
                        if direct_reads else None)
        # None: from the environment or the profile file (ringstore.auth.credentials); False: none.
        if credentials is None:
            try:
                credentials = resolve_credentials(profile=profile)
            except ValueError as err:
                raise InvalidArgument(str(err)) from None
        elif credentials is False:
            credentials = None
        # The key this client signs with (None: calls go unsigned, and a node with TLS refuses them).
        self.credentials = credentials
        if credentials is not None:
            self._channel = grpc.intercept_channel(self._channel, SigningInterceptor(credentials))
        self._objects = object_pb2_grpc.ObjectServiceStub(self._channel)
        self._admin = admin_pb2_grpc.AdminServiceStub(self._channel)
        # Whether to send small objects as one PutSmallObject message (False once a node says it
        # does not know the call).
        self._small_puts = True
        # Whether large puts ask for a direct put (direct_put.py; False once a node says it does not
        # know PlanPut, or when the client reads no chunks straight from holders either), and the
        # writer of their copies, made on the first.
        self._direct_puts = direct_reads
        self._writer = None
        self._writer_lock = threading.Lock()
        self._put_rpc = self._channel.stream_unary(
            _OBJECT_SERVICE + "PutObject",
            request_serializer=frames.encode,
            response_deserializer=object_pb2.PutObjectResponse.FromString,
        )
        # Whether gets start with one OpenObject call (False once a node says it does not know the call).
        self._open_objects = True
        self._open_rpc = self._channel.unary_unary(
            _OBJECT_SERVICE + "OpenObject",
            request_serializer=object_pb2.GetObjectRequest.SerializeToString,
            response_deserializer=object_pb2.OpenObjectResponse.FromString,
        )
        self._get_rpc = self._channel.unary_stream(
            _OBJECT_SERVICE + "GetObject",
            request_serializer=object_pb2.GetObjectRequest.SerializeToString,
            response_deserializer=frames.decoder(object_pb2.GetObjectResponse),
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._direct is not None:
            self._direct.close()
        self._channel.close()

    def _make_channel(self, address: str, *, bdp_probe: bool = True) -> grpc.Channel:
        """A channel to `address` with this client's TLS settings (no signing: callers add it).

        `bdp_probe=False` for the holder channels of direct reads: each answer there is one unary
        message, whose stream window gRPC opens to the message's whole size as its header arrives,
        so the bandwidth-delay-product probe, which grows the connection's window for streams of
        many messages (a get or put streamed through a node, over a long path), has nothing to add;
        with it on, a client reading 1 GiB objects straight from six holders peaked at 128-139 MiB
        resident, without it on these channels at 101-105 (`import nodectl.client`: 39), at the same
        speed and CPU per MB."""
        options = [
            ("grpc.max_send_message_length", GRPC_MESSAGE_BYTES_MAX),
            ("grpc.max_receive_message_length", GRPC_MESSAGE_BYTES_MAX),
        ]
        if not bdp_probe:
            options.append(("grpc.http2.bdp_probe", 0))
        if self.insecure:
            return grpc.insecure_channel(address, options=options, compression=grpc.Compression.NoCompression)
        return grpc.secure_channel(address, tls.channel_credentials(self._ca), options=options,
                                   compression=grpc.Compression.NoCompression)

    # -- plumbing ----------------------------------------------------------------------------

    def diagnosed(self, error: RingstoreError) -> RingstoreError:
        """`error`, or NotTrusted when the call failed on TLS: a plaintext call to a TLS port, or a
        call to a peer port, which gRPC reports only as "Socket closed", like a node that died
        mid-call; so ask the port."""
        if isinstance(error, Unavailable) and "Socket closed" in str(error):
            found = tls.probe(self.address, use_tls=not self.insecure, ca_file=self.ca_file)
            if found:
                return NotTrusted(found)
        return error

    def _retrying(self, once: Callable[[], Any], *, replayable: bool = True) -> Any:
        """once(), again after UNAVAILABLE while retries are left and the call can be replayed."""
        for attempt in range(self._retries_max + 1):
            try:
                return once()
            except Unavailable as error:
                if not replayable or attempt >= self._retries_max:
                    found = self.diagnosed(error)
                    if found is error:
                        raise
                    raise found from error
            self._sleep(retry_backoff_s(self._retry_backoff_s, attempt, self._rng))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _unary(self, rpc: Callable[..., Any], request: Any, *, replayable: bool = True,
               metadata: tuple[tuple[str, str], ...] = ()) -> Any:
        """One unary call under timeout_s, with `metadata` (a share link); retried after UNAVAILABLE
        only when `replayable`."""
        call_name = type(request).__name__.removesuffix("Request")

        def once() -> Any:
            try:
                return rpc(request, timeout=self._timeout_s, metadata=metadata or None)
            except grpc.RpcError as err:
                raise rpc_error(err, call_name, self._timeout_s) from err

        return self._retrying(once, replayable=replayable)
