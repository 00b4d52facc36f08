"""Live capture: a capture tool in a subprocess, its packets handed over one by one as they arrive.

Engines:
- "builtin": `tcpdump -i IFACE -s 0 -U --immediate-mode -B 65536 --time-stamp-precision nano -w - [BPF]`,
  whose pcap stream is parsed here incrementally (`PcapStreamParser`). tcpdump with a large
  kernel buffer keeps every packet of multi-megabyte loopback bursts whole (65,549-byte
  loopback frames included); see docs/live.md for the measurements behind the choice.
- "tshark": dumpcap + tshark through pyshark (analyzer/capture/tshark.py).

`LiveCapture` is usable from any thread: `start()` returns once the tool is capturing,
`on_packet` is called in the capture's own thread for every packet, `stop()` ends the
capture cleanly (SIGINT to the tool, which flushes), drains what is left and returns the
statistics (kernel drops included). With `write=PATH` every packet is written to a
pcapng file as it arrives, with the same timestamps the pipeline saw, so analysing the
file later gives the same results.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import re
import shutil
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Protocol

from analyzer.capture.livetools import LiveError, LiveStats, StreamPacket, Watchdog, classify_tool_error
from analyzer.capture.pcapfile import RawPacket
from analyzer.capture.tshark import TsharkLiveSource

__all__ = ["DEFAULT_BUFFER_MIB", "DEFAULT_SNAPLEN", "LiveCapture", "PcapStreamParser", "PcapngWriter"]

DEFAULT_SNAPLEN = 262144  # what tcpdump -s 0 and dumpcap use: loopback frames reach 65,549 bytes and more
DEFAULT_BUFFER_MIB = 64  # kernel capture buffer: 2 MiB (the default) drops packets of loopback bursts
_CHUNK = 1 << 20
_QUEUE_CHUNKS = 512  # at most ~512 MiB waiting between the pipe and the parser
_F_SETPIPE_SZ = 1031  # fcntl.h (Linux): grow the pipe from tcpdump so it rarely blocks


_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 6),
    b"\xa1\xb2\xc3\xd4": (">", 6),
    b"\x4d\x3c\xb2\xa1": ("<", 9),
    b"\xa1\xb2\x3c\x4d": (">", 9),
}
_MAX_RECORD = 256 << 20


class PcapStreamParser:
    """Incremental reader of a pcap byte stream (tcpdump.org pcap format: 24-byte header, 16-byte records).

    `feed(data)` returns the packets completed by `data`. Timestamps are computed from integer
    ticks as `ticks * unit + 0.0`, exactly as analyzer/capture/pcapfile.py computes pcapng
    timestamps, so a pcapng written with the same ticks reads back to the same floats.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.header_seen = False
        self.linktype: int | None = None
        self.resolution = 6  # decimal digits of the timestamp fraction (6 = µs, 9 = ns)
        self.snaplen = DEFAULT_SNAPLEN
        self.error: str | None = None
        self.frame = 0
        self._rec = struct.Struct("<IIII")
        self._unit = 10.0**-6

    def feed(self, data: bytes) -> list[StreamPacket]:
        if self.error is not None:
            return []
        buf = self._buf
        buf += data
        out: list[StreamPacket] = []
        pos = self._pos
        if not self.header_seen:
            if len(buf) - pos < 24:
                return out
            magic = bytes(buf[pos : pos + 4])
            if magic not in _PCAP_MAGIC:
                self.error = f"the capture tool wrote no pcap stream (magic {magic.hex()})"
                return out
            endian, self.resolution = _PCAP_MAGIC[magic]
            self._unit = 10.0**-self.resolution
            self.snaplen, lt = struct.unpack_from(endian + "II", buf, pos + 16)
            self.linktype = lt & 0x0FFFFFFF  # upper bits: FCS flags (pcap format §4)
            self._rec = struct.Struct(endian + "IIII")
            self.header_seen = True
            pos += 24
        rec = self._rec
        unit = self._unit
        scale: int = 10**self.resolution
        tick_ns: int = 10 ** (9 - self.resolution)
        linktype = self.linktype or 0
        end = len(buf)
        while end - pos >= 16:
            sec, frac, caplen, origlen = rec.unpack_from(buf, pos)
            if caplen > _MAX_RECORD:
                self.error = f"pcap record of {caplen} bytes after packet {self.frame}: stream damaged"
                break
            if end - pos - 16 < caplen:
                break
            data_start = pos + 16
            pos = data_start + caplen
            self.frame += 1
            ticks = sec * scale + frac
            pkt = RawPacket(
                self.frame,
                ticks * unit + 0.0,
                linktype,
                bytes(buf[data_start:pos]),
                max(origlen, caplen),
                0,
                ticks * tick_ns,
            )
            out.append(StreamPacket(pkt, ticks))
        if pos > (1 << 20) and pos * 2 > len(buf):
            del buf[:pos]  # compact now and then, not after every record
            pos = 0
        self._pos = pos
        return out

    @property
    def pending(self) -> int:
        return len(self._buf) - self._pos


