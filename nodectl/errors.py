"""One exception hierarchy for the client library, with the CLI's exit code on each class.

A node maps its own errors to a gRPC status once, at its edge (node/api); the client maps the
status back to one class here, once, in `from_rpc_error`, and keeps the server's one-line message
(which carries the numbers and node ids) unchanged. Callers catch a class (`except NotFound`) or
the base, never compare `grpc.StatusCode` values; the CLI prints `str(err)` and exits with
`err.exit_code`.

Exit codes of `nodectl` (also shown in `nodectl --help`):

    0  ok
    1  any other error (internal, unknown, cancelled, a local file error)
    2  usage error or invalid argument
    3  not found
    4  unavailable or deadline exceeded (too few live nodes, node unreachable, too slow)
    5  data loss (not enough intact copies or shares anywhere)
    6  already exists or failed precondition (e.g. bucket not empty, a node that cannot be
       drained); also `ring plan` when some chunk layouts could not be placed after the change
    7  out of range (e.g. a range starting past the end of the object)
    8  resource exhausted (quota, disk full)
    9  unauthenticated (no access key, or one that does not check out), or the node's TLS
       certificate not trusted
   10  degraded: `fsck` found chunks below full redundancy, all still readable (any unreadable
       chunk makes it 5); `repair wait` found only chunks repair cannot restore left
   11  permission denied: the access key is valid but may not do this (another tenant's bucket,
       a read-only or narrower key, an admin call without the operator's key)

Rejected alternative: one exception class carrying a status code, tested with `if err.code ==`.
It reads worse at call sites and lets a misspelt comparison pass silently.
"""

from __future__ import annotations

import grpc
from ringstore import tls

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_UNAVAILABLE = 4
EXIT_DATA_LOSS = 5
EXIT_CONFLICT = 6
EXIT_OUT_OF_RANGE = 7
EXIT_RESOURCE_EXHAUSTED = 8
EXIT_DENIED = 9
# Not an error class: what `nodectl fsck` exits with when every chunk reads but some are below
# full redundancy, so a script tells "repair is behind" (10) from "unreadable" (5) and "clean" (0).
EXIT_DEGRADED = 10
EXIT_PERMISSION_DENIED = 11

# The same table as the module docstring, for `nodectl --help`.
EXIT_CODES_HELP = """\
Exit codes: 0 ok; 1 other error; 2 usage error or invalid argument; 3 not found;
4 unavailable or deadline exceeded; 5 data loss; 6 already exists or failed precondition
(e.g. bucket not empty; ring plan: chunks left unplaceable); 7 out of range; 8 resource
exhausted; 9 unauthenticated or TLS not trusted; 10 degraded (fsck found chunks below full
redundancy, none unreadable; repair wait: only chunks repair cannot restore are left); 11 permission
denied (a valid key that may not do this)."""

# Longest message kept from a server, in characters: a misbehaving server must not flood a terminal.
MESSAGE_CHARS_MAX = 1000


class RingstoreError(Exception):
    """Base of every error the client raises for a failed request.

    `code` is the gRPC status the error stands for; `exit_code` is what `nodectl` exits with.
    Statuses without a class of their own (CANCELLED, UNKNOWN, ABORTED, UNIMPLEMENTED) are raised
    as this base class with `code` set to the status.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    exit_code: int = EXIT_OTHER

    def __init__(self, message: str, *, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code.name})"


class InvalidArgument(RingstoreError):
    """The request is malformed: a bad bucket name or key, a bad range, a bad policy."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    exit_code = EXIT_USAGE


class NotFound(RingstoreError):
    """The bucket or object does not exist."""

    code = grpc.StatusCode.NOT_FOUND
    exit_code = EXIT_NOT_FOUND


class AlreadyExists(RingstoreError):
    """The bucket already exists."""

    code = grpc.StatusCode.ALREADY_EXISTS
    exit_code = EXIT_CONFLICT


