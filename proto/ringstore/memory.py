"""Bounding a process's resident memory: fewer malloc arenas, for noded (first thing in node/entry.py)
and for the clients that move chunks through several threads (nodectl, the benches).

glibc gives each thread that allocates under contention an arena of its own, up to eight per core,
and keeps what is freed in each for reuse. A node moves 4 MiB chunks through dozens of threads
(gRPC's pollers, the handler pools, the send and chunk pools), so freed chunk buffers piled up in
one arena after another: the coordinator of a 1 GiB put peaked at 217 MiB resident, holders at
110-150 MiB, against the 150 MiB a node may use (docs/performance.md). Two arenas brought the same
put to 148 MiB and holders to about 100 MiB at the same CPU per MB (12.2 against 12.0 ms, within
noise), since threads seldom wait on an arena lock while the GIL serialises them anyway. A client
reading chunks straight from their holders (nodectl/client/direct.py) receives each 4 MiB chunk on
the gRPC thread of that holder's channel: a 1 GiB get peaked at 240-266 MiB resident, 134-139 with
two arenas (91 for the same get streamed through one node).

Rejected: a fixed mmap threshold (MALLOC_MMAP_THRESHOLD_=1 MiB, so every chunk buffer is mapped and
unmapped): 125 MiB at the coordinator, but 30 % more CPU per MB put, all of it page faults on fresh
mappings. And environment variables in cluster-sim and the systemd unit: every way of starting a
node would have to remember them. A library cannot choose for the program that imports it: programs
using `nodectl.client` for large reads call `bound_malloc_arenas()` first, or set MALLOC_ARENA_MAX.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger("ringstore.daemon")

MALLOC_ARENAS_MAX = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def bound_malloc_arenas(arenas: int = MALLOC_ARENAS_MAX) -> bool:
    """Cap glibc's malloc arenas for this process; False (and nothing changed) off glibc, or when
    the operator already chose with MALLOC_ARENA_MAX."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except (ValueError, OSError, AttributeError):
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))
