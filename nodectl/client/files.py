"""Writing a local file so that it is never seen half-written: `nodectl get` and `nodectl sync`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomically(destination: Path, write: Callable[[IO[bytes]], object], *, prefix: str | None = None,
                     private: bool = False, before_replace: Callable[[], None] | None = None) -> None:
    """write(f) into a temp file beside destination (named `prefix`..., default `.NAME.`...`.part`),
    fsync, call `before_replace()` (it may raise to leave destination alone), then rename it over
    destination. The file gets the usual new-file mode, or 0600 when `private`; the temp file is
    removed whatever fails."""
    fd, temp_name = tempfile.mkstemp(dir=destination.parent or Path("."),
                                     prefix=f".{destination.name}." if prefix is None else prefix,
                                     suffix=".part" if prefix is None else "")
    try:
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the usual new-file mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(temp_name, destination)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
