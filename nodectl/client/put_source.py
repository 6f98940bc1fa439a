"""What a put reads from: bytes, a path, a seekable file or a pipe, as frames of FRAME_SIZE_BYTES.

A source knows its size when it can (the put then sends it, so the node rejects a file that
changes length mid-put) and whether it can be replayed: bytes, a path and a seekable file start
over from the same position on a retry; a pipe cannot, so a put from a pipe is never retried.
A pipe's short reads are gathered into whole frames, so a slow producer does not become
thousands of tiny messages.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any, BinaryIO

from nodectl.client.limits import FRAME_SIZE_BYTES


class _PutSource:
    """What a put reads from: its size when known, whether it can be replayed, and its frames."""

    def __init__(self, data: bytes | bytearray | memoryview | BinaryIO | os.PathLike[str]) -> None:
        self._bytes: memoryview | None = None
        self._path: os.PathLike[str] | None = None
        self._file: BinaryIO | None = None
        self._file_start = 0
        self.size_bytes: int | None = None
        self.replayable = True
        if isinstance(data, (bytes, bytearray, memoryview)):
            self._bytes = memoryview(data).cast("B")
            self.size_bytes = self._bytes.nbytes
        elif isinstance(data, os.PathLike):
            self._path = data
            self.size_bytes = os.stat(data).st_size
        elif isinstance(data, str):
            raise TypeError("put data is a str: pass bytes, a binary file, or a pathlib.Path")
        elif hasattr(data, "read"):
            self._file = data
            if _seekable(data):
                self._file_start = data.tell()
                self.size_bytes = data.seek(0, io.SEEK_END) - self._file_start
                data.seek(self._file_start)
            else:
                self.replayable = False
        else:
            raise TypeError(f"put data must be bytes, a binary file or a path, not {type(data)}")

    def frames(self) -> Iterator[bytes | memoryview]:
        """The payload in frames of at most FRAME_SIZE_BYTES, from the start, once per attempt."""
        if self._bytes is not None:
            for offset in range(0, self._bytes.nbytes, FRAME_SIZE_BYTES):
                yield self._bytes[offset:offset + FRAME_SIZE_BYTES]
        elif self._path is not None:
            with open(self._path, "rb") as f:
                yield from _file_frames(f)
        else:
            assert self._file is not None
            if self.replayable:
                self._file.seek(self._file_start)
            yield from _file_frames(self._file)


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _file_frames(f: BinaryIO) -> Iterator[bytes]:
    """Frames of FRAME_SIZE_BYTES (the last may be shorter). An unbuffered file (a pipe opened
    with buffering=0) returns what one read(2) gives, often a few KiB: those are gathered into a
    whole frame, so a slow pipe does not become thousands of tiny messages."""
    # Bounded by the file's length: every read returns at least one byte or ends the file.
    while True:
        frame = f.read(FRAME_SIZE_BYTES)
        if not frame:
            return
        if len(frame) < FRAME_SIZE_BYTES:
            pieces = [frame]
            size_bytes = len(frame)
            while size_bytes < FRAME_SIZE_BYTES:
                piece = f.read(FRAME_SIZE_BYTES - size_bytes)
                if not piece:
                    break
                pieces.append(piece)
                size_bytes += len(piece)
            frame = b"".join(pieces)
        yield frame
