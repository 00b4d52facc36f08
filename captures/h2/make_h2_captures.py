"""Record the HTTP/2 captures of captures/h2/ (issue #17): real HTTP/2 libraries on loopback.

    python captures/h2/make_h2_captures.py              # every scenario (as root, about 30 s)
    python captures/h2/make_h2_captures.py --only h2c-python-upgrade

Scenarios (tcpdump on `lo` for the scenario's port, as captures/tls/make_tls_captures.py does):

- python hyper-h2 client and server (h2_python.py): h2c with prior knowledge, h2c by HTTP/1.1
  Upgrade, and h2 over TLS 1.3 (ALPN h2) with an RFC 8441 WebSocket tunnel (wsproto's frame layer,
  permessage-deflate) on the same connection;
- node socket.io 4 on `http2.createSecureServer({allowHTTP1: true})` loaded by headless Chromium
  with SSLKEYLOGFILE (node/sio_browser_server.js --cert, node/browser/index.html): Engine.IO
  polling over h2, then the WebSocket upgrade (Chromium opens it over HTTP/1.1: the server does
  not enable RFC 8441, which engine.io could not serve);
- node's http2 server with `enableConnectProtocol` and Chromium's `new WebSocket()` (node/ws_h2_server.js):
  Chromium's own RFC 8441 extended CONNECT, served by the `ws` package on the h2 stream.

Beside each capture: `<name>.keys` (TLS key log, throwaway sessions on loopback: committed on
purpose) and `<name>.expected.json`: what the applications' own handlers saw, never a dissector's
output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tls")]

import h2_python  # noqa: E402
from make_tls_captures import Recorder, make_certificate  # noqa: E402

NODE = HERE.parent / "node"


@dataclass
class Scenario:
    name: str
    port: int
    shows: str
    run: Callable[[Scenario, Path, Path, Path], dict[str, Any]]  # (scenario, cert, key, keylog)
    tls: bool = True
    libraries: tuple[str, ...] = ("h2", "hyperframe", "hpack", "wsproto")


def python_run(
    tls: bool, tunnel: bool, upgrade: bool = False
) -> Callable[[Scenario, Path, Path, Path], dict[str, Any]]:
    def run(s: Scenario, cert: Path, key: Path, keylog: Path) -> dict[str, Any]:
        contexts = h2_python.tls_contexts(str(cert), str(key), str(keylog)) if tls else None
        app = h2_python.run(s.port, tls=contexts, tunnel=tunnel, upgrade=upgrade)
        app["big_decoded_sha256"] = h2_python.sha(h2_python.BIG)  # /big's body after gzip
        return app

    return run


def chromium_run(
    server_js: str, page: str, timeout: float = 40.0
) -> Callable[[Scenario, Path, Path, Path], dict[str, Any]]:
    """Start the node server, load its page in headless Chromium with SSLKEYLOGFILE, wait for
    the page's title to say it is done, and return the server's and the page's records."""

    def run(s: Scenario, cert: Path, key: Path, keylog: Path) -> dict[str, Any]:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        out = Path(tempfile.mkdtemp()) / "server-record.json"
        server = subprocess.Popen(
            ["node", server_js, "--host", "127.0.0.1", "--port", str(s.port), "--out", str(out),
             "--cert", str(cert), "--key", str(key)],
            cwd=NODE, stdout=subprocess.PIPE, env=os.environ | {"SSLKEYLOGFILE": str(keylog)},
        )  # fmt: skip
        assert server.stdout is not None
        if b"listening" not in server.stdout.readline():
            server.kill()
            raise RuntimeError("node server did not start")
        profile = tempfile.mkdtemp()
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        flags += ["--no-first-run", f"--user-data-dir={profile}", "--ignore-certificate-errors"]
        for flag in flags:
            options.add_argument(flag)
        env_before = os.environ.get("SSLKEYLOGFILE")
        os.environ["SSLKEYLOGFILE"] = str(keylog)  # chromium inherits it from chromedriver
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            driver.get(f"https://localhost:{s.port}/{page}")
            deadline = time.time() + timeout
            while time.time() < deadline and driver.title not in ("done", "failed"):
                time.sleep(0.2)
            browser = driver.execute_script("return window.__record || null")
            if driver.title == "done":
                driver.execute_script("window.__finish && window.__finish()")
                deadline = time.time() + 10
                while time.time() < deadline and driver.title != "closed":
                    time.sleep(0.2)
        finally:
            driver.quit()
            if env_before is None:
                os.environ.pop("SSLKEYLOGFILE", None)
            else:
                os.environ["SSLKEYLOGFILE"] = env_before
            shutil.rmtree(profile, ignore_errors=True)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=5)
        record = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
        return {"server": record, "browser": browser}

    return run


