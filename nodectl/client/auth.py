"""Signing every call a Client makes with its access key (ringstore/auth/signing.py).

One gRPC client interceptor for the four call shapes adds the key id, the time and the signature
to each call's metadata, computed when the call starts, so a retry is signed afresh. The resource a
signature covers is read from the request (its `bucket` and `key` fields) for calls with one
request message; a streamed request (PutObject) signs the empty resource, as the node checks it.
A call that carries a share link (`x-ringstore-link`) is left unsigned: the link is its credential.
"""

from __future__ import annotations

import collections

import grpc
from ringstore.auth import signing
from ringstore.auth.credentials import Credentials
from ringstore.auth.links import HEADER_LINK


class _Details(collections.namedtuple("_Details", ("method", "timeout", "metadata", "credentials",
                                                   "wait_for_ready", "compression")),
               grpc.ClientCallDetails):
    pass


class SigningInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                         grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def _signed(self, details: grpc.ClientCallDetails, resource: str) -> grpc.ClientCallDetails:
        if any(name == HEADER_LINK for name, _ in details.metadata or ()):
            return details  # a share link is the call's credential; the node refuses a call with both
        pairs = signing.sign(self._credentials.key_id, self._credentials.secret, details.method, resource)
        metadata = list(details.metadata or ()) + list(pairs)
        return _Details(details.method, details.timeout, metadata, details.credentials,
                        getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._signed(details, signing.resource_of(request)), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._signed(details, signing.resource_of(request)), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._signed(details, ""), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._signed(details, ""), request_iterator)
