"""The one place where errors become gRPC status codes.

Everything below `node/api` raises `node.errors` exceptions; this table turns each into its status
code with the exception's one-line message as the details. Anything else is our bug: it is logged
with its traceback and the caller gets INTERNAL with a short message, never the traceback.
"""

from __future__ import annotations

import functools
import logging
from typing import Callable, Iterator

import grpc
from google.protobuf.message import DecodeError

from node import errors, store
from ringstore import frames
from ringstore.v1 import peer_pb2

log = logging.getLogger("ringstore.api")

STATUS_OF: dict[type[Exception], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.DataLoss: grpc.StatusCode.DATA_LOSS,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    # The store does not import node.errors (it sits below it); its errors map here too.
    store.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    store.ChecksumMismatch: grpc.StatusCode.INVALID_ARGUMENT,
    store.ShareNotFound: grpc.StatusCode.NOT_FOUND,
    store.CorruptShare: grpc.StatusCode.DATA_LOSS,
    # This replica's record is corrupt (quarantined) or its metadata is being refilled: the
    # coordinator counts the replica as failed and reads the others.
    store.CorruptRecord: grpc.StatusCode.DATA_LOSS,
    store.MetadataUnavailable: grpc.StatusCode.UNAVAILABLE,
    store.StoreFull: grpc.StatusCode.RESOURCE_EXHAUSTED,
    store.UnknownFormatVersion: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_of(exc: BaseException) -> grpc.StatusCode | None:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return None


class Malformed:
    """Stands in for a request that did not parse, so the handler can answer INVALID_ARGUMENT."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def tolerant(deserializer: Callable[[bytes], object]) -> Callable[[bytes], object]:
    """Wrap a deserializer so bad bytes (e.g. non-UTF-8 in a string field) become `Malformed`."""

    def parse(raw: bytes) -> object:
        try:
            return deserializer(raw)
        except (DecodeError, UnicodeDecodeError, ValueError) as err:
            return Malformed(str(err) or type(err).__name__)

    return parse


def check_parsed(request: object) -> None:
    if isinstance(request, Malformed):
        raise errors.InvalidArgument(
            f"request is not valid protobuf ({request.reason}); strings such as keys must be UTF-8")


def status_and_message(exc: BaseException, method: str) -> tuple[grpc.StatusCode, str]:
    """The status and one-line message a call that raised `exc` ends with. Anything unmapped is our
    bug: logged here with its traceback, INTERNAL with a short message to the caller."""
    code = status_of(exc)
    if code is not None:
        return code, str(exc)
    log.error("internal error in %s", method, exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal error in {method}: {type(exc).__name__}; see the node log"


def item_error(exc: BaseException, method: str) -> peer_pb2.ItemError:
    """One failed item of a batched call: the status and message its own call would have ended with."""
    code, message = status_and_message(exc, method)
    return peer_pb2.ItemError(code=code.value[0], message=message)


def _abort(context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
    context.abort(*status_and_message(exc, method))


def unary(fn: Callable) -> Callable:
    """Servicer-method wrapper for unary-response methods (unary or client-streaming requests)."""

    @functools.wraps(fn)
    def handler(self, request, context: grpc.ServicerContext):
        try:
            if not isinstance(request, Iterator):
                check_parsed(request)
            return fn(self, request, context)
        except Exception as exc:  # noqa: BLE001 - the edge: every error becomes a status
            if isinstance(exc, grpc.RpcError) or context.code() is not None:
                raise
            _abort(context, exc, fn.__name__)

    return handler


def in_process(method: Callable) -> Callable:
    """A servicer method's body without its gRPC edge, for a caller inside the node (the S3
    gateway): it takes the request alone and raises `node.errors` exceptions instead of ending a
    call with a status. The caller (node/auth/principal.py) must be set by whoever calls it."""
    body = method.__func__.__wrapped__
    owner = method.__self__
    return lambda request: body(owner, request, None)


def streaming(fn: Callable) -> Callable:
    """Servicer-method wrapper for server-streaming methods: errors mid-stream also become statuses."""

    @functools.wraps(fn)
    def handler(self, request, context: grpc.ServicerContext):
        try:
            check_parsed(request)
            yield from fn(self, request, context)
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc, grpc.RpcError) or context.code() is not None:
                raise
            _abort(context, exc, fn.__name__)

    return handler


def _serialize(message) -> bytes:
    return message.SerializeToString()


def unary_method(fn: Callable, request_cls) -> grpc.RpcMethodHandler:
    """A unary-unary handler whose request parses tolerantly (see `Malformed`)."""
    return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=tolerant(request_cls.FromString),
                                               response_serializer=_serialize)


def upload_method(fn: Callable, request_cls) -> grpc.RpcMethodHandler:
    """A client-streaming handler whose data frames arrive as memoryviews (see `ringstore.frames`)."""
    return grpc.stream_unary_rpc_method_handler(
        fn, request_deserializer=tolerant(frames.decoder(request_cls)), response_serializer=_serialize)


def whole_share_method(fn: Callable, request_decoder: Callable[[bytes], object],
                       response_serializer: Callable[[object], bytes]) -> grpc.RpcMethodHandler:
    """A unary-unary handler for a header-and-data message (`ringstore.frames.HeaderAndData`): the
    payload side is never copied into or out of a protobuf field."""
    return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=tolerant(request_decoder),
                                               response_serializer=response_serializer)


def download_method(fn: Callable, request_cls) -> grpc.RpcMethodHandler:
    """A server-streaming handler that may yield raw payload buffers as data frames."""
    return grpc.unary_stream_rpc_method_handler(
        fn, request_deserializer=tolerant(request_cls.FromString), response_serializer=frames.encode)