class FailedPrecondition(RingstoreError):
    """The cluster is not in a state that allows the request (e.g. deleting a non-empty bucket)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    exit_code = EXIT_CONFLICT


class OutOfRange(RingstoreError):
    """A byte range starts past the end of the object."""

    code = grpc.StatusCode.OUT_OF_RANGE
    exit_code = EXIT_OUT_OF_RANGE


class Unavailable(RingstoreError):
    """The node is unreachable, or too few live nodes to meet a quorum."""

    code = grpc.StatusCode.UNAVAILABLE
    exit_code = EXIT_UNAVAILABLE


class DeadlineExceeded(RingstoreError):
    """The request did not finish before its deadline."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    exit_code = EXIT_UNAVAILABLE


class DataLoss(RingstoreError):
    """Not enough intact copies or shares exist, or the bytes read do not match their hash."""

    code = grpc.StatusCode.DATA_LOSS
    exit_code = EXIT_DATA_LOSS


class ResourceExhausted(RingstoreError):
    """A quota or the cluster's disk space is exhausted."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    exit_code = EXIT_RESOURCE_EXHAUSTED


class Unauthenticated(RingstoreError):
    """The request carries no valid credentials."""

    code = grpc.StatusCode.UNAUTHENTICATED
    exit_code = EXIT_DENIED


class PermissionDenied(RingstoreError):
    """The credentials do not allow the request."""

    code = grpc.StatusCode.PERMISSION_DENIED
    exit_code = EXIT_PERMISSION_DENIED


class NotTrusted(RingstoreError):
    """A TLS handshake failed on a certificate, or one side spoke TLS and the other plaintext:
    the node's certificate is not signed by the CA this client trusts, has expired or does not
    name the address dialled. Not retried: the same handshake fails the same way."""

    code = grpc.StatusCode.UNAVAILABLE
    exit_code = EXIT_DENIED


class Internal(RingstoreError):
    """The server (or this client) broke its own contract; worth a bug report."""

    code = grpc.StatusCode.INTERNAL
    exit_code = EXIT_OTHER


_CLASS_BY_CODE: dict[grpc.StatusCode, type[RingstoreError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument, NotFound, AlreadyExists, FailedPrecondition, OutOfRange, Unavailable,
        DeadlineExceeded, DataLoss, ResourceExhausted, Unauthenticated, PermissionDenied, Internal,
    )
}


def class_for_code(code: grpc.StatusCode) -> type[RingstoreError]:
    """The exception class raised for a gRPC status (the base class when it has none)."""
    return _CLASS_BY_CODE.get(code, RingstoreError)


def one_line(message: str) -> str:
    """`message` as one line of at most MESSAGE_CHARS_MAX characters."""
    line = " ".join(message.split())
    if len(line) > MESSAGE_CHARS_MAX:
        line = line[: MESSAGE_CHARS_MAX - 3] + "..."
    return line


def from_status(code: grpc.StatusCode, message: str) -> RingstoreError:
    """The exception for a status and its message; an empty message becomes the status name."""
    assert code != grpc.StatusCode.OK, "an OK status is not an error"
    text = one_line(message) or code.name.lower().replace("_", " ")
    return class_for_code(code)(text, code=code)


def from_rpc_error(err: grpc.RpcError) -> RingstoreError:
    """The exception for a failed call, keeping the server's one-line message (`err.details()`).

    A `grpc.RpcError` that is not a call (it has no `code()`) is reported as UNKNOWN.
    """
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    code = code_fn() if callable(code_fn) else None
    details = details_fn() if callable(details_fn) else None
    if not isinstance(code, grpc.StatusCode) or code == grpc.StatusCode.OK:
        code = grpc.StatusCode.UNKNOWN
    if code == grpc.StatusCode.UNAVAILABLE:
        explained = tls.explain(details or "")
        if explained:
            return NotTrusted(explained, code=code)
    return from_status(code, details or "")
