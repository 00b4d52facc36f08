"""What Wireshark's dissectors see in a capture: tshark's PDML, flattened into TCP streams, HTTP
messages and WebSocket frames (one row per WebSocket frame, several per packet where tshark shows
several). Used by `socketscope crosscheck`.

PDML keeps the order of the protocol trees inside a packet (a WebSocket frame, then the `data`
tree holding its binary payload), which `-T fields` loses when a packet carries several frames.
The document is parsed as a stream, one packet at a time, so memory stays bounded.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import IO

__all__ = [
    "TsharkError",
    "TsharkHttp",
    "TsharkStream",
    "TsharkView",
    "TsharkWsFrame",
    "read_pdml",
    "run_tshark",
]

_PAYLOAD_FIELDS = (
    "websocket.payload.text",
    "websocket.payload.ping",
    "websocket.payload.pong",
    "websocket.payload.continue",
    "websocket.payload.unknown",
    "websocket.payload.binary",
)
_KEEP_HEX = 64  # payload bytes kept for display; comparisons use length + sha256


class TsharkError(Exception):
    """tshark is missing or could not read the capture."""


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Payload:
    length: int
    sha256: str
    head: bytes  # first bytes, for display

    @classmethod
    def of(cls, raw: bytes) -> Payload:
        return cls(len(raw), _digest(raw), raw[:_KEEP_HEX])

    @classmethod
    def from_hex(cls, text: str) -> Payload | None:
        try:
            return cls.of(bytes.fromhex(text))
        except ValueError:
            return None


@dataclass(slots=True)
class TsharkStream:
    stream: int
    endpoints: tuple[tuple[str, int], tuple[str, int]]  # (first packet's source, its destination)
    first_frame: int
    last_frame: int
    packets: int = 0


@dataclass(frozen=True, slots=True)
class TsharkHttp:
    frame: int
    stream: int | None
    kind: str  # "request" | "response"
    method: str | None
    uri: str | None
    status: int | None
    after_websocket: bool  # dissected from bytes tshark had already shown as WebSocket


@dataclass(slots=True)
class TsharkWsFrame:
    frame: int
    index: int  # 1-based position among the WebSocket frames tshark shows in this packet
    stream: int | None
    src: tuple[str, int]
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    mask_key: str | None
    payload_length: int
    length_form: str
    close_code: int | None
    close_reason: str | None
    payload: Payload | None  # unmasked (and inflated by tshark for RSV1 frames)
    reassembled: Payload | None  # the whole message, at the final fragment of a fragmented message
    decompression_failed: bool
    fragments: bool = False  # tshark shows "N Reassembled websocket Fragments" here


@dataclass(slots=True)
class TsharkView:
    streams: dict[int, TsharkStream] = field(default_factory=dict)
    http: list[TsharkHttp] = field(default_factory=list)
    ws: list[TsharkWsFrame] = field(default_factory=list)
    packets: int = 0
    records_skipped: int = 0  # records tshark numbers that are not packets
    malformed: list[int] = field(default_factory=list)
    encrypted: set[int] = field(default_factory=set)  # streams tshark dissects as TLS
    version: str = ""
    command: list[str] = field(default_factory=list)


def _first(elem: ET.Element, name: str) -> ET.Element | None:
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f
    return None


def _show(elem: ET.Element, name: str) -> str:
    f = _first(elem, name)
    return (f.get("show") or "") if f is not None else ""


def _value(elem: ET.Element, name: str) -> str:
    f = _first(elem, name)
    return (f.get("value") or "") if f is not None else ""


def _int(text: str, base: int = 10) -> int | None:
    try:
        return int(text, base)
    except ValueError:
        return None


def _ws_row(
    pr: ET.Element, frame: int, index: int, stream: int | None, src: tuple[str, int]
) -> TsharkWsFrame:
    plen = _show(pr, "websocket.payload_length")
    form = "7-bit"
    if _show(pr, "websocket.payload_length_ext_16"):
        plen, form = _show(pr, "websocket.payload_length_ext_16"), "16-bit"
    if _show(pr, "websocket.payload_length_ext_64"):
        plen, form = _show(pr, "websocket.payload_length_ext_64"), "64-bit"
    payload = None
    for name in _PAYLOAD_FIELDS:
        v = _value(pr, name)
        if v:
            payload = Payload.from_hex(v)
            break
    reason_hex = _value(pr, "websocket.payload.close.reason")
    reason = None
    if reason_hex:
        try:
            reason = bytes.fromhex(reason_hex).decode("utf-8", "replace")
        except ValueError:
            reason = _show(pr, "websocket.payload.close.reason")
    failed = any(f.get("name") == "websocket.decompression.failed.expert" for f in pr.iter("field"))
    row = TsharkWsFrame(
        frame=frame,
        index=index,
        stream=stream,
        src=src,
        fin=_show(pr, "websocket.fin") in ("1", "True"),
        rsv=_int(_show(pr, "websocket.rsv"), 16) or 0,
        opcode=_int(_show(pr, "websocket.opcode")) or 0,
        masked=_show(pr, "websocket.mask") in ("1", "True"),
        mask_key=_value(pr, "websocket.masking_key") or None,
        payload_length=_int(plen) or 0,
        length_form=form,
        close_code=_int(_show(pr, "websocket.payload.close.status_code")),
        close_reason=reason,
        payload=payload,
        reassembled=None,
        decompression_failed=failed,
        fragments=_first(pr, "websocket.fragments") is not None,
    )
    return row


def _packet(pkt: ET.Element, view: TsharkView) -> None:
    protos = pkt.findall("proto")
    frame = 0
    src = ("", 0)
    dst = ("", 0)
    stream: int | None = None
    ip_src = ip_dst = ""
    seen_ws = False
    index = 0
    last: TsharkWsFrame | None = None
    for pr in protos:
        name = pr.get("name")
        if name == "frame":
            if _first(pr, "frame.time_epoch") is None:
                view.records_skipped += 1  # a pcapng custom block: tshark numbers it, the reader skips it
                return
            frame = view.packets + 1  # packets only, as analyzer/capture/pcapfile.py numbers them
        elif name in ("ip", "ipv6") and not ip_src:
            ip_src = _show(pr, f"{name}.src")
            ip_dst = _show(pr, f"{name}.dst")
        elif name == "tcp" and stream is None:
            stream = _int(_show(pr, "tcp.stream"))
            src = (ip_src, _int(_show(pr, "tcp.srcport")) or 0)
            dst = (ip_dst, _int(_show(pr, "tcp.dstport")) or 0)
            if stream is not None:
                st = view.streams.get(stream)
                if st is None:
                    st = view.streams[stream] = TsharkStream(stream, (src, dst), frame, frame)
                st.packets += 1
                st.last_frame = frame
        elif name in ("tls", "ssl") and stream is not None:
            view.encrypted.add(stream)
        elif name == "_ws.malformed":
            view.malformed.append(frame)
        elif name == "http":
            method = _show(pr, "http.request.method")
            code = _show(pr, "http.response.code")
            if method:
                uri = _show(pr, "http.request.uri")
                view.http.append(TsharkHttp(frame, stream, "request", method, uri, None, seen_ws))
            if code:
                view.http.append(TsharkHttp(frame, stream, "response", None, None, _int(code), seen_ws))
        elif name == "websocket":
            seen_ws = True
            index += 1
            last = _ws_row(pr, frame, index, stream, src)
            view.ws.append(last)
        elif last is not None and name in ("fake-field-wrapper", "data"):
            # a binary payload (or a reassembled message) is handed to the data dissector
            if _first(pr, "websocket.fragments") is not None:
                last.fragments = True
            if _first(pr, "websocket.decompression.failed.expert") is not None:
                last.decompression_failed = True
            d = _value(pr, "data.data")
            if d:
                if last.fragments:
                    last.reassembled = last.reassembled or Payload.from_hex(d)
                elif last.payload is None:
                    last.payload = Payload.from_hex(d)
    for row in view.ws[len(view.ws) - index :] if index else ():
        # at the final fragment tshark shows the whole message, not the frame's own payload
        if row.fragments and row.reassembled is None:
            row.reassembled, row.payload = row.payload, None
    view.packets += 1


def read_pdml(stream: IO[bytes], view: TsharkView | None = None) -> TsharkView:
    """Parse a PDML document packet by packet (each packet's tree is dropped once read)."""
    view = view or TsharkView()
    context = ET.iterparse(stream, events=("end",))
    for _, elem in context:
        if elem.tag == "packet":
            _packet(elem, view)
            elem.clear()
    return view


def run_tshark(
    path: str,
    decode_as: dict[int, str],
    tshark: str = "tshark",
    timeout: float = 600.0,
    keylog_file: str | None = None,
) -> TsharkView:
    """tshark -n -r PATH -T pdml, with `-d tcp.port==N,PROTO` for every port in `decode_as` and
    `-o tls.keylog_file:FILE` with a key log (its path only is on the command line)."""
    cmd = [tshark, "-n", "-r", path, "-T", "pdml"]
    if keylog_file:
        cmd += ["-o", f"tls.keylog_file:{keylog_file}"]
    for port, proto in sorted(decode_as.items()):
        cmd += ["-d", f"tcp.port=={port},{proto}"]
    try:
        version = subprocess.run([tshark, "--version"], capture_output=True, text=True, timeout=30).stdout
    except FileNotFoundError:
        raise TsharkError("tshark is not installed (apt install tshark)") from None
    except subprocess.TimeoutExpired:
        raise TsharkError("tshark --version did not answer") from None
    view = TsharkView(version=(version.splitlines() or [""])[0], command=cmd)
    err: list[bytes] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        stderr = proc.stderr
        t = threading.Thread(target=lambda: err.append(stderr.read()), daemon=True)
        t.start()
        try:
            read_pdml(proc.stdout, view)
        except ET.ParseError as exc:
            proc.kill()
            raise TsharkError(f"tshark's PDML could not be read: {exc}") from None
        finally:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            t.join(10)
    if proc.returncode != 0 and view.packets == 0:
        text = b"".join(err).decode("utf-8", "replace").strip()
        raise TsharkError(f"tshark failed: {text.splitlines()[-1] if text else proc.returncode}")
    return view
