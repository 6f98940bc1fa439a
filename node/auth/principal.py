"""Who is calling: the access key the client port's interceptor verified (or the share link it
checked, or nobody for a public read), for the handlers below it.

The interceptor (node/api/auth.py) sets it for the duration of one call, on the worker thread that
serves the call; a streamed answer keeps it while it is produced. None means nobody was checked: a
node started --insecure, or a call between nodes on the peer port (a node acts as itself).
"""

from __future__ import annotations

import contextvars
import dataclasses

from ringstore.auth.keys import AccessKey
from ringstore.auth.links import LinkGrant

@dataclasses.dataclass(frozen=True)
class Anonymous:
    """A call with no signature at all, let through to the few ObjectService reads a public-read
    bucket answers (node/auth/policy.py refuses it everything else, as UNAUTHENTICATED)."""

    key_id: str = "anonymous"
    tenant: str = ""
    role: str = "anonymous"
    read_only: bool = True
    bucket: str = ""
    prefix: str = ""


ANONYMOUS = Anonymous()


@dataclasses.dataclass(frozen=True)
class LinkHolder:
    """A call with no signature that carried a valid share link (node/auth/links.py): it may get
    and stat the link's one object, in the link's range, and only while the key that granted it
    may still read that object (node/auth/policy.py)."""

    grant: LinkGrant
    grantor: AccessKey
    role: str = "link"
    read_only: bool = True

    @property
    def key_id(self) -> str:
        return f"share link {self.grant.link_id}"

    @property
    def tenant(self) -> str:
        return ""


Caller = AccessKey | Anonymous | LinkHolder | None

_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("ringstore_caller", default=None)


def caller() -> Caller:
    return _caller.get()


def set_caller(key: Caller) -> contextvars.Token:
    return _caller.set(key)


def reset_caller(token: contextvars.Token) -> None:
    try:
        _caller.reset(token)
    except ValueError:  # a streamed answer closed from another thread (a cancelled call)
        _caller.set(None)
