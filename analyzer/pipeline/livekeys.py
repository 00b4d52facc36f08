"""A key log that is still being written: `socketscope live --keylog FILE` while the browser (or
node, or Python) appends to it.

A TLS 1.3 client writes its handshake secrets when it has read the ServerHello, and its traffic
secrets a moment later, so the capture often shows the server's flight before the line is in
the file. `GrowingKeyLog.secret` reads the lines added since the last read when a secret is
missing (at most every `MIN_INTERVAL` s), and polls the files while a client_random is less than
`wait` seconds past its first missing secret (so a random that never gets a line costs `wait`
once, however many secrets are asked for). Bounded: `MAX_KEYLOG_BYTES` read per file in all, a
partial last line of at most 2 x MAX_LINE kept, `MAX_WAITED` randoms remembered. A file that
shrank (rotated, truncated) is read again from its start. Nothing read is ever printed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from analyzer.protocols.tls.keylog import MAX_LINE, KeyLog

__all__ = ["MAX_KEYLOG_BYTES", "GrowingKeyLog"]

MAX_KEYLOG_BYTES = 64 << 20  # read from one file over the whole run (= cli.common's limit)
MIN_INTERVAL = 0.05  # seconds between two reads when a secret is missing
POLL = 0.02  # seconds between two reads while waiting for a client_random's line
MAX_WAITED = 10_000  # client randoms waited for (each for `wait` s at most, in all)


class _Tail:
    """One file, read from where the last read stopped; only complete lines are handed on."""

    __slots__ = ("line", "partial", "path", "pos")

    def __init__(self, path: str) -> None:
        self.path = path
        self.pos = 0
        self.partial = b""
        self.line = 1  # number of the next complete line

    def read(self) -> bytes:
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < self.pos:  # truncated or replaced: from the start again
                    self.pos, self.partial, self.line = 0, b"", 1
                room = MAX_KEYLOG_BYTES - self.pos
                if room <= 0 or size == self.pos:
                    return b""
                fh.seek(self.pos)
                data = fh.read(min(size - self.pos, room))
        except OSError:
            return b""  # not there yet, or gone: the next read tries again
        self.pos += len(data)
        data = self.partial + data
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        self.partial = data[cut + 1 :][: 2 * MAX_LINE]
        return data[: cut + 1]


class GrowingKeyLog(KeyLog):
    """A KeyLog over files that grow while the capture runs (see the module's docstring)."""

    __slots__ = ("_clock", "_deadlines", "_last", "_sleep", "_tails", "wait")

    def __init__(
        self,
        paths: list[str],
        wait: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self._tails = [_Tail(p) for p in paths]
        self.wait = wait
        self._clock = clock
        self._sleep = sleep
        self._last = float("-inf")
        self._deadlines: dict[bytes, float] = {}  # client_random -> end of its wait
        self.refresh()

    def refresh(self) -> None:
        """Take in the complete lines written since the last read."""
        self._last = self._clock()
        for tail in self._tails:
            first = tail.line
            data = tail.read()
            if data:
                tail.line += data.count(b"\n") + data.replace(b"\r\n", b"\n").count(b"\r")
                self.add_text(data, tail.path, first)

    def secret(self, label: str, client_random: bytes) -> bytes | None:
        found = super().secret(label, client_random)
        if found is not None:
            return found
        if self._clock() - self._last >= MIN_INTERVAL:
            self.refresh()
            found = super().secret(label, client_random)
        if found is None:
            deadline = self._deadlines.get(client_random)
            if deadline is None:
                if len(self._deadlines) >= MAX_WAITED:
                    return None
                deadline = self._deadlines[client_random] = self._clock() + self.wait
            while found is None and self._clock() < deadline:
                self._sleep(POLL)
                self.refresh()
                found = super().secret(label, client_random)
        return found