SCENARIOS = [
    Scenario(
        "h2c-python-prior-knowledge", 8471,
        "h2c with prior knowledge (RFC 9113 §3.3): GET, POST in two DATA frames (one padded), a gzip body"
        " over several DATA frames, a stream cancelled by RST_STREAM, PING, GOAWAY",
        python_run(tls=False, tunnel=False), tls=False,
    ),
    Scenario(
        "h2c-python-upgrade", 8472,
        "h2c by HTTP/1.1 Upgrade (RFC 7540 §3.2): the request becomes stream 1, answered over HTTP/2",
        python_run(tls=False, tunnel=False, upgrade=True), tls=False,
    ),
    Scenario(
        "h2-python-tls13-rfc8441", 8473,
        "h2 over TLS 1.3 (ALPN h2): the exchanges of h2c-python-prior-knowledge, then an RFC 8441"
        " WebSocket (extended CONNECT, permessage-deflate) on the same connection, Close 1000",
        python_run(tls=True, tunnel=True),
    ),
    Scenario(
        "sio-chromium-h2", 8474,
        "headless Chromium and node socket.io 4 on http2.createSecureServer({allowHTTP1: true}):"
        " Engine.IO polling over h2, the WebSocket upgrade over HTTP/1.1 (TLS), events, acks, binary",
        chromium_run("sio_browser_server.js", ""), libraries=(),
    ),
    Scenario(
        "ws-chromium-h2-rfc8441", 8475,
        "headless Chromium's WebSocket over HTTP/2 (RFC 8441) to node's http2 server with"
        " enableConnectProtocol, the `ws` package on the stream: text, binary, Close 1000",
        chromium_run("ws_h2_server.js", ""), libraries=(),
    ),
]  # fmt: skip


def _node_versions() -> dict[str, str]:
    out = {"node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()}
    lock = json.loads((NODE / "package-lock.json").read_text(encoding="utf-8"))
    for name in ("socket.io", "ws"):
        out[name] = lock["packages"].get(f"node_modules/{name}", {}).get("version", "?")
    chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    out["chromium"] = chromium
    return out


def record(s: Scenario, cert: Path, key: Path) -> None:
    pcap, keys = HERE / f"{s.name}.pcap", HERE / f"{s.name}.keys"
    keys.unlink(missing_ok=True)
    # a 32 MiB buffer: Chromium's bursts on a loaded machine overflow tcpdump's default
    with Recorder((s.port,), pcap, buffer_kib=32768):
        app = s.run(s, cert, key, keys)
    libraries = {n: version(n) for n in s.libraries} if s.libraries else _node_versions()
    expected = {
        "scenario": s.name,
        "captures": [pcap.name],
        "keylog": keys.name if s.tls else None,
        "shows": s.shows,
        "libraries": {"python": sys.version.split()[0], "openssl": ssl.OPENSSL_VERSION, **libraries},
        "host": "127.0.0.1",
        "port": s.port,
        "recorded": dt.date.today().isoformat(),
        "command": f"python captures/h2/make_h2_captures.py --only {s.name}",
        **app,
    }
    if not s.tls:
        keys.unlink(missing_ok=True)
    text = json.dumps(expected, indent=1, ensure_ascii=False)
    (HERE / f"{s.name}.expected.json").write_text(text + "\n", encoding="utf-8")
    print(f"recorded {pcap.name} ({pcap.stat().st_size} bytes)")


README_MARK = "<!-- h2-captures -->"  # captures/README.md: from here to the end is this script's


def write_readme() -> None:
    """The HTTP/2 section of captures/README.md (after the TLS one, which keeps it)."""
    rows = []
    for path in sorted(HERE.glob("*.expected.json")):
        exp = json.loads(path.read_text(encoding="utf-8"))
        cap = HERE / exp["captures"][0]
        keys = f" + `h2/{exp['keylog']}`" if exp["keylog"] else ""
        libs = ", ".join(f"{k} {v}" for k, v in exp["libraries"].items())
        rows.append(
            f"| `h2/{cap.name}` ({cap.stat().st_size // 1024} KiB){keys} | {libs}; recorded with tcpdump"
            f" | {exp['shows']} | {exp['recorded']} | `{exp['command']}` |"
        )
    section = (
        f"""{README_MARK}
## HTTP/2 captures (captures/h2/)

Recorded by `captures/h2/make_h2_captures.py` (as root, about a minute): hyper-h2 clients and
servers (`h2_python.py`, with wsproto's frame layer for the RFC 8441 WebSocket), node's `http2`
servers (`node/sio_browser_server.js --cert`: socket.io 4 on
`http2.createSecureServer({{allowHTTP1: true}})`; `node/ws_h2_server.js`: `enableConnectProtocol`
and the `ws` package on the CONNECT stream) loaded by headless Chromium started with
`SSLKEYLOGFILE`, on 127.0.0.1 with a throwaway self-signed certificate; tcpdump on `lo` for the
port. `<name>.keys` is the key log (Chromium's, or Python's `SSLContext.keylog_filename`; committed
on purpose). `<name>.expected.json` is what the applications'
own handlers saw: the h2 requests, bodies and resets each side logged, the WebSocket messages and
close codes, the Socket.IO events and acks of the server (c2s) and the page (s2c).
tests/h2/ checks socketscope against those records and against tshark (`-Y http2`: frames per type
and direction, each stream's request and status).

| capture | libraries (versions) | what it shows | date | command |
|---|---|---|---|---|
"""
        + "\n".join(rows)
        + "\n"
    )
    readme = HERE.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    if README_MARK in text:
        text = text[: text.index(README_MARK)]
    readme.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="scenario names")
    args = parser.parse_args()
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    if any(not s.libraries for s in chosen) and not (NODE / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_certificate(Path(tmp))
        for s in chosen:
            record(s, cert, key)
    write_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
