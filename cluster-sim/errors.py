"""Errors cluster-sim raises: one base class, one subclass for a node process that died.

`ClusterError.message` is one line (the CLI prints only that); `detail` carries what each node saw
and the tail of its log, which pytest shows in full because `str()` includes it. We rejected
putting log tails into the one-line message: a CLI error that scrolls a screen hides its cause.
"""

from __future__ import annotations


class ClusterError(Exception):
    """The local cluster did not do what was asked (a timeout, a dead process, a bad directory)."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        assert "\n" not in message, f"ClusterError message must be one line: {message!r}"
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        if self.detail:
            return f"{self.message}\n{self.detail}"
        return self.message


class NodeExitedError(ClusterError):
    """A node process exited while we waited for it (e.g. exit code 3: wrong cluster secret)."""

    def __init__(self, node_id: str, exit_code: int | None, *, detail: str = "") -> None:
        super().__init__(f"{node_id} exited with code {exit_code} before it was serving",
                         detail=detail)
        self.node_id = node_id
        self.exit_code = exit_code


class ClusterTimeout(ClusterError):
    """A wait reached its deadline; `what` names what was awaited, `timeout_s` the deadline."""

    def __init__(self, what: str, timeout_s: float, *, detail: str = "") -> None:
        super().__init__(f"timed out after {timeout_s} s waiting for {what}", detail=detail)
        self.what = what
        self.timeout_s = timeout_s
