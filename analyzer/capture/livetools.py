"""What every live capture engine shares: its errors in one sentence, its statistics, the packet
it hands over, and the watchdog that ends the capture tools if socketscope itself is killed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from analyzer.capture.pcapfile import RawPacket

__all__ = ["LiveError", "LiveStats", "StreamPacket", "Watchdog", "classify_tool_error"]


class LiveError(Exception):
    """The capture could not start (or died). `kind` says why; `str()` is one sentence for the user."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "permission" | "no-such-interface" | "bad-filter" | "missing-tool" | "failed"


@dataclass(slots=True)
class LiveStats:
    packets: int = 0  # handed to on_packet
    bytes: int = 0
    kernel_dropped: int | None = None  # None: the tool did not say
    interface_dropped: int | None = None
    tool: str = ""
    error: str | None = None  # the tool stopped by itself with this message

    def to_dict(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "bytes": self.bytes,
            "kernel_dropped": self.kernel_dropped,
            "interface_dropped": self.interface_dropped,
            "tool": self.tool,
            "error": self.error,
        }


_GRANT = (
    "run socketscope as root, or grant the capture tool the capabilities with "
    "`sudo setcap cap_net_raw,cap_net_admin+eip $(which {tool})`"
)


def classify_tool_error(tool: str, interface: str, stderr: str) -> LiveError:
    """Turn tcpdump's / dumpcap's complaint into one clear sentence."""
    low = stderr.lower()
    if "permission" in low or "operation not permitted" in low:
        return LiveError(
            "permission",
            f"capturing on {interface} needs the CAP_NET_RAW and CAP_NET_ADMIN privileges, "
            f"which {tool} does not have: " + _GRANT.format(tool=tool) + ".",
        )
    if "no such device" in low or "there is no device named" in low or "doesn't exist" in low:
        return LiveError(
            "no-such-interface",
            f"there is no network interface named {interface!r} (list them with `ip link` or `tcpdump -D`).",
        )
    if "filter" in low and ("syntax error" in low or "parse" in low or "invalid" in low):
        detail = next((ln.strip() for ln in stderr.splitlines() if "filter" in ln.lower()), "")
        return LiveError("bad-filter", f"the capture filter is not valid BPF syntax ({detail}).")
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "no message")
    return LiveError("failed", f"{tool} could not capture on {interface}: {last}")


# ---------------------------------------------------------------------------------------------------------
# the capture tools never outlive socketscope

# The watchdog's program: wait for "stop" on stdin; at end of file without it (socketscope died,
# even by SIGKILL: the kernel closes the pipe), kill the tools and their process groups.
_WATCHDOG = """
import os, signal, sys
if sys.stdin.readline().strip() != "stop":
    for pid in map(int, sys.argv[1:]):
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
"""


class Watchdog:
    """A small process that kills the capture tools if socketscope dies without stopping them.

    The tools run in their own session (Ctrl-C reaches socketscope only, which stops them in
    order), so nothing else would stop them: re-parented to PID 1, they would capture on.
    prctl(PR_SET_PDEATHSIG) is no answer: Linux clears it when tcpdump drops its privileges
    (to the tcpdump user) and when it runs a binary with file capabilities (a setcap'd dumpcap).
    The watchdog holds the read end of a pipe whose write end only socketscope has: `disarm()`
    writes "stop" (a normal stop); socketscope's death closes it (end of file: kill)."""

    def __init__(self, pids: list[int]) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._w: int | None = None
        self._lock = threading.Lock()
        if not sys.executable:
            return
        r, w = os.pipe()  # neither end inherited by other children (O_CLOEXEC)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG, *map(str, pids)],
                stdin=r,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # not stopped by a Ctrl-C or SIGHUP meant for socketscope
            )
        except OSError:
            os.close(w)
            return
        finally:
            os.close(r)
        self._w = w

    def disarm(self) -> None:
        """The tools are being stopped in order (before anything reaps them: their PIDs stay theirs)."""
        with self._lock:
            w, self._w = self._w, None
        if w is not None:
            with contextlib.suppress(OSError):
                os.write(w, b"stop\n")
            os.close(w)
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# ---------------------------------------------------------------------------------------------------------
# pcap stream parsing (sans-IO) and pcapng writing


@dataclass(frozen=True, slots=True)
class StreamPacket:
    packet: RawPacket
    ticks: int  # timestamp in units of 10**-resolution s (the float in `packet.ts` cannot hold nanoseconds)
