"""`socketscope crosscheck`: socketscope's dissection against Wireshark's, frame by frame.

Both sides read the same file. tshark (PDML, analyzer/crosscheck/tshark.py) gives its TCP
streams, HTTP messages and WebSocket frames; socketscope its Analysis. They are matched
connection by connection (TCP endpoints, then packet numbers) and compared:

- TCP: the connection exists on both sides, with the same number of packets;
- HTTP: every request (method, target) and response (status), at the same packet;
- WebSocket frames: at the same packet and position, FIN, RSV, opcode, MASK, masking key,
  payload length and its encoding, close code and reason, and the unmasked payload;
- WebSocket messages: the reassembled, inflated bytes of every data message.

Each difference gets an explanation where socketscope knows why the two disagree and which
side is right (`EXPLANATIONS`); the others are reported as unexplained. tshark decodes HTTP
(and so WebSocket) on a non-standard port only when told, so `-d tcp.port==N,http` is passed
for every server port on which socketscope found HTTP, and `-d tcp.port==N,websocket` for
`--decode-as N=websocket`.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO, Any

from analyzer.capture.pcapfile import CaptureReader, open_capture
from analyzer.crosscheck.explanations import EXPLANATIONS, explain
from analyzer.crosscheck.tshark import Payload, TsharkHttp, TsharkView, TsharkWsFrame, run_tshark
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.codes.http import HTTP_TRUNCATED_MESSAGE
from analyzer.model.common import Direction
from analyzer.pipeline import Options, analyze_reader

__all__ = ["EXPLANATIONS", "ConnectionReport", "CrosscheckReport", "Difference", "crosscheck", "print_report"]


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Difference:
    layer: str  # "tcp" | "http" | "websocket" | "message"
    connection: int | None
    frame: int | None
    what: str
    socketscope: Any
    tshark: Any
    reason: str | None = None  # a key of EXPLANATIONS
    explanation: str | None = None
    right: str | None = None  # "socketscope" | "tshark" | "both" | None (not known)

    @property
    def explained(self) -> bool:
        return self.reason is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "connection": self.connection,
            "frame": self.frame,
            "what": self.what,
            "socketscope": self.socketscope,
            "tshark": self.tshark,
            "explained": self.explained,
            "reason": self.reason,
            "explanation": self.explanation,
            "right": self.right,
        }


@dataclass(slots=True)
class ConnectionReport:
    connection: int | None
    tshark_stream: int | None
    endpoints: str
    packets: int = 0
    http_messages: int = 0
    ws_frames: int = 0
    ws_messages: int = 0
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encrypted: bool = False  # TLS: only TCP could be compared

    @property
    def status(self) -> str:
        if not self.differences:
            return "not compared: encrypted" if self.encrypted else "agree"
        return "explained" if all(d.explained for d in self.differences) else "differ"

    def to_dict(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "tshark_stream": self.tshark_stream,
            "endpoints": self.endpoints,
            "status": self.status,
            "compared": {
                "packets": self.packets,
                "http_messages": self.http_messages,
                "websocket_frames": self.ws_frames,
                "websocket_messages": self.ws_messages,
            },
            "differences": [d.to_dict() for d in self.differences],
            "notes": self.notes,
        }


@dataclass(slots=True)
class CrosscheckReport:
    capture: str
    tshark_version: str
    tshark_command: list[str]
    connections: list[ConnectionReport] = field(default_factory=list)

    @property
    def differences(self) -> list[Difference]:
        return [d for c in self.connections for d in c.differences]

    @property
    def ok(self) -> bool:
        """Everything agrees, or every difference is explained."""
        return all(d.explained for d in self.differences)

    def to_dict(self) -> dict[str, Any]:
        diffs = self.differences
        return {
            "capture": self.capture,
            "tshark": {"version": self.tshark_version, "command": self.tshark_command},
            "ok": self.ok,
            "differences": len(diffs),
            "explained": sum(1 for d in diffs if d.explained),
            "connections": [c.to_dict() for c in self.connections],
        }


def _ep(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _endpoints(c: ConnectionRecord) -> str:
    return f"{_ep(c.client['ip'], c.client['port'])} <-> {_ep(c.server['ip'], c.server['port'])}"


# ---------------------------------------------------------------------------------------------------------


def tshark_decode_as(analysis: Analysis, options: Options) -> dict[int, str]:
    """The `-d` options tshark needs to see what socketscope saw."""
    out: dict[int, str] = {}
    for c in analysis.connections:
        if c.tls is not None:  # tshark finds HTTP inside TLS itself; `http` on the port would hide TLS
            out[int(c.server["port"])] = "tls"
        elif c.http or (c.websocket is not None and c.websocket.handshake is not None):
            out.setdefault(int(c.server["port"]), "http")
    for port, proto in options.decode_as.items():
        out[port] = proto
    return out


def crosscheck(
    path: str,
    options: Options | None = None,
    *,
    tshark: str = "tshark",
    decode_as: bool = True,
    reader: CaptureReader | None = None,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
    keylog_file: str | None = None,
) -> CrosscheckReport:
    """Compare socketscope's analysis of `path` with tshark's dissection of it. `reader`: `path`
    already opened; `progress(packets)` as in analyze_reader; `status(text)` says when tshark runs;
    `keylog_file`: the key log tshark reads (`-o tls.keylog_file:`), the keys of `options.keylog`.

    Raises CaptureError when the file is not a capture, TsharkError when tshark is missing or fails.
    """
    options = options or Options()
    options.keep_frames = True
    # every frame is compared with tshark's: none left unlisted (docs/bounds.md, frame records)
    options.max_frame_records = options.max_frame_records_capture = 1 << 62
    analysis = analyze_reader(reader or open_capture(path), options, progress=progress)
    d_opts = tshark_decode_as(analysis, options) if decode_as else dict(options.decode_as)
    if status is not None:
        status("running tshark on the capture ...")
    view = run_tshark(path, d_opts, tshark, keylog_file=keylog_file)
    report = CrosscheckReport(path, view.version, view.command)
    compare(analysis, view, report, d_opts, options)
    return report


def compare(
    analysis: Analysis, view: TsharkView, report: CrosscheckReport, d_opts: dict[int, str], options: Options
) -> None:
    by_endpoints: dict[frozenset[tuple[str, int]], list[ConnectionRecord]] = defaultdict(list)
    for c in analysis.connections:
        key = frozenset({(c.client["ip"], int(c.client["port"])), (c.server["ip"], int(c.server["port"]))})
        by_endpoints[key].append(c)
    matched: dict[int, int] = {}  # tshark stream -> connection id
    used: set[int] = set()
    for st in sorted(view.streams.values(), key=lambda s: s.first_frame):
        cands = [c for c in by_endpoints.get(frozenset(st.endpoints), []) if c.id not in used]
        if not cands:
            continue
        inside = [
            c for c in cands if c.tcp.get("first_frame", 0) <= st.first_frame <= c.tcp.get("last_frame", 0)
        ]
        best = (inside or sorted(cands, key=lambda c: abs(c.tcp.get("first_frame", 0) - st.first_frame)))[0]
        matched[st.stream] = best.id
        used.add(best.id)
    http_by_stream: dict[int | None, list[TsharkHttp]] = defaultdict(list)
    for h in view.http:
        http_by_stream[h.stream].append(h)
    ws_by_stream: dict[int | None, list[TsharkWsFrame]] = defaultdict(list)
    for w in view.ws:
        ws_by_stream[w.stream].append(w)
    conn_of_stream = {s: analysis.connection(cid) for s, cid in matched.items()}
    per_conn: dict[int, list[Any]] = defaultdict(list)
    for a in analysis.anomalies:
        if a.connection is not None:
            per_conn[a.connection].append(a)

    for st in sorted(view.streams.values(), key=lambda s: s.first_frame):
        conn = conn_of_stream.get(st.stream)
        (a_ip, a_port), (b_ip, b_port) = st.endpoints
        if conn is None:
            rep = ConnectionReport(None, st.stream, f"{_ep(a_ip, a_port)} <-> {_ep(b_ip, b_port)}")
            rep.differences.append(
                Difference("tcp", None, st.first_frame, "TCP connection only in tshark", None, st.packets)
            )
            report.connections.append(rep)
            continue
        rep = ConnectionReport(conn.id, st.stream, _endpoints(conn))
        report.connections.append(rep)
        ours_packets = int(conn.tcp["packets"]["c2s"]) + int(conn.tcp["packets"]["s2c"])
        rep.packets = min(ours_packets, st.packets)
        if ours_packets != st.packets:
            rep.differences.append(
                Difference(
                    "tcp", conn.id, st.first_frame, "packets in the connection", ours_packets, st.packets
                )
            )
        if st.stream in view.encrypted and conn.app_protocol in ("unknown", "tls"):  # not decrypted
            rep.encrypted = True
            rep.notes.append("TLS: the application data is encrypted; only TCP was compared")
        _compare_http(conn, http_by_stream.get(st.stream, []), rep, d_opts, per_conn.get(conn.id, []))
        if not _h2_note(conn, rep):
            _compare_ws(conn, ws_by_stream.get(st.stream, []), rep, options, per_conn.get(conn.id, []))
        _notes(conn, per_conn.get(conn.id, []), view, st.first_frame, st.last_frame, rep)
        port = int(conn.server["port"])
        handshake = bool(conn.http) or (conn.websocket is not None and conn.websocket.handshake is not None)
        if d_opts.get(port) == "websocket" and handshake:
            forced = explain("tshark-decode-as-port", port=port)
            rep.differences = [replace(d, **forced) for d in rep.differences]
    for c in analysis.connections:
        if c.id not in used:
            rep = ConnectionReport(
                c.id,
                None,
                f"{_ep(c.client['ip'], c.client['port'])} <-> {_ep(c.server['ip'], c.server['port'])}",
            )
            n = int(c.tcp["packets"]["c2s"]) + int(c.tcp["packets"]["s2c"])
            rep.differences.append(
                Difference(
                    "tcp", c.id, c.tcp.get("first_frame"), "TCP connection only in socketscope", n, None
                )
            )
            report.connections.append(rep)
    report.connections.sort(key=lambda r: (r.connection is None, r.connection or 0, r.tshark_stream or 0))


def _h2_note(conn: ConnectionRecord, rep: ConnectionReport) -> bool:
    """HTTP/2 streams are not in tshark's `http` fields, and tshark does not decode a WebSocket
    inside an HTTP/2 stream (RFC 8441): say so. True when the WebSocket is such a tunnel."""
    if conn.http2 is not None:
        rep.notes.append(
            f"HTTP/2: {conn.http2['streams']} streams not compared here (tshark -Y http2 is the"
            " oracle of tests/h2/test_tshark.py)"
        )
    hs = conn.websocket.handshake if conn.websocket is not None else None
    return hs is not None and hs.get("h2_stream_id") is not None


def _compare_http(
    conn: ConnectionRecord,
    theirs: list[TsharkHttp],
    rep: ConnectionReport,
    d_opts: dict[int, str],
    anomalies: list[Any],
) -> None:
    ours: Counter[tuple[int, str, str]] = Counter()
    # the direction whose stream ended inside a message (http.truncated-message): its last
    # message, body cut, is one tshark does not show
    ended_inside = {a.direction for a in anomalies if a.code == HTTP_TRUNCATED_MESSAGE}
    cut: set[tuple[int, str, str]] = set()
    for ex in conn.http:
        msg = ex.response or ex.request
        if msg is not None and msg.stream_id is not None:
            continue  # an HTTP/2 stream: see the note
        if ex.request is not None:
            key = (ex.request.frame, "request", f"{ex.request.method} {ex.request.target}")
            ours[key] += 1
            if ex.request.body_truncated and Direction.C2S in ended_inside:
                cut.add(key)
        if ex.response is not None:
            key = (ex.response.frame, "response", str(ex.response.status))
            ours[key] += 1
            if ex.response.body_truncated and Direction.S2C in ended_inside:
                cut.add(key)
        for r in ex.interim:  # tshark lists a 1xx as a response of its own
            ours[(r.frame, "response", str(r.status))] += 1
    tcount: Counter[tuple[int, str, str]] = Counter()
    tunnelled: set[tuple[int, str, str]] = set()
    for h in theirs:
        key = (h.frame, h.kind, f"{h.method} {h.uri}" if h.kind == "request" else str(h.status))
        tcount[key] += 1
        if h.after_websocket:
            tunnelled.add(key)
    rep.http_messages = sum((ours & tcount).values())
    for key in sorted((ours - tcount).elements()):
        frame, kind, what = key
        extra: dict[str, Any] = {}
        port = int(conn.server["port"])
        if not theirs and d_opts.get(port) != "http":
            extra = explain("tshark-needs-decode-as", port=port)
        elif key in cut:
            extra = explain("tshark-omits-cut-message", kind=kind)
        rep.differences.append(
            Difference("http", conn.id, frame, f"HTTP {kind} only in socketscope", what, None, **extra)
        )
    for key in sorted((tcount - ours).elements()):
        frame, kind, what = key
        extra = explain("tshark-http-in-websocket") if key in tunnelled and conn.websocket is not None else {}
        rep.differences.append(
            Difference("http", conn.id, frame, f"HTTP {kind} only in tshark", None, what, **extra)
        )


def _compare_ws(
    conn: ConnectionRecord,
    theirs: list[TsharkWsFrame],
    rep: ConnectionReport,
    options: Options,
    anomalies: list[Any],
) -> None:
    ws = conn.websocket
    ours_frames = list(ws.frames) if ws is not None else []
    # position of each frame among the frames ending in the same packet, in stream order
    keyed: dict[tuple[int, int], Any] = {}
    count: Counter[int] = Counter()
    for fr in sorted(ours_frames, key=lambda f: (f.frame, f.offset)):
        count[fr.frame] += 1
        keyed[(fr.frame, count[fr.frame])] = fr
    tkeyed = {(t.frame, t.index): t for t in theirs}
    client = (conn.client["ip"], int(conn.client["port"]))
    for key in sorted(set(keyed) | set(tkeyed)):
        f, t = keyed.get(key), tkeyed.get(key)
        frame = key[0]
        if f is None or t is None:
            side = "socketscope" if t is None else "tshark"
            extra: dict[str, Any] = {}
            port = int(conn.server["port"])
            if t is None and not theirs and ws is not None and ws.handshake is None:
                extra = explain("tshark-needs-decode-as", port=port)
            shown = _frame_text(f) if f is not None else _tframe_text(t)
            rep.differences.append(
                Difference(
                    "websocket",
                    conn.id,
                    frame,
                    f"WebSocket frame only in {side}",
                    shown if f is not None else None,
                    shown if t is not None else None,
                    **extra,
                )
            )
            continue
        rep.ws_frames += 1
        checks: list[tuple[str, Any, Any]] = [
            ("direction", f.direction.value, "c2s" if t.src == client else "s2c"),
            ("FIN", f.fin, t.fin),
            ("RSV", f.rsv1 << 2 | f.rsv2 << 1 | f.rsv3, t.rsv),
            ("opcode", f.opcode, t.opcode),
            ("MASK", f.masked, t.masked),
            ("masking key", f.mask_key.hex() if f.mask_key else None, t.mask_key),
            ("payload length", f.payload_length, t.payload_length),
            ("length encoding", f.length_form, t.length_form),
            ("close code", f.close_code, t.close_code),
            ("close reason", f.close_reason or None, t.close_reason or None),
        ]
        for what, a, b in checks:
            if a != b:
                rep.differences.append(Difference("websocket", conn.id, frame, what, a, b))
        if t.payload is not None and not f.rsv1 and not t.fragments:
            mine = f.payload
            if (len(mine), _sha(mine)) == (t.payload.length, t.payload.sha256):
                continue
            if f.payload_truncated and mine[: len(t.payload.head)] == t.payload.head[: len(mine)]:
                continue  # socketscope kept the first Options.keep_payload_bytes, and they agree
            rep.differences.append(
                Difference("websocket", conn.id, frame, "payload", _ptext(mine), _pt(t.payload))
            )
    inflate_failures = {f for a in anomalies if a.code.startswith("ws.inflate") for f in a.frames}
    _compare_messages(conn, theirs, rep, client, inflate_failures)


def _compare_messages(
    conn: ConnectionRecord,
    theirs: list[TsharkWsFrame],
    rep: ConnectionReport,
    client: tuple[str, int],
    inflate_failures: set[int],
) -> None:
    ws = conn.websocket
    msgs = sorted(ws.messages, key=lambda m: m.frame) if ws is not None else []
    finals = [t for t in theirs if t.fin and t.opcode in (0, 1, 2)]
    ours_by: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for msg in msgs:
        ours_by[(msg.direction.value, msg.frame)].append(msg)
    theirs_by: dict[tuple[str, int], list[TsharkWsFrame]] = defaultdict(list)
    for t in finals:
        theirs_by[("c2s" if t.src == client else "s2c", t.frame)].append(t)
    failed_at: dict[str, int] = {}  # direction -> frame of tshark's first failed fragmented inflate
    pmd = ws.handshake["permessage_deflate"] if ws is not None and ws.handshake is not None else None
    takeover = {  # RFC 7692 §7.1.1: no_context_takeover resets the window after each message
        "c2s": not (isinstance(pmd, dict) and pmd.get("client_no_context_takeover")),
        "s2c": not (isinstance(pmd, dict) and pmd.get("server_no_context_takeover")),
    }
    for key in sorted(set(ours_by) | set(theirs_by), key=lambda k: (k[1], k[0])):
        d, frame = key
        mine, tl = ours_by.get(key, []), theirs_by.get(key, [])
        for i in range(max(len(mine), len(tl))):
            m = mine[i] if i < len(mine) else None
            tf = tl[i] if i < len(tl) else None
            if m is None or tf is None:
                continue  # the frame comparison already reported the missing frame
            rep.ws_messages += 1
            theirs_payload = tf.reassembled or tf.payload
            data = m.data
            same = theirs_payload is not None and (len(data), _sha(data)) == (
                theirs_payload.length,
                theirs_payload.sha256,
            )
            if theirs_payload is None and not data and not tf.decompression_failed:
                same = True
            if same:
                continue
            if (
                m.truncated
                and theirs_payload is not None
                and data[: len(theirs_payload.head)] == theirs_payload.head[: len(data)]
            ):
                rep.differences.append(
                    Difference(
                        "message",
                        conn.id,
                        frame,
                        f"{d} message bytes",
                        _ptext(data),
                        _pt(theirs_payload),
                        **explain("socketscope-payload-bound", bound=len(data)),
                    )
                )
                continue
            extra: dict[str, Any] = {}
            ok_here = frame not in inflate_failures  # socketscope inflated this message without error
            if m.compressed and m.nframes > 1 and ok_here:
                extra = explain("tshark-fragmented-deflate")
                failed_at.setdefault(d, frame)
            elif m.compressed and ok_here and d in failed_at and takeover.get(d, True):
                extra = explain("tshark-deflate-context-lost", after=failed_at[d])
            what = f"{d} message bytes" + (
                " (tshark: decompression failed)" if tf.decompression_failed else ""
            )
            rep.differences.append(
                Difference("message", conn.id, frame, what, _ptext(data), _pt(theirs_payload), **extra)
            )


def _notes(
    conn: ConnectionRecord,
    anomalies: list[Any],
    view: TsharkView,
    first: int,
    last: int,
    rep: ConnectionReport,
) -> None:
    """What socketscope flags while dissecting the same bytes as tshark (violations tshark accepts)."""
    shown: Counter[tuple[str, str]] = Counter()
    for a in anomalies:
        if a.severity.value in ("error", "warn"):
            shown[(a.severity.value, a.code)] += 1
    for (sev, code), n in sorted(shown.items()):
        rep.notes.append(
            f"socketscope also reports {sev} {code} x{n} (an expert finding, not a dissection difference)"
        )
    bad = [f for f in view.malformed if first <= f <= last]
    if bad:
        rep.notes.append(
            f"tshark marks {len(bad)} packet(s) of this connection malformed (first: frame {bad[0]})"
        )


def _ptext(raw: bytes) -> str:
    head = raw[:24]
    return f"{len(raw)} bytes sha256 {_sha(raw)[:12]} {head.hex()}{'…' if len(raw) > 24 else ''}"


def _pt(p: Payload | None) -> str | None:
    if p is None:
        return None
    return f"{p.length} bytes sha256 {p.sha256[:12]} {p.head[:24].hex()}{'…' if p.length > 24 else ''}"


def _frame_text(f: Any) -> str:
    return f"{f.direction.value} opcode {f.opcode} fin {int(f.fin)} len {f.payload_length}"


def _tframe_text(t: TsharkWsFrame | None) -> str:
    if t is None:
        return ""
    return f"opcode {t.opcode} fin {int(t.fin)} len {t.payload_length}"


# ---------------------------------------------------------------------------------------------------------


def print_report(report: CrosscheckReport, out: IO[str]) -> None:
    diffs = report.differences
    out.write(f"Crosscheck {report.capture} against {report.tshark_version}\n")
    out.write(f"  {' '.join(report.tshark_command)}\n\n")
    who = {"socketscope": "socketscope is right", "tshark": "tshark is right", "both": "both views hold"}
    reasons: dict[str, str] = {}
    for c in report.connections:
        label = f"#{c.connection}" if c.connection is not None else "(tshark)"
        stream = f"tcp.stream {c.tshark_stream}" if c.tshark_stream is not None else "no tshark stream"
        out.write(f"{label:>8}  {c.endpoints}  ({stream})  {c.status.upper()}\n")
        out.write(
            f"          compared: {c.packets} packets, {c.http_messages} HTTP messages,"
            f" {c.ws_frames} WebSocket frames, {c.ws_messages} messages\n"
        )
        for d in c.differences:
            where = f"frame {d.frame}" if d.frame is not None else "-"
            out.write(f"          {where}: {d.what}\n")
            out.write(
                f"              socketscope: {d.socketscope!s}\n              tshark:      {d.tshark!s}\n"
            )
            if d.reason is not None:
                out.write(f"              explained [{d.reason}]: {who.get(d.right or '', '')}\n")
                reasons.setdefault(d.reason, d.explanation or "")
            else:
                out.write("              NOT EXPLAINED\n")
        for n in c.notes:
            out.write(f"          note: {n}\n")
    if reasons:
        out.write("\nWhy\n")
        for key, text in reasons.items():
            out.write(f"  [{key}] {text}\n")
    explained = sum(1 for d in diffs if d.explained)
    counts = Counter(c.status for c in report.connections)
    encrypted = counts["not compared: encrypted"]
    out.write(
        f"\n{len(report.connections)} connections: {counts['agree']} agree,"
        f" {counts['explained']} differ with explanations, {counts['differ']} differ unexplained"
        + (f", {encrypted} not compared (encrypted)" if encrypted else "")
        + f"; {len(diffs)} differences, {explained} explained\n"
    )
    if not diffs and encrypted and encrypted == len(report.connections):
        result = "NOT COMPARED (encrypted)"
    else:
        result = "AGREE" if not diffs else "EXPLAINED" if report.ok else "DIFFERENCES"
    out.write(f"Result: {result}\n")
