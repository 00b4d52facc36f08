"""The tshark engine: Wireshark's capture library and file readers (through pyshark) as the packet source.

`open_tshark_capture(path)` reads a file with `pyshark.FileCapture(use_json=True, include_raw=True)`;
`TsharkLiveSource` captures with dumpcap + tshark through a `pyshark.LiveCapture`. Either way
each packet's raw frame bytes (`frame_raw`), frame number, length and timestamp come from
tshark and become a RawPacket fed to the same pipeline as the builtin engine.

tshark prints timestamps in decimal nanoseconds and knows link types as Wireshark
encapsulations, not pcap LINKTYPE values. For files, the link type and the timestamp
resolution of each interface are read from the file's headers (pcap header, pcapng
interface blocks), so the floats equal the builtin reader's to the last bit and both
engines give identical analyses. Live, the timestamp is kept in nanosecond ticks and
the encapsulation is mapped back to its LINKTYPE.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import queue
import re
import shutil
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from analyzer.capture.livetools import LiveError, LiveStats, StreamPacket, Watchdog, classify_tool_error
from analyzer.capture.pcapfile import (
    PCAP_MAGICS,
    CaptureError,
    CaptureReader,
    RawPacket,
    idb_time_options,
    open_capture,
)

__all__ = ["TsharkLiveSource", "TsharkReader", "open_tshark_capture", "probe_layout"]

# Wireshark's WTAP_ENCAP_* (frame.encap_type, checked against tshark 4.0) -> tcpdump.org LINKTYPE_*
WTAP_TO_LINKTYPE = {1: 1, 7: 101, 15: 0, 25: 113, 129: 228, 130: 229, 174: 108, 210: 276}
_NS = 10**9
# Only the frame layer in the JSON (raw bytes + metadata); only packet records: tshark 4 also lists
# pcapng custom blocks as frames, without a timestamp (which pyshark 0.6 cannot parse).
_TSHARK_ARGS = ["-j", "frame", "-Y", "frame.time_epoch"]
_POW10: list[int] = [10**k for k in range(10)]
# dumpcap.c: "Packets received/dropped on interface 'lo': 75/0 (pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) ..."
_DUMPCAP_STATS = re.compile(r"received/dropped on interface .*: (\d+)/(\d+)(?: \(.*?ps_ifdrop:(\d+)\))?")


@dataclass(frozen=True, slots=True)
class Interface:
    linktype: int
    decimal: int | None  # timestamp resolution 10**-decimal s, or None when binary
    unit: float
    offset: float


def probe_layout(path: str) -> tuple[str, list[Interface]]:
    """("pcap" | "pcapng", interfaces) from the file's headers only (block bodies are skipped).

    pcap: the file header (tcpdump.org pcap format); pcapng: every Interface Description
    Block, numbered across sections as tshark numbers them (draft-ietf-opsawg-pcapng §4.2).
    """
    with open(path, "rb") as fh:
        head = fh.read(24)
        if head[:4] in PCAP_MAGICS:
            endian, unit = PCAP_MAGICS[head[:4]]
            linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF
            return "pcap", [Interface(linktype, 9 if unit < 1e-7 else 6, unit, 0.0)]
        interfaces: list[Interface] = []
        fh.seek(0)
        endian = "<"
        while True:
            bh = fh.read(8)
            if len(bh) < 8:
                break
            if bh[:4] == b"\x0a\x0d\x0d\x0a":
                bom = fh.read(4)
                endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                blen = struct.unpack(endian + "I", bh[4:8])[0]
                if blen < 28 or blen > 256 << 20:
                    break
                fh.seek(blen - 12, os.SEEK_CUR)
                continue
            btype, blen = struct.unpack(endian + "II", bh)
            if blen < 12 or blen % 4 or blen > 256 << 20:
                break
            if btype != 1:
                fh.seek(blen - 8, os.SEEK_CUR)
                continue
            body = fh.read(blen - 8)[:-4]
            if len(body) < 8:
                break
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            interfaces.append(_interface(linktype, body[8:], endian))
        return "pcapng", interfaces


def _interface(linktype: int, opts: bytes, endian: str) -> Interface:
    """if_tsresol (9) and if_tsoffset (14), read exactly as analyzer/capture/pcapfile.py reads them."""
    unit, offset, decimal = idb_time_options(opts, endian)
    return Interface(linktype, decimal, unit, offset)


def epoch_ns(text: str) -> int:
    """tshark's frame.time_epoch ("1795632654.438270000") as integer nanoseconds."""
    sec, _, frac = text.strip().partition(".")
    neg = sec.startswith("-")
    whole = int(sec or "0")
    ns = int((frac[:9]).ljust(9, "0") or "0")
    return whole * _NS - ns if neg else whole * _NS + ns


