"""An append-only unnamed temporary file, made at the first write (no file for small spills)."""

from __future__ import annotations

import os
import tempfile

__all__ = ["AppendFile", "unnamed_temporary_fd"]


def unnamed_temporary_fd() -> int:
    """A new temporary file, open for reading and writing, with no name: the descriptor keeps it
    until it is closed, and nothing is left behind if the process dies."""
    fd, name = tempfile.mkstemp(prefix="socketscope-")
    os.unlink(name)
    return fd


class AppendFile:
    __slots__ = ("base", "fd", "size")

    def __init__(self) -> None:
        self.fd = -1
        self.size = 0  # bytes written
        self.base = 0  # where its bytes start in the file (a view: `AppendFile.view`)

    @classmethod
    def view(cls, fd: int, offset: int, length: int) -> AppendFile:
        """The `length` bytes at `offset` of the file `fd` (another process's, `--jobs`), to read
        only: a duplicate descriptor, closed with the view."""
        out = cls()
        out.fd = os.dup(fd) if length > 0 else -1
        out.base = offset
        out.size = max(0, length)
        return out

    def write(self, data: bytes | bytearray) -> None:
        if self.fd < 0:
            self.fd = unnamed_temporary_fd()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        self.size += len(data)

    def append_file(self, src: AppendFile) -> None:
        """Append the bytes of another AppendFile, copied by the kernel (copy_file_range(2))."""
        if src.size:
            self.append_range(src.fd, src.base, src.size)

    def append_range(self, fd: int, offset: int, length: int) -> None:
        """Append `length` bytes at `offset` of the file `fd`, copied by the kernel
        (copy_file_range(2)) where the file system can, else read and written here."""
        if length <= 0:
            return
        if self.fd < 0:
            self.write(b"")
        done = 0
        try:
            while done < length:
                n = os.copy_file_range(fd, self.fd, length - done, offset + done)
                if n == 0:
                    break
                done += n
        except OSError:
            pass  # not every file system copies: the rest goes through Python
        self.size += done
        while done < length:
            block = os.pread(fd, min(1 << 20, length - done), offset + done)
            if not block:
                break
            self.write(block)
            done += len(block)

    def pread(self, length: int, offset: int) -> bytes:
        return os.pread(self.fd, length, self.base + offset)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()