class PcapngWriter:
    """Writes packets to a pcapng file as they come (pcapng draft §4.1 SHB, §4.2 IDB, §4.3 EPB, §4.6 ISB).

    One interface; `if_tsresol` = the ticks' resolution; the file is flushed after each `flush()`.
    """

    def __init__(self, fh: IO[bytes], *, resolution: int = 9, application: str = "socketscope") -> None:
        self._fh = fh
        self._application = application
        self._started = False
        self.linktype: int | None = None
        self.resolution = resolution  # used when write() comes before start()
        self.snaplen = DEFAULT_SNAPLEN
        self.packets = 0

    @staticmethod
    def _option(code: int, value: bytes) -> bytes:
        pad = (-len(value)) % 4
        return struct.pack("<HH", code, len(value)) + value + b"\0" * pad

    @staticmethod
    def _block(btype: int, body: bytes) -> bytes:
        pad = (-len(body)) % 4
        n = 12 + len(body) + pad
        return struct.pack("<II", btype, n) + body + b"\0" * pad + struct.pack("<I", n)

    def start(
        self, linktype: int, resolution: int, snaplen: int = DEFAULT_SNAPLEN, interface: str = ""
    ) -> None:
        if self._started:
            return
        self._started = True
        self.linktype, self.resolution, self.snaplen = linktype, resolution, snaplen
        opts = self._option(4, self._application.encode()) + self._option(0, b"")  # shb_userappl
        shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opts
        idb_opts = b""
        if interface:
            idb_opts += self._option(2, interface.encode())  # if_name
        idb_opts += self._option(9, bytes([resolution])) + self._option(0, b"")  # if_tsresol
        idb = struct.pack("<HHI", linktype, 0, snaplen) + idb_opts
        self._fh.write(self._block(0x0A0D0D0A, shb) + self._block(1, idb))

    def write(self, pkt: RawPacket, ticks: int) -> None:
        if not self._started:
            self.start(pkt.linktype, self.resolution)
        body = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(pkt.data), pkt.orig_len)
        self._fh.write(self._block(6, body + pkt.data))
        self.packets += 1

    def finish(self, stats: LiveStats | None = None, linktype: int = 1) -> None:
        """An Interface Statistics Block with the drop count, if known; then flush."""
        if not self._started:
            self.start(linktype, self.resolution)
        if stats is not None and stats.kernel_dropped is not None:
            opts = self._option(5, struct.pack("<Q", stats.kernel_dropped))  # isb_ifdrop
            opts += self._option(0, b"")
            self._fh.write(self._block(5, struct.pack("<III", 0, 0, 0) + opts))
        self._fh.flush()

    def flush(self) -> None:
        self._fh.flush()


# ---------------------------------------------------------------------------------------------------------
# engines


class _Source(Protocol):
    tool: str

    @property
    def linktype(self) -> int | None: ...

    def start(self, timeout: float) -> None: ...
    def stop(self, timeout: float) -> LiveStats: ...
    def wait(self, timeout: float | None) -> bool: ...


PacketCallback = Callable[[RawPacket], None]
_Deliver = Callable[[StreamPacket, int], None]  # packet, resolution