def file_timestamp(ns: int, fmt: str, iface: Interface) -> float:
    """The float the builtin reader computes for this packet (pcapfile.py's formulas)."""
    if fmt == "pcap":
        sec, rest = divmod(ns, _NS)
        frac = rest if iface.decimal == 9 else rest // 1000
        return sec + frac * iface.unit
    ns -= int(iface.offset) * _NS
    if iface.decimal is not None and iface.decimal <= 9:
        ticks = ns // _POW10[9 - iface.decimal]
    else:
        ticks = round(ns / 1e9 / iface.unit)
    return ticks * iface.unit + iface.offset


def _packets(loop: asyncio.AbstractEventLoop, cap: Any, proc: Any) -> Iterator[Any]:
    """pyshark's packets from a running tshark, read in `loop` (as FileCapture's iterator does)."""
    parser = cap._setup_tshark_output_parser()
    data = b""
    n = 0
    while True:
        try:
            packet, data = loop.run_until_complete(
                parser.get_packets_from_stream(proc.stdout, data, got_first_packet=n > 0)
            )
        except EOFError:
            return
        if packet:
            n += 1
            yield packet


def _finish(loop: asyncio.AbstractEventLoop, cap: Any, procs: tuple[Any, ...], grace: float = 5.0) -> None:
    """Reap the processes before anything polls them, then close the loop.

    pyshark's own cleanup kills tshark with Popen.kill(), whose poll() can reap the process
    before asyncio's child watcher does ("Unknown child process", return code 255, a
    spurious TSharkCrashException): processes are awaited here instead, and killed only
    if they outlive the capture.
    """
    try:
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.sleep(0))  # pending child-watcher callbacks set returncode
        for proc in procs:
            if proc is None or proc.returncode is not None:
                continue
            try:
                loop.run_until_complete(asyncio.wait_for(proc.wait(), grace))
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.wait_for(proc.wait(), 5))
        cap._running_processes.clear()  # nothing left for pyshark's __del__ to close
        tasks = list(cap._stderr_handling_tasks)
        if tasks:  # the processes are gone: their stderr readers reach the end at once
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.wait(tasks, timeout=grace or 0.5))
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        for proc in procs:
            transport = getattr(proc, "_transport", None)  # closes the pipes (asyncio keeps them open)
            if transport is not None:
                transport.close()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()


class TsharkReader(CaptureReader):
    """A CaptureReader whose packets come from pyshark (same attributes: path, format, error, ...)."""

    def __init__(self, path: str, fmt: str, interfaces: list[Interface], tshark: str | None = None) -> None:
        super().__init__(path, io.BytesIO(), fmt)
        self.interfaces = interfaces
        self.tshark = tshark
        self.link_types = [i.linktype for i in interfaces]

    def __iter__(self) -> Iterator[RawPacket]:
        import pyshark

        loop = asyncio.new_event_loop()
        cap = pyshark.FileCapture(
            self.path,
            keep_packets=False,
            use_json=True,
            include_raw=True,
            tshark_path=self.tshark,
            custom_parameters=_TSHARK_ARGS,
            eventloop=loop,
        )
        fmt, interfaces = self.format, self.interfaces
        proc: Any = None
        ended = False
        try:
            proc = loop.run_until_complete(cap._get_tshark_process())
            # packets only (see _TSHARK_ARGS), numbered as the builtin reader numbers them
            for frame, p in enumerate(_packets(loop, cap, proc), 1):
                fi = p.frame_info
                iface_id = int(fi.get_field("interface_id") or 0) if fmt == "pcapng" else 0
                iface = interfaces[iface_id] if iface_id < len(interfaces) else Interface(1, 6, 1e-6, 0.0)
                data = p.get_raw_packet()
                self.packets += 1
                self.bytes += len(data)
                ts_ns = epoch_ns(str(fi.time_epoch))
                ts = file_timestamp(ts_ns, fmt, iface)
                yield RawPacket(frame, ts, iface.linktype, data, max(int(fi.len), len(data)), iface_id, ts_ns)
            ended = True
            rc = loop.run_until_complete(asyncio.wait_for(proc.wait(), 60))
            loop.run_until_complete(asyncio.wait_for(asyncio.gather(*cap._stderr_handling_tasks), 10))
            if rc != 0:
                text = str(cap._last_error_line or f"tshark exit status {rc}")
                self.error_kind = "truncated" if "cut short" in text else "corrupt"
                self.error = "tshark: " + text[:300]
        finally:
            _finish(loop, cap, (proc,), 5.0 if ended else 0.0)  # abandoned early: kill tshark now

    def close(self) -> None:
        pass  # nothing open between iterations: tshark runs while the packets are read

    def offset(self) -> int:
        return -1  # tshark reads the file: how far it has got is not known here


