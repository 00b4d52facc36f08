"""Scenarios sio-chromium-*: headless Chromium (selenium + chromedriver) against a node socket.io server.

Variants: v4 (socket.io 4, page browser/index.html) and v2 (socket.io 2 / Engine.IO 3, page
browser/index_v2.html, where the browser's XHR2 makes polling carry Engine.IO 3 binary payloads).
The node server (captures/node/sio_browser_server.js) serves the page, browser/record.js and
socket.io's browser bundle; it records what it received (c2s).  The page records what the browser
received (s2c) in window.__record; selenium reads it once the page's title is "done", then calls
window.__finish() (emit "bye", disconnect) and waits for the server to write its record.
Both records carry timestamps from the same clock; the merged lists are in time order.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import selenium
from _record import parse_args, write_record
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def start_server(host: str, port: int, out: Path, version: str) -> subprocess.Popen[str]:
    node = shutil.which("node") or "node"
    script = str(NODE_DIR / "sio_browser_server.js")
    proc = subprocess.Popen(
        [node, script, "--host", host, "--port", str(port), "--out", str(out), "--version", version],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the server prints "listening" (and exits by itself within 60 s)
    if "listening" not in line:
        proc.kill()
        raise RuntimeError(f"node server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc


def browser_record(url: str, profile: str) -> tuple[dict[str, Any], str]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(20)
        driver.set_script_timeout(10)
        driver.get(url)
        WebDriverWait(driver, 20, poll_frequency=0.1).until(lambda d: d.title in ("done", "failed"))
        record: dict[str, Any] = driver.execute_script("return window.__record")
        if driver.title == "failed":
            raise RuntimeError(f"page failed: {record.get('errors')}")
        version = driver.capabilities.get("browserVersion", "unknown")
        driver.execute_script("window.__finish()")
        WebDriverWait(driver, 10, poll_frequency=0.1).until(lambda d: d.title == "closed")
        time.sleep(0.3)
        return record, str(version)
    finally:
        driver.quit()


KEY_ORDER = ["direction", "nsp", "event", "ack_id", "args"]


def merged(server: list[dict[str, Any]], browser: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Both sides' entries in time order, without the timestamps, keys in the usual order."""
    entries = sorted(server + browser, key=lambda e: float(e.get("ts", 0)))
    out = []
    for e in entries:
        keys = [k for k in KEY_ORDER if k in e] + [k for k in e if k not in KEY_ORDER and k != "ts"]
        if "event" in e:  # events: ack_id last, as the other scenarios write them
            keys = ["direction", "nsp", "event", "args", "ack_id"]
        out.append({k: e[k] for k in keys})
    return out


def notes(version: str, browser: dict[str, Any]) -> str:
    if version == "2":
        head = (
            "Headless Chromium loads / (HTML page), /record.js, /socket.io-client-2.js (socket.io-client 2's "
            "bundle, uncompressed, served beside the socket.io 2 server) and perhaps /favicon.ico (404), "
            "then connects / (implicit in Socket.IO protocol 4; the "
            "token travels in the query string) and /chat over polling. Engine.IO 3 with XHR2: polling "
            "bodies use the binary payload encoding (<0|1><length digits>0xff<packet>) both ways, so the "
            "binary attachment of upload and of its ack are raw bytes. The client pings (EIO3). engine.io 3 "
            "offers permessage-deflate with its defaults. "
        )
    else:
        head = (
            "Headless Chromium loads / (HTML page), /record.js, /socket.io/socket.io.min.js (served by "
            "socket.io with the Content-Encoding the browser accepts) and perhaps /favicon.ico (404), then "
            "connects / and /chat over polling and upgrades to websocket; the server negotiates "
            "permessage-deflate with threshold 0, so the websocket messages are compressed both ways. Binary "
            "over polling is base64 ('b' packets). "
        )
    return head + (
        "The server delays its handling of the WebSocket upgrade request by 400 ms so that chat and upload "
        "travel over polling: transport at the first emit "
        f"{browser.get('transport_at_first_emit')}, after the upload ack "
        f"{browser.get('transport_after_upload')}. c2s entries were recorded by the node server from "
        "its decoded packets, s2c entries by the page (io.Socket.prototype.onpacket); lists merged by "
        "timestamp (same clock). Binary values the browser received are ArrayBuffers, written {'$hex': ...}."
    )


def main() -> None:
    args = parse_args(__doc__ or "", ["v4", "v2"])
    version = args.variant[1:]
    os.environ.setdefault("SE_AVOID_STATS", "true")  # selenium: no usage statistics
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium manager: never download anything
    with tempfile.TemporaryDirectory(prefix="sio-chromium-") as tmp:
        server_out = Path(tmp) / "server.json"
        proc = start_server(args.host, args.port, server_out, version)
        try:
            browser, chromium_version = browser_record(
                f"http://{args.host}:{args.port}/", str(Path(tmp) / "profile")
            )
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
        server = json.loads(server_out.read_text(encoding="utf-8"))
    if browser["eio_sid"] != server["eio_sid"]:
        raise RuntimeError(f"sid mismatch: browser {browser['eio_sid']} server {server['eio_sid']}")
    libraries = dict(server["libraries"])
    libraries["chromium"] = chromium_version
    libraries["chromedriver"] = subprocess.run(
        [CHROMEDRIVER, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout.split()[1]
    libraries["selenium"] = selenium.__version__
    record = {
        "websocket": None,
        "socketio": {
            "eio": 3 if version == "2" else 4,
            "sid": browser["eio_sid"],
            "transport_path": ["polling", "websocket"]
            if browser["transport"] == "websocket"
            else ["polling"],
            "parser": "default",
            "namespaces": browser["namespaces"],
            "ping_interval_ms": 1000,
            "ping_timeout_ms": 5000,
            "events": merged(server["events"], browser["events"]),
            "acks": merged(server["acks"], browser["acks"]),
            "connects": server["connects"],
            "connect_errors": browser["connect_errors"],
            "disconnects": server["disconnects"] + browser["disconnects"],
        },
        "http": {
            "user_agent": browser["user_agent"],
            "page": "/",
            "bundle": "/socket.io-client-2.js" if version == "2" else "/socket.io/socket.io.min.js",
        },
        "libraries": libraries,
        "notes": notes(version, browser),
    }
    write_record(args.out, record)


if __name__ == "__main__":
    main()
