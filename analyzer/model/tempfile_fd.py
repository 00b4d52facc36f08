"""An append-only unnamed temporary file, made at the first write (no file for small spills)."""

from __future__ import annotations

import os
import tempfile

__all__ = ["AppendFile"]


class AppendFile:
    __slots__ = ("fd", "size")

    def __init__(self) -> None:
        self.fd = -1
        self.size = 0  # bytes written

    def write(self, data: bytes | bytearray) -> None:
        if self.fd < 0:
            self.fd, name = tempfile.mkstemp(prefix="socketscope-")
            os.unlink(name)  # the descriptor keeps the file until close()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        self.size += len(data)

    def pread(self, length: int, offset: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()
