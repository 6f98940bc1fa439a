"""Which failures the client retries, and how long it waits between attempts.

Retries: UNAVAILABLE only (the node could not be reached, or too few live nodes), at most
`retries_max` times, with exponential backoff and jitter from an injected `random.Random`.
A put is retried only when its data can be replayed (bytes, a path, a seekable file); a get
that fails mid-stream resumes at the byte it reached, and only if the object's version is
unchanged. Nothing else is retried: INVALID_ARGUMENT or DATA_LOSS will not change on a retry.

The retry loop is `_Connection._retrying` (connection.py); a get's resume is
`ObjectReader._resume` (reader.py); both wait `retry_backoff_s` between attempts.

Rejected alternative: gRPC's built-in retry policy (service config) retries only before the
first response byte and cannot know whether a put's iterator can be replayed.
"""

from __future__ import annotations

import random

from nodectl.client.limits import RETRY_BACKOFF_S_MAX


def retry_backoff_s(base_s: float, attempt: int, rng: random.Random) -> float:
    """Wait before retry number `attempt` (0 for the first): base * 2**attempt, capped, jittered.

    Jitter draws from [50 %, 100 %] of the step so many clients retrying at once spread out.
    """
    step_s = min(RETRY_BACKOFF_S_MAX, base_s * (2 ** min(attempt, 30)))
    return step_s * (0.5 + 0.5 * rng.random())