class TcpdumpSource:
    """tcpdump writing pcap to a pipe; one thread drains the pipe, another parses and delivers."""

    tool = "tcpdump"

    def __init__(
        self,
        interface: str,
        bpf: str,
        deliver: _Deliver,
        *,
        snaplen: int = DEFAULT_SNAPLEN,
        buffer_mib: int = DEFAULT_BUFFER_MIB,
        tcpdump: str | None = None,
    ) -> None:
        self.interface = interface
        self.bpf = bpf
        self.deliver = deliver
        self.snaplen = snaplen
        self.buffer_mib = buffer_mib
        self.path = tcpdump or shutil.which("tcpdump") or "tcpdump"
        self.parser = PcapStreamParser()
        self.proc: subprocess.Popen[bytes] | None = None
        self.watchdog: Watchdog | None = None
        self._chunks: queue.Queue[bytes | None] = queue.Queue(_QUEUE_CHUNKS)
        self._stderr: list[str] = []
        self._header = threading.Event()
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []
        self.error: str | None = None

    @property
    def linktype(self) -> int | None:
        return self.parser.linktype

    def command(self) -> list[str]:
        cmd = [self.path, "-i", self.interface, "-s", str(self.snaplen), "-U", "--immediate-mode"]
        cmd += ["-B", str(self.buffer_mib * 1024), "--time-stamp-precision", "nano", "-n", "-w", "-"]
        if self.bpf:
            cmd.append(self.bpf)
        return cmd

    def start(self, timeout: float = 10.0) -> None:
        try:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # Ctrl-C reaches socketscope only; it stops tcpdump in order
            )
        except FileNotFoundError:
            raise LiveError(
                "missing-tool", "tcpdump is not installed (apt install tcpdump), or use --engine tshark."
            ) from None
        except PermissionError:
            raise LiveError("permission", f"{self.path} cannot be executed (permission denied).") from None
        self.watchdog = Watchdog([self.proc.pid])  # tcpdump dies with socketscope, even by SIGKILL
        assert self.proc.stdout is not None and self.proc.stderr is not None
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.proc.stdout.fileno(), _F_SETPIPE_SZ, _CHUNK)
        for target in (self._pump, self._parse, self._read_stderr):
            t = threading.Thread(target=target, name=f"socketscope-{target.__name__[1:]}", daemon=True)
            t.start()
            self._threads.append(t)
        deadline = time.monotonic() + timeout
        while not self._header.wait(0.02):
            if self._done.is_set() or time.monotonic() > deadline:
                break
        if not self._header.is_set():
            self._kill()
            if self.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(5)
            for t in self._threads:
                t.join(2.0)
            self._close_pipes()
            text = "\n".join(self._stderr)
            if self.parser.error:
                raise LiveError("failed", self.parser.error)
            if not text and time.monotonic() > deadline:
                raise LiveError("failed", f"tcpdump did not start capturing within {timeout:.0f} s.")
            raise classify_tool_error("tcpdump", self.interface, text)

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        try:
            while True:
                try:
                    chunk = os.read(fd, _CHUNK)
                except OSError:
                    break
                if not chunk:
                    break
                self._chunks.put(chunk)
        finally:
            self._chunks.put(None)

    def _parse(self) -> None:
        parser = self.parser
        try:
            while True:
                chunk = self._chunks.get()
                if chunk is None:
                    break
                for sp in parser.feed(chunk):
                    self.deliver(sp, parser.resolution)
                if parser.header_seen:
                    self._header.set()
                if parser.error:
                    self.error = parser.error
                    self._kill()
                    break
        finally:
            self._done.set()

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            if len(self._stderr) < 200:
                self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    def _close_pipes(self) -> None:
        if self.proc is not None:
            for f in (self.proc.stdout, self.proc.stderr):
                if f is not None:
                    f.close()

    def _disarm(self) -> None:
        if self.watchdog is not None:
            self.watchdog.disarm()

    def _kill(self) -> None:
        self._disarm()
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the group is tcpdump's
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def wait(self, timeout: float | None) -> bool:
        """True once the stream ended (after stop(), or because tcpdump died)."""
        return self._done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> LiveStats:
        proc = self.proc
        self._disarm()
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)  # tcpdump flushes, prints its statistics and exits
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                proc.wait(5)
        self._done.wait(timeout)
        for t in self._threads:
            t.join(timeout)
        self._close_pipes()
        stats = LiveStats(tool="tcpdump", error=self.error)
        text = "\n".join(self._stderr)
        m = re.search(r"(\d+) packets? dropped by kernel", text)
        if m:
            stats.kernel_dropped = int(m.group(1))
        m = re.search(r"(\d+) packets? dropped by interface", text)
        if m:
            stats.interface_dropped = int(m.group(1))
        failed = proc is not None and proc.returncode not in (0, -signal.SIGINT, None)
        if failed and stats.error is None and (not self.parser.header_seen or "error" in text.lower()):
            stats.error = text.strip().splitlines()[-1] if text.strip() else "tcpdump stopped"
        return stats


