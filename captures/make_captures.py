#!/usr/bin/env python3
"""Record the real-traffic captures in captures/ and their applications' own record.

Each scenario runs a real server and a real client (python websockets, python-socketio,
node ws / socket.io v2 and v4, headless Chromium) on loopback while tcpdump (or dumpcap,
for the pcapng capture) records one TCP port.  The scenario's applications write down
what they sent and received; that record becomes ``<name>.expected.json`` beside the
capture.  The capture is then sanity-checked with tshark, and captures/README.md's
provenance table is rewritten from all the expected files.

    python captures/make_captures.py                  # every scenario
    python captures/make_captures.py --only ws-node-ws sio-node-v4-default
    python captures/make_captures.py --list

Needs root (packet capture), tcpdump, dumpcap, tshark, node + npm (``npm ci`` is run in
captures/node when node_modules is missing), python websockets / python-socketio /
uvicorn / aiohttp, and for the browser scenario chromium + chromedriver + selenium.
Everything is bounded in time; network traffic stays on 127.0.0.1 and ::1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopback_recorder import Recorder

__all__ = ["SCENARIOS", "Scenario", "main"]

HERE = Path(__file__).resolve().parent
SCENARIO_DIR = HERE / "scenarios"
NODE_DIR = HERE / "node"
PY = sys.executable


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    port: int
    shows: str
    command: Callable[[Scenario, Path], list[str]]
    host: str = "127.0.0.1"
    recorder: str = "tcpdump"  # or "dumpcap" (pcapng)
    timeout: float = 40.0
    needs_node: bool = False
    needs_browser: bool = False
    extra_ports: tuple[int, ...] = field(default=())

    @property
    def capture_name(self) -> str:
        return f"{self.name}.{'pcapng' if self.recorder == 'dumpcap' else 'pcap'}"


def _command(
    program: Callable[[], str], script: Path, extra: tuple[str, ...]
) -> Callable[[Scenario, Path], list[str]]:
    """The command line of a scenario application: PROGRAM SCRIPT --host H --port N --out FILE EXTRA."""

    def build(s: Scenario, out: Path) -> list[str]:
        return [program(), str(script), "--host", s.host, "--port", str(s.port), "--out", str(out), *extra]

    return build


def _py(script: str, *extra: str) -> Callable[[Scenario, Path], list[str]]:
    return _command(lambda: PY, SCENARIO_DIR / script, extra)


def _node(script: str, *extra: str) -> Callable[[Scenario, Path], list[str]]:
    return _command(lambda: shutil.which("node") or "node", NODE_DIR / script, extra)


SCENARIOS: list[Scenario] = [
    Scenario(
        "ws-python-websockets",
        18001,
        "python websockets server+client: permessage-deflate (context takeover, window bits 12), "
        "subprotocol, text/binary, fragmented message each way, 100 000-byte binary (64-bit length), 70 "
        "000-char text "
        "(inflates past 64 KiB), pings both ways, Close 1000 with reason",
        _py("ws_python_websockets.py"),
    ),
    Scenario(
        "sio-python-polling-upgrade",
        18002,
        "python-socketio ASGI server (uvicorn) + AsyncClient: EIO4 polling handshake then websocket upgrade "
        "(probe), namespaces / and /admin, CONNECT with auth, events and acks both ways, binary attachments "
        "both ways (nested, two in one packet), binary acks, Engine.IO pings (interval 1 s), disconnect",
        _py("sio_python.py", "--variant", "polling-upgrade"),
    ),
    Scenario(
        "sio-python-websocket-only",
        18003,
        "same python-socketio applications with transports=['websocket']: no polling, one TCP connection",
        _py("sio_python.py", "--variant", "websocket-only"),
    ),
    Scenario(
        "sio-node-v4-default",
        18004,
        "node socket.io 4 + socket.io-client 4, default parser: polling then upgrade, namespaces /, /chat, "
        "/admin and a refused /private (CONNECT_ERROR), chat and a binary upload over polling (base64 'b' "
        "packets), the rest over websocket, binary attachments and acks both ways, room broadcast, pings",
        _node("sio_v4.js", "--parser", "default"),
        needs_node=True,
    ),
    Scenario(
        "sio-node-v4-msgpack",
        18005,
        "node socket.io 4 + socket.io-client 4 with socket.io-msgpack-parser on both sides: every Socket.IO "
        "packet is a binary msgpack message (polling base64 'b' packets, then websocket binary frames)",
        _node("sio_v4.js", "--parser", "msgpack"),
        needs_node=True,
    ),
    Scenario(
        "sio-node-v2-eio3",
        18006,
        "node socket.io 2 + socket.io-client 2 (Engine.IO 3, Socket.IO protocol 4): length-prefixed polling "
        "payloads with binary, upgrade with probe, client pings, namespaces, binary attachments and acks",
        _node("sio_v2.js"),
        needs_node=True,
    ),
    Scenario(
        "ws-node-ws",
        18007,
        "node ws server+client over IPv6 (::1), pcapng from dumpcap: permessage-deflate with context "
        "takeover, compressed and uncompressed (compress: false) messages, fragmented messages of both "
        "kinds, 80 000-byte "
        "binary (64-bit length), pings both ways, server Close 4001 with a UTF-8 reason echoed by the client",
        _node("ws_node.js"),
        host="::1",
        recorder="dumpcap",
        needs_node=True,
    ),
    Scenario(
        "sio-chromium-browser",
        18008,
        "headless Chromium (selenium + chromedriver) running socket.io-client 4's browser bundle against a "
        "node socket.io 4 server: page load, polling then upgrade (browser permessage-deflate), events, "
        "acks and binary both ways",
        _py("sio_chromium.py", "--variant", "v4"),
        needs_node=True,
        needs_browser=True,
        timeout=90.0,
    ),
    Scenario(
        "sio-chromium-v2-eio3",
        18011,
        "headless Chromium running socket.io-client 2's browser bundle against a node socket.io 2 server: "
        "Engine.IO 3 polling with XHR2, so payloads use the binary payload encoding (string and binary "
        "packets with length prefixes), then the upgrade; client pings, acks and binary both ways",
        _py("sio_chromium.py", "--variant", "v2"),
        needs_node=True,
        needs_browser=True,
        timeout=90.0,
    ),
    Scenario(
        "xss-payloads",
        18009,
        "python-socketio traffic whose HTTP headers, query string, namespace, event names and args carry "
        "HTML/JS injection strings (for the web UI's escaping tests)",
        _py("sio_python.py", "--variant", "xss"),
    ),
    Scenario(
        "sio-python-polling-only",
        18010,
        "python-socketio client with transports=['polling']: every Engine.IO packet in HTTP long-polling "
        "bodies (record-separator payloads, base64 'b' binary packets), acks and binary both ways",
        _py("sio_python.py", "--variant", "polling-only"),
    ),
]


def _tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def _ensure_node_modules() -> None:
    if (NODE_DIR / "node_modules" / "socket.io").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found: install nodejs and npm")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300)


def _tshark_check(path: Path, port: int, expected: dict[str, Any]) -> list[str]:
    """Compare a few counts from tshark with the applications' record; return the problems."""
    problems: list[str] = []
    fields = ["-d", f"tcp.port=={port},http", "-T", "fields", "-E", "separator=\t"]
    fin_field = ["-e", "websocket.fin"]
    text_fields = ["-e", "websocket.payload.text", "-e", "http.file_data"]
    try:
        ws = subprocess.run(
            [
                "tshark",
                "-n",
                "-r",
                str(path),
                "-Y",
                "websocket",
                *fields,
                "-e",
                "websocket.opcode",
                *fin_field,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        http = subprocess.run(
            ["tshark", "-n", "-r", str(path), "-Y", "http.request", *fields, "-e", "http.request.method"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        texts = subprocess.run(
            ["tshark", "-n", "-r", str(path), "-Y", "websocket or http", *fields, *text_fields],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            errors="replace",
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"tshark failed: {exc}"]
    frames: list[tuple[int, int]] = []
    for line in ws.stdout.splitlines():
        # one packet may carry several frames: tshark joins them with commas
        cols = [c.split(",") for c in line.split("\t")]
        for opcode, fin in zip(cols[0], cols[1], strict=False):
            if opcode:
                frames.append((int(opcode, 0), 1 if fin in ("1", "True") else 0))
    data_ends = sum(1 for op, fin in frames if fin and op in (0, 1, 2))
    closes = sum(1 for op, _ in frames if op == 8)
    requests = len(http.stdout.splitlines())
    ws_rec = expected.get("websocket")
    if ws_rec is not None:
        n = len(ws_rec["messages"])
        if data_ends != n:
            problems.append(f"tshark shows {data_ends} complete data messages, record has {n}")
        if closes < 1:
            problems.append("tshark shows no Close frame")
    sio = expected.get("socketio")
    if sio is not None:
        if "websocket" in sio["transport_path"] and data_ends == 0:
            problems.append("record says websocket but tshark shows no websocket messages")
        if "polling" in sio["transport_path"] and requests == 0:
            problems.append("record says polling but tshark shows no HTTP request")
        if sio["parser"] == "default":
            # every event name the applications received is on the wire, JSON-encoded
            wire = texts.stdout
            for ev in sio["events"]:
                if (
                    json.dumps(ev["event"]) not in wire
                    and json.dumps(ev["event"], ensure_ascii=False) not in wire
                ):
                    problems.append(f"event {ev['event']!r} not found in tshark's websocket/HTTP text")
    print(
        f"    tshark: {len(frames)} websocket frames ({data_ends} message ends, {closes} close), "
        f"{requests} HTTP requests"
    )
    return problems


def run_scenario(s: Scenario, date: str) -> dict[str, Any]:
    if s.needs_node:
        _ensure_node_modules()
    if s.needs_browser and not (
        Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()
    ):
        raise RuntimeError("chromium / chromedriver missing: apt-get install chromium chromium-driver")
    cap = HERE / s.capture_name
    with tempfile.TemporaryDirectory(prefix=f"capture-{s.name}-") as tmp:
        record_path = Path(tmp) / "record.json"
        ports = (s.port, *s.extra_ports)
        rec = Recorder(ports, cap, tool=s.recorder, log=Path(tmp) / "recorder.log")
        cmd = s.command(s, record_path)
        rec.start()
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=s.timeout, check=False, cwd=HERE
            )
        finally:
            rec.stop()
        if proc.returncode != 0 or not record_path.exists():
            raise RuntimeError(
                f"scenario exited {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- "
                f"stderr\n{proc.stderr[-3000:]}"
            )
        record = json.loads(record_path.read_text(encoding="utf-8"))
    rel_cmd = [Path(c).name if c in (PY, shutil.which("node")) else c for c in cmd]
    rel_cmd = [
        os.path.relpath(c, HERE.parent) if os.path.isabs(c) and Path(c).exists() else c for c in rel_cmd
    ]
    rel_cmd = ["<tmp>/record.json" if c == str(record_path) else c for c in rel_cmd]
    libraries = dict(record.pop("libraries"))
    libraries["capture"] = _tool_version(
        ["tcpdump", "--version"] if s.recorder == "tcpdump" else ["dumpcap", "-v"]
    )
    expected: dict[str, Any] = {
        "scenario": s.name,
        "capture": s.capture_name,
        "capture_format": "pcapng" if s.recorder == "dumpcap" else "pcap",
        "shows": s.shows,
        "libraries": libraries,
        "host": s.host,
        "port": s.port,
        "ip_version": 6 if ":" in s.host else 4,
        "recorded": date,
        "command": f"python captures/make_captures.py --only {s.name}",
        "scenario_command": " ".join(rel_cmd),
        "websocket": record.pop("websocket"),
        "socketio": record.pop("socketio"),
        "notes": record.pop("notes", ""),
    }
    expected.update(record)  # anything scenario-specific (e.g. http)
    problems = _tshark_check(cap, s.port, expected)
    (HERE / f"{s.name}.expected.json").write_text(
        json.dumps(expected, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    size = cap.stat().st_size
    print(f"    {cap.name}: {size} bytes")
    if size > 1_000_000:
        problems.append(f"capture is {size} bytes (over 1 MB)")
    if problems:
        raise RuntimeError("; ".join(problems))
    return expected


README_HEAD = """# captures/

Small real captures recorded on loopback from real libraries, each with
`<name>.expected.json`: what the applications themselves sent and received, as
recorded by the scenario scripts' own handlers (never a dissector's output).
Tests compare socketscope's analysis of the capture against that record.

Regenerate them (as root; about a minute and a half for all):

    python captures/make_captures.py                 # every scenario
    python captures/make_captures.py --only NAME ... # some; --list shows them

The script installs the node applications' packages with `npm ci` in
captures/node when `node_modules` is missing (it is git-ignored; package.json
and package-lock.json pin them), starts tcpdump (dumpcap for the pcapng
capture) on `lo` for the scenario's port, runs the scenario
(`scenarios/*.py`, `node/*.js`, the browser pages in `node/browser/`), stops
the recorder with SIGINT, checks the capture against the record with tshark
(WebSocket message count, HTTP requests, every Socket.IO event name present on
the wire), writes `<name>.expected.json` and rewrites this file.  Sids, masks,
client ports, timestamps and some payloads change on every run: commit a
capture together with its expected file.  Everything is bounded in time and
stays on 127.0.0.1 / ::1.  Python needs websockets, python-socketio,
python-engineio, uvicorn, aiohttp and selenium; the browser scenarios need
Debian's chromium and chromium-driver.

## Expected-file format

```
{"scenario", "capture", "capture_format": "pcap"|"pcapng", "shows", "libraries": {name: version},
 "host", "port", "ip_version", "recorded", "command", "scenario_command",
 "websocket": null | {"connections": int,
                      "handshake": {"path", "subprotocol", "request_extensions", "extensions"},
                      "messages": [Message], "pings": [{"direction", "payload_hex", "pong_received"}],
                      "close": {"c2s": {"code", "reason"} | null, "s2c": {"code", "reason"} | null}},
 "socketio": null | {"eio": 3|4, "sid": EIO sid, "transport_path": ["polling", "websocket"] | [...],
                     "parser": "default"|"msgpack", "namespaces": {nsp: Socket.IO sid},
                     "ping_interval_ms", "ping_timeout_ms",
                     "events": [{"direction", "nsp", "event", "args", "ack_id"}],
                     "acks": [{"direction", "nsp", "ack_id", "args"}],
                     "connects": [{"direction": "c2s", "nsp", "auth" | "query"}],
                     "connect_errors": [{"direction": "s2c", "nsp", "message", "data"}],   (node, browser)
                     "disconnects": [{"side": "server"|"client", "nsp", "reason"}]},
 "http": {...}                                   (xss-payloads, sio-chromium-*: what the server saw)
 "notes": str}
Message = {"direction": "c2s"|"s2c", "opcode": "text"|"binary", "length": bytes after inflating,
           "sha256": hex, "text": str | "hex": str   (text/hex only when length <= 4096)}
```

- Directions are certain: a c2s entry was recorded by the server side when it
  received it, an s2c entry by the client side (for WebSocket messages: the
  message handlers; for Socket.IO: a hook on the library's decoded packet,
  python-socketio's `_handle_event`/`_handle_ack`, socket.io's
  `Socket._onpacket`/`onpacket`, socket.io-client's `Socket.onpacket`).
- `websocket` is filled for the plain WebSocket scenarios; for Socket.IO
  scenarios it is null and `socketio` holds the record (the Engine.IO packets
  and WebSocket frames are not recorded by the applications).
- WebSocket messages are in wire order (the conversations are lock-step).
  Socket.IO `events` and `acks` are in the order the receiving handlers saw
  them: per direction that is wire order; between directions it is the order
  of receipt (the browser scenarios merge both sides by timestamp).
- Binary values inside Socket.IO arguments are `{"$hex": "..."}` at their
  place, as in the analysis JSON.  `ack_id` is the id on the packet, `null`
  when no ack was asked for.  An event without arguments has `"args": []`.
- Socket.IO packets the applications do not see as events (CONNECT,
  DISCONNECT, Engine.IO ping/pong/upgrade/noop) are not in `events`; CONNECTs
  are in `connects`, refused ones in `connect_errors`.

## Known differences from tshark (4.0)

- ws-python-websockets: tshark fails to inflate the fragmented compressed c2s
  message and, with context takeover, every compressed message after it
  ("Decompression failed"); the expected file has the real text.
- ws-node-ws: likewise, after the fragmented compressed c2s message tshark
  inflates the next c2s message wrongly ("please send uvwxyz{|ed fragments").
- tshark decodes WebSocket on these ports only with `-d tcp.port==N,http`,
  and knows nothing of Engine.IO / Socket.IO framing (length-prefixed EIO3
  payloads, record separators, attachments, msgpack).

## Provenance
"""


def write_readme() -> None:
    rows = []
    for path in sorted(HERE.glob("*.expected.json")):
        exp = json.loads(path.read_text(encoding="utf-8"))
        cap = HERE / exp["capture"]
        size = cap.stat().st_size if cap.exists() else 0
        libs = ", ".join(f"{k} {v}" for k, v in exp["libraries"].items() if k != "capture")
        rows.append(
            f"| `{exp['capture']}` ({size // 1024} KiB) | {libs}; recorded with "
            f"{exp['libraries'].get('capture', '?')} | {exp['shows']} | {exp['recorded']} | "
            f"`{exp['command']}` |"
        )
    table = "| capture | libraries (versions) | what it shows | date | command |\n|---|---|---|---|---|\n"
    # the TLS captures' section is written by captures/tls/make_tls_captures.py: kept as it is
    old = (HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else ""
    tls = old[old.find(TLS_MARK) :] if TLS_MARK in old else ""
    text = README_HEAD + "\n" + table + "\n".join(rows) + "\n" + ("\n" + tls if tls else "")
    (HERE / "README.md").write_text(text, encoding="utf-8")


TLS_MARK = "<!-- tls-captures -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scenarios")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    names = {s.name: s for s in SCENARIOS}
    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:28} {s.host}:{s.port:<6} {s.capture_name}\n    {s.shows}")
        return 0
    selected = SCENARIOS
    if args.only:
        unknown = [n for n in args.only if n not in names]
        if unknown:
            parser.error(f"unknown scenario(s): {', '.join(unknown)}; see --list")
        selected = [names[n] for n in args.only]
    if os.geteuid() != 0:
        print("warning: not root; tcpdump may not be able to capture", file=sys.stderr)
    date = dt.date.today().isoformat()
    failed = []
    started = time.monotonic()
    for s in selected:
        print(f"== {s.name} ({s.host} port {s.port})", flush=True)
        t0 = time.monotonic()
        try:
            run_scenario(s, date)
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            failed.append(s.name)
            print(f"    FAILED: {exc}", flush=True)
        print(f"    {time.monotonic() - t0:.1f} s", flush=True)
    write_readme()
    print(f"done in {time.monotonic() - started:.1f} s; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
