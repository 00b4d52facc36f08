"""The recorder of the capture scripts (captures/make_captures.py, captures/tls/, captures/h2/):
tcpdump (or dumpcap) on `lo` for the scenario's ports, started before the applications and
stopped with SIGINT after them. Needs root (or the capture capabilities)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

__all__ = ["Recorder"]


class Recorder:
    """Records the TCP `ports` on `lo` into `path` (pcap; pcapng with dumpcap). `buffer_kib`:
    tcpdump's buffer (-B), for bursts the default overflows. The tool's messages go to `log`
    (a temporary file when not given). A context manager, or start() and stop()."""

    def __init__(
        self,
        ports: Iterable[int],
        path: Path,
        tool: str = "tcpdump",
        buffer_kib: int | None = None,
        log: Path | None = None,
    ) -> None:
        self.path = path
        self.log = log
        expr = " or ".join(f"tcp port {p}" for p in ports)
        if tool == "dumpcap":
            self.cmd = ["dumpcap", "-i", "lo", "-s", "0", "-f", expr, "-w", str(path)]
            self.ready_marker = "Capturing on"
        else:
            buffer = ["-B", str(buffer_kib)] if buffer_kib else []
            self.cmd = ["tcpdump", *buffer, "-Z", "root", "-i", "lo", "-s", "0", "-U", "--immediate-mode"]
            self.cmd += ["-w", str(path), expr]
            self.ready_marker = "listening on"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_fh: IO[bytes] | None = None
        self._own_log = False

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log is not None else ""

    def start(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.log is None:
            fd, name = tempfile.mkstemp(prefix="recorder-", suffix=".log")
            os.close(fd)
            self.log, self._own_log = Path(name), True
        self._log_fh = self.log.open("wb")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self._log_fh)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self._log_text()
                self.stop()
                raise RuntimeError(f"{self.cmd[0]} exited early: {text}")
            if self.ready_marker in self._log_text() and self.path.exists():
                time.sleep(0.5)  # let the capture settle before the first SYN
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.cmd[0]} did not start listening within 10 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        time.sleep(0.5)  # let the last FIN/ACK reach the capture
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log_fh is not None:
            self._log_fh.close()
        if self._own_log and self.log is not None:
            self.log.unlink(missing_ok=True)
            self.log, self._own_log = None, False
        self.proc = None
        if self.path.exists():
            self.path.chmod(0o644)