class LiveCapture:
    """A live capture on one interface, usable from a thread (the web UI) or the CLI.

    on_packet(RawPacket) runs in the capture thread, in capture order; frame numbers start at 1.
    """

    def __init__(
        self,
        interface: str,
        bpf: str = "",
        on_packet: PacketCallback | None = None,
        *,
        engine: str = "builtin",
        write: str | None = None,
        snaplen: int = DEFAULT_SNAPLEN,
        buffer_mib: int = DEFAULT_BUFFER_MIB,
        count: int | None = None,
    ) -> None:
        self.interface = interface
        self.bpf = bpf
        self.on_packet = on_packet
        self.engine = engine
        self.write_path = write
        self.count = count
        self.stats = LiveStats()
        self.linktype: int | None = None
        self._writer: PcapngWriter | None = None
        self._fh: IO[bytes] | None = None
        self._limit = threading.Event()
        self._lock = threading.Lock()
        self._flushed = 0.0
        self.callback_error: BaseException | None = None
        self.write_error: str | None = None  # the -w file could not be written: the capture stopped
        self.source: _Source
        if engine == "builtin":
            self.source = TcpdumpSource(interface, bpf, self._deliver, snaplen=snaplen, buffer_mib=buffer_mib)
        elif engine == "tshark":
            self.source = TsharkLiveSource(interface, bpf, self._deliver, buffer_mib=buffer_mib)
        else:
            raise ValueError(f"unknown capture engine {engine!r}")

    def _deliver(self, sp: StreamPacket, resolution: int) -> None:
        if self._limit.is_set():
            return  # --count reached: the rest is neither written nor analysed
        pkt = sp.packet
        st = self.stats
        st.packets += 1
        st.bytes += len(pkt.data)
        self.linktype = pkt.linktype
        if self._writer is not None:
            try:
                if not self._writer.packets:
                    self._writer.start(pkt.linktype, resolution, interface=self.interface)
                self._writer.write(pkt, sp.ticks)
                now = time.monotonic()
                if now - self._flushed > 0.2:  # written as it comes; flushed five times a second
                    self._writer.flush()
                    self._flushed = now
            except OSError as exc:
                self._write_failed(exc)
                return
        if self.on_packet is not None and self.callback_error is None:
            try:
                self.on_packet(pkt)
            except Exception as exc:  # kept, and re-raised by stop() in the caller's thread
                self.callback_error = exc
                self._limit.set()
        if self.count is not None and st.packets >= self.count:
            self._limit.set()

    def start(self, timeout: float = 10.0) -> None:
        """Returns once the tool captures; raises LiveError with one sentence if it cannot."""
        if self.write_path:
            try:
                self._fh = open(self.write_path, "wb")  # noqa: SIM115 - closed in stop()
            except OSError as exc:
                raise LiveError("failed", f"cannot write {self.write_path}: {exc.strerror or exc}.") from None
            self._writer = PcapngWriter(self._fh)
        try:
            self.source.start(timeout)
        except LiveError:
            self._close_file(None)
            raise
        except BaseException:  # Ctrl-C or a stop signal while the tool starts: it is stopped too
            with contextlib.suppress(Exception):
                self.source.stop(10.0)
            self._close_file(None)
            raise

    def wait(self, timeout: float | None = None) -> bool:
        """Block until --count is reached, the tool stops by itself, or `timeout` passes; True if ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._limit.is_set() or self.source.wait(0):
                return True
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                return False
            self._limit.wait(left)

    def stop(self, timeout: float = 10.0) -> LiveStats:
        """Stop the tool, deliver what it still had, close the file; returns the statistics."""
        with self._lock:
            st = self.source.stop(timeout)
            self.stats.kernel_dropped = st.kernel_dropped
            self.stats.interface_dropped = st.interface_dropped
            self.stats.tool = st.tool
            self.stats.error = st.error
            self._close_file(self.stats)
            if self.write_error is not None:
                self.stats.error = self.write_error
        if self.callback_error is not None:
            raise self.callback_error
        return self.stats

    def _write_failed(self, exc: OSError) -> None:
        """The file asked for cannot be written (disk full, I/O error): the capture stops."""
        if self.write_error is None:
            self.write_error = f"cannot write {self.write_path}: {exc.strerror or exc}"
        self._writer = None
        self._limit.set()

    def _close_file(self, stats: LiveStats | None) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            if self._writer is not None:
                self._writer.finish(stats, self.linktype or self.source.linktype or 1)
            fh.close()
        except OSError as exc:
            self._write_failed(exc)
            with contextlib.suppress(OSError):
                fh.close()  # closed even when its last flush failed