def open_tshark_capture(path: str, tshark: str | None = None) -> TsharkReader:
    """Like open_capture(): raises CaptureError (one line) when the file is not a capture at all."""
    open_capture(path).close()  # the same "not a capture" answers as the builtin engine
    if shutil.which(tshark or "tshark") is None:
        raise CaptureError("tshark is not installed (apt install tshark), needed by --engine tshark")
    fmt, interfaces = probe_layout(path)
    return TsharkReader(path, fmt, interfaces, tshark)


# ---------------------------------------------------------------------------------------------------------
# live: dumpcap | tshark through pyshark


def _live_capture_class() -> Any:
    """A pyshark LiveCapture whose processes socketscope starts itself (pyshark 0.6 internals, kept small).

    dumpcap -> relay threads -> tshark -> pyshark: the relay reads dumpcap's pipe at once, so
    dumpcap never waits on tshark (which needs about a second to start and is slower than the
    network on big packets) and the kernel ring never overflows because of it; both tools run
    in their own session (Ctrl-C reaches socketscope only, which then stops dumpcap first so
    tshark dissects everything dumpcap captured); dumpcap's stderr gives readiness and drops.
    """
    import pyshark

    class _Live(pyshark.LiveCapture):  # type: ignore[misc]
        owner: TsharkLiveSource

        def _verify_capture_parameters(self) -> None:
            pass  # checked beforehand with dumpcap -d (clearer messages)

        async def _get_tshark_process(self, packet_count: int | None = None, stdin: Any = None) -> Any:
            src = self.owner
            cap_read, cap_write = os.pipe()
            dumpcap = await asyncio.create_subprocess_exec(
                *src.dumpcap_command(),
                stdout=cap_write,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            os.close(cap_write)
            src.dumpcap = dumpcap
            self._stderr_handling_tasks.append(asyncio.ensure_future(src.read_dumpcap_stderr(dumpcap.stderr)))
            self._running_processes.add(dumpcap)
            ts_read, ts_write = os.pipe()
            params = [self._get_tshark_path(), "-l", "-n", "-T", "json"]
            params += [*self.get_parameters(packet_count=packet_count), "--no-duplicate-keys"]
            tshark = await asyncio.create_subprocess_exec(
                *params,
                stdin=ts_read,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            os.close(ts_read)
            self._create_stderr_handling_task(tshark.stderr)
            self._created_new_process(params, tshark)
            src.tshark = tshark
            src.watchdog = Watchdog([dumpcap.pid, tshark.pid])  # they die with socketscope
            src.start_relay(cap_read, ts_write)
            return tshark

    return _Live


def _relay_in(fd: int, chunks: queue.Queue[bytes | None]) -> None:
    try:
        while True:
            try:
                data = os.read(fd, 1 << 20)
            except OSError:
                break
            if not data:
                break
            chunks.put(data)
    finally:
        os.close(fd)
        chunks.put(None)


def _relay_out(fd: int, chunks: queue.Queue[bytes | None]) -> None:
    broken = False
    try:
        while True:
            data = chunks.get()
            if data is None:
                break
            view = memoryview(data)
            while view and not broken:
                try:
                    view = view[os.write(fd, view) :]
                except OSError:  # tshark is gone: keep draining dumpcap, drop the bytes
                    broken = True
    finally:
        os.close(fd)


class TsharkLiveSource:
    """Live packets from dumpcap, dissected by tshark and read through pyshark, in a thread."""

    tool = "dumpcap"

    def __init__(
        self,
        interface: str,
        bpf: str,
        deliver: Callable[[StreamPacket, int], None],
        *,
        buffer_mib: int = 64,
    ) -> None:
        self.interface = interface
        self.bpf = bpf
        self.deliver = deliver
        self.buffer_mib = buffer_mib
        self.dumpcap_path = shutil.which("dumpcap") or "dumpcap"
        self.dumpcap: Any = None
        self.tshark: Any = None
        self.watchdog: Watchdog | None = None
        self.linktype: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._stderr: list[str] = []
        self._relays: list[threading.Thread] = []
        self._frame = 0
        self.error: str | None = None

    def start_relay(self, read_fd: int, write_fd: int) -> None:
        chunks: queue.Queue[bytes | None] = queue.Queue(512)  # at most ~512 MiB in flight
        for target, fd in ((_relay_in, read_fd), (_relay_out, write_fd)):
            t = threading.Thread(target=target, args=(fd, chunks), name="socketscope-relay", daemon=True)
            t.start()
            self._relays.append(t)

    def dumpcap_command(self) -> list[str]:
        cmd = [self.dumpcap_path, "-i", self.interface, "-s", "0", "-B", str(self.buffer_mib), "-w", "-"]
        return cmd + (["-f", self.bpf] if self.bpf else [])

    async def read_dumpcap_stderr(self, stream: Any) -> None:
        while True:
            line = await stream.readline()
            if not line:
                break
            text = line.decode("utf-8", "replace").strip()
            if len(self._stderr) < 200:
                self._stderr.append(text)
            if text.startswith("File:"):
                self._ready.set()  # dumpcap opened the interface and its output (dumpcap.c)

    def _preflight(self) -> None:
        """dumpcap -d opens the interface and compiles the filter, then exits: the errors, early."""
        if shutil.which(self.dumpcap_path) is None:
            raise LiveError(
                "missing-tool", "dumpcap is not installed (apt install tshark), needed by --engine tshark."
            )
        try:
            import pyshark  # noqa: F401
        except ImportError:
            raise LiveError("missing-tool", "pyshark is not installed (pip install pyshark).") from None
        cmd = [self.dumpcap_path, "-i", self.interface, "-d"] + (["-f", self.bpf] if self.bpf else [])
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise LiveError("failed", "dumpcap did not answer within 20 s.") from None
        if "dumpcap:" in res.stderr or res.returncode != 0:
            raise classify_tool_error("dumpcap", self.interface, res.stderr)

    def start(self, timeout: float = 10.0) -> None:
        self._preflight()
        self._thread = threading.Thread(target=self._run, name="socketscope-tshark", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.02):
            if self._done.is_set() or time.monotonic() > deadline:
                self.stop(5.0)
                raise classify_tool_error(
                    "dumpcap", self.interface, "\n".join(self._stderr) or "did not start"
                )

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        cap: Any = None
        try:
            cap = _live_capture_class()(
                interface=self.interface,
                use_json=True,
                include_raw=True,
                eventloop=loop,
                custom_parameters=_TSHARK_ARGS,
            )
            cap.owner = self
            proc = loop.run_until_complete(cap._get_tshark_process())
            for p in _packets(loop, cap, proc):
                self._on_packet(p)
        except Exception as exc:  # reported by stop()
            self.error = f"tshark: {exc}".splitlines()[0][:300]
        finally:
            self._ready.set()
            self._disarm()
            if cap is not None:
                _finish(loop, cap, (self.dumpcap, self.tshark), 5.0)
            else:
                loop.close()
            self._done.set()

    def _on_packet(self, p: Any) -> None:
        fi = p.frame_info
        data = p.get_raw_packet()
        linktype = WTAP_TO_LINKTYPE.get(int(fi.get_field("encap_type") or 1), 1)
        self.linktype = linktype
        ticks = epoch_ns(str(fi.time_epoch))
        self._frame += 1
        pkt = RawPacket(
            self._frame, ticks * 10.0**-9 + 0.0, linktype, data, max(int(fi.len), len(data)), 0, ticks
        )
        self.deliver(StreamPacket(pkt, ticks), 9)

    def wait(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

    def _disarm(self) -> None:
        if self.watchdog is not None:
            self.watchdog.disarm()

    def stop(self, timeout: float = 10.0) -> LiveStats:
        self._disarm()
        dumpcap = self.dumpcap
        if dumpcap is not None and dumpcap.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(dumpcap.pid, signal.SIGINT)  # dumpcap flushes and exits; tshark reads to the end
        if not self._done.wait(timeout):
            for proc in (self.tshark, self.dumpcap):  # still running after the grace time
                if proc is not None and proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGKILL)
            self._done.wait(10.0)
        if self._thread is not None:
            self._thread.join(timeout)
        for t in self._relays:
            t.join(5.0)
        stats = LiveStats(tool="dumpcap", error=self.error)
        for line in self._stderr:
            m = _DUMPCAP_STATS.search(line)
            if m:
                stats.kernel_dropped = (stats.kernel_dropped or 0) + int(m.group(2))
                if m.group(3) is not None:
                    stats.interface_dropped = (stats.interface_dropped or 0) + int(m.group(3))
        return stats
