"""Helpers of the live-capture tests: they capture on `lo` as root (CI runs them as root).

Every process started here is bounded in time and stopped by its own PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root() -> None:
    if os.geteuid() != 0:
        pytest.skip("live capture tests run as root (CI does); see docs/live.md")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Proc:
    """A subprocess whose stderr is collected line by line (so readiness can be awaited)."""

    def __init__(self, cmd: list[str], stdout: int | None = subprocess.PIPE, **kw: object) -> None:
        self.cmd = cmd
        self.p = subprocess.Popen(
            cmd, stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT, text=True, **kw
        )
        self.err: list[str] = []
        self._out: list[str] = []
        self._got = threading.Condition()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        self._to = threading.Thread(target=self._read_out, daemon=True)  # never let stdout fill up
        self._to.start()

    def _read_out(self) -> None:
        if self.p.stdout is not None:
            for line in self.p.stdout:
                self._out.append(line)

    def _read(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            with self._got:
                self.err.append(line)
                self._got.notify_all()
        with self._got:
            self._got.notify_all()

    def wait_for(self, text: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._got:
            while not any(text in line for line in self.err):
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and not self._t.is_alive()):
                    return False
                self._got.wait(min(left, 0.1))
            return True

    def interrupt(self, timeout: float = 60.0) -> int:
        """SIGINT (Ctrl-C) to this process only, then wait; killed if it outlives the timeout."""
        if self.p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.p.pid, signal.SIGINT)
        return self.finish(timeout)

    def finish(self, timeout: float = 60.0) -> int:
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)
        self._t.join(10)
        self._to.join(10)
        for f in (self.p.stdout, self.p.stderr):
            if f is not None:
                f.close()
        return self.p.returncode

    @property
    def out(self) -> str:
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)


@contextlib.contextmanager
def live(*args: str, ready: float = 30.0) -> Iterator[Proc]:
    """`socketscope live ARGS` until the block ends; Ctrl-C then (a second stop is harmless)."""
    proc = Proc([sys.executable, "-m", "analyzer.cli", "live", *args])
    try:
        if not proc.wait_for("socketscope: capturing on", ready):
            proc.finish(5)
            raise AssertionError(f"live did not start: {proc.stderr}")
        yield proc
    finally:
        if proc.p.poll() is None:
            proc.interrupt()


def burst(port: int, total: int = 2 << 20, chunk: int = 64 << 10) -> int:
    """A local TCP server and client: `total` bytes in `chunk`-byte writes; returns what arrived."""
    got = [0]
    with socket.socket() as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen(1)
        srv.settimeout(10)

        def serve() -> None:
            conn, _ = srv.accept()
            conn.settimeout(10)
            with conn:
                while data := conn.recv(1 << 20):
                    got[0] += len(data)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as cl:
            block = b"\x5a" * chunk
            for _ in range(total // chunk):
                cl.sendall(block)
        t.join(10)
    return got[0]
