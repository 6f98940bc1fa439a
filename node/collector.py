"""Keeping Python's cyclic garbage collector out of request latency, and letting operators see it.

A full (oldest-generation) collection holds the GIL while it walks every tracked container in the
process, and every request the node is serving waits for it. Right after start-up a node holds
about 55,000 such objects (the modules of gRPC, protobuf's descriptors, cryptography, aiohttp, our
own code), none of which will ever be garbage: under a load of 4 KiB gets and puts a full
collection took 22-24 ms on a coordinator and once 122 ms on a metadata home on this machine, and
every request in flight waited it out (docs/performance.md, "Session 21").

So once the node is serving, everything allocated so far moves to the collector's permanent
generation (`gc.freeze`): later full collections walk only what was allocated since (0.2-2 ms).
The collector itself stays on, with CPython's thresholds, for the cycles request handling does
make (exceptions with their tracebacks, gRPC call state). The frozen objects are never freed,
which costs nothing here: they live as long as the process anyway.

`PauseMeter` times every collection (`ringstore_python_gc_pause_seconds{generation}`), so a tail latency
that lines up with collector pauses shows on the node's metrics.

Rejected: turning the collector off (`gc.disable`). Reference cycles made while serving would then
never be freed, and a node runs for months.
"""

from __future__ import annotations

import gc
import time
from typing import Callable


def freeze_startup_objects() -> int:
    """Collect what start-up left, then exempt every surviving object from later collections;
    returns how many objects are now frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class PauseMeter:
    """Calls `observe(generation, seconds)` after every collection while started."""

    def __init__(self, observe: Callable[[int, float], None]) -> None:
        self._observe = observe
        self._started_at = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        # Collections run one at a time, on whichever thread allocated past the threshold,
        # holding the GIL from "start" to "stop".
        if phase == "start":
            self._started_at = time.perf_counter()
        else:
            self._observe(info["generation"], time.perf_counter() - self._started_at)

    def start(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
