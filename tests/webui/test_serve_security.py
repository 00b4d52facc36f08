"""`serve`'s defences: the Host allow-list (DNS rebinding, IPv6 Host values), the Origin check of
state-changing requests, the bound on concurrent uploads, and the idle timeout of connections.

Real servers run as bounded subprocesses on loopback (127.0.0.1, or ::1 when configured)."""

from __future__ import annotations

import argparse
import contextlib
import io
import socket
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from analyzer.cli import build_parser
from analyzer.cli.serve import run_serve
from tests.webui.conftest import CSRF, ROOT, SYNTH_PCAP, synthetic_index
from tests.webui.serving import served
from webui import create_app
from webui.hosts import allowed_hosts_for, same_origin, split_host

PCAP = SYNTH_PCAP.read_bytes()


def _app(tmp_path: Path, **config: Any) -> Flask:
    return create_app(
        captures=[str(SYNTH_PCAP)],
        folders=[],
        upload_dir=str(tmp_path / "uploads"),
        config={"TESTING": True, "CSRF_TOKEN": CSRF, "ANALYZE": lambda p, j: synthetic_index(), **config},
    )


def _upload(c: FlaskClient, **headers: str) -> int:
    r = c.post(
        "/api/captures",
        data={"file": (io.BytesIO(PCAP), "x.pcap")},
        headers={"X-CSRF-Token": CSRF, **headers},
    )
    return r.status_code


def test_host_values_are_parsed() -> None:
    assert split_host("[::1]:8050") == ("::1", 8050)
    assert split_host("[::1]") == ("::1", None)
    assert split_host("LocalHost:80") == ("localhost", 80)
    assert split_host("example.com.") == ("example.com", None)
    for bad in ["", "::1", "[::1", "[::1]x", "[nothost]:1", "a b", "a:99999", "a:x", "a@b", "a/b"]:
        assert split_host(bad) is None, bad
    assert same_origin("http://[::1]:8050", "[::1]:8050", "http")
    assert same_origin("http://localhost", "localhost:80", "http")
    assert not same_origin("http://localhost:3000", "localhost:8050", "http")  # another local service
    assert not same_origin("http://evil.example:8050", "localhost:8050", "http")
    assert not same_origin("null", "localhost:8050", "http")


def test_bracketed_ipv6_host_is_answered(tmp_path: Path) -> None:
    """The Host check was werkzeug's, which compares what comes before the first colon: with
    werkzeug 3.0 `[::1]:PORT` never matched (every request 400), with 3.1 every bracketed
    Host matched `[` (`[::2]` too). It parses host[:port] and [v6]:port now."""
    with _app(tmp_path).test_client() as c:
        assert c.get("/", headers={"Host": "[::1]:8050"}).status_code == 200
        assert c.get("/", headers={"Host": "[::1]"}).status_code == 200
        assert c.get("/", headers={"Host": "[::2]:8050"}).status_code == 400
        assert c.get("/", headers={"Host": "localhost.:8050"}).status_code == 200


def test_wildcard_bind_keeps_an_allow_list(tmp_path: Path) -> None:
    allowed = allowed_hosts_for("0.0.0.0", ["captures.example"])
    assert (
        "localhost" in allowed and "captures.example" in allowed and socket.gethostname().lower() in allowed
    )
    with _app(tmp_path, ALLOWED_HOSTS=allowed).test_client() as c:
        r = c.get("/api/csrf-token", headers={"Host": "rebind.evil.example:8050"})
        assert r.status_code == 400 and CSRF not in r.get_data(as_text=True)
        assert c.get("/api/csrf-token", headers={"Host": "captures.example:8050"}).status_code == 200
        assert c.get("/api/csrf-token", headers={"Host": "127.0.0.1:8050"}).status_code == 200


def _serve_app(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[Flask, str]:
    """run_serve with these arguments, without listening: the app it builds, and what it warned."""
    import werkzeug.serving

    got: dict[str, Any] = {}

    class Fake:
        server_port = 8050

        def serve_forever(self) -> None:
            pass

        def server_close(self) -> None:
            pass

    def make_server(host: str, port: int, app: Flask, **kw: Any) -> Fake:
        got["app"], got["handler"] = app, kw.get("request_handler")
        return Fake()

    monkeypatch.setattr(werkzeug.serving, "make_server", make_server)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    args = build_parser().parse_args(["serve", "--captures-dir", str(ROOT / "nothing"), *argv])
    assert run_serve(args) == 0
    got["app"].config["TESTING"] = True
    return got["app"], err.getvalue()


def test_serve_on_every_interface_refuses_rebinding(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app, warning = _serve_app(
        monkeypatch, "--host", "0.0.0.0", "--allowed-host", "Captures.Example", "--upload-dir", str(tmp_path)
    )
    assert "--allowed-host" in warning and "captures.example" in warning and "Origin" in warning
    with app.test_client() as c:
        assert c.get("/", headers={"Host": "rebind.evil.example:8050"}).status_code == 400
        assert c.get("/api/csrf-token", headers={"Host": "rebind.evil.example"}).status_code == 400
        assert c.get("/", headers={"Host": "captures.example:8050"}).status_code == 200
        assert c.get("/", headers={"Host": f"{socket.gethostname()}:8050"}).status_code == 200


def test_foreign_origin_cannot_upload(tmp_path: Path) -> None:
    with _app(tmp_path).test_client() as c:
        assert _upload(c, Origin="http://evil.example") == 403
        assert _upload(c, Origin="http://localhost:3000") == 403  # another port is another origin
        assert _upload(c, Origin="null") == 403  # opaque, and no Sec-Fetch-Site to say more
        assert _upload(c, Origin="null", **{"Sec-Fetch-Site": "cross-site"}) == 403  # a sandboxed frame
        assert _upload(c, **{"Sec-Fetch-Site": "cross-site"}) == 403
        assert _upload(c, **{"Sec-Fetch-Site": "same-site"}) == 403
        r = c.post(
            "/upload",
            data={"csrf_token": CSRF, "file": (io.BytesIO(PCAP), "x.pcap")},
            headers={"Origin": "http://evil.example"},
        )
        assert r.status_code == 403
        assert not list((tmp_path / "uploads").glob("*.cap"))
        # the same origin, with or without the browser's headers, is accepted
        assert _upload(c, Origin="http://localhost", **{"Sec-Fetch-Site": "same-origin"}) == 201
        assert _upload(c) == 201
        r = c.post(
            "/upload",
            data={"csrf_token": CSRF, "file": (io.BytesIO(PCAP), "y.pcap")},
            headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
        )
        assert r.status_code == 303
        # our own form, as Chromium posts it under Referrer-Policy: no-referrer
        r = c.post(
            "/upload",
            data={"csrf_token": CSRF, "file": (io.BytesIO(PCAP), "z.pcap")},
            headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        )
        assert r.status_code == 303
        # reading is not a change: a GET with a foreign Origin is answered (same-origin policy applies)
        assert c.get("/api/captures", headers={"Origin": "http://evil.example"}).status_code == 200


def test_concurrent_uploads_beyond_the_bound_get_503(tmp_path: Path) -> None:
    app = _app(tmp_path, UPLOAD_SLOTS=1)
    store = app.extensions["socketscope.store"]
    entered, release = threading.Event(), threading.Event()
    real_add = store.add_upload

    def slow_add(name: str, data: bytes) -> Any:
        entered.set()
        release.wait(30)
        return real_add(name, data)

    store.add_upload = slow_add
    codes: list[int] = []
    t = threading.Thread(target=lambda: codes.append(_upload(app.test_client())), daemon=True)
    t.start()
    try:
        assert entered.wait(30)
        c = app.test_client()
        r = c.post(
            "/api/captures", data={"file": (io.BytesIO(PCAP), "z.pcap")}, headers={"X-CSRF-Token": CSRF}
        )
        assert r.status_code == 503 and "Too many uploads at once" in r.get_json()["error"]
        assert r.headers["Retry-After"]
        r = c.post("/upload", data={"csrf_token": CSRF, "file": (io.BytesIO(PCAP), "z.pcap")})
        assert r.status_code == 503 and "Too many uploads at once" in r.get_data(as_text=True)
    finally:
        release.set()
        t.join(30)
    assert codes == [201]
    store.add_upload = real_add
    assert _upload(app.test_client()) == 201  # the slot was given back


# ---------------------------------------------------------------------------------------------------------
# real servers


def _serve(*argv: str) -> contextlib.AbstractContextManager[str]:
    """`socketscope serve --port 0 ARGV` until the block ends; its URL."""
    return served(*argv, str(SYNTH_PCAP))


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback address (::1)")
def test_real_server_on_ipv6_loopback() -> None:
    with _serve("--host", "::1") as url:
        assert url.startswith("http://[::1]:")
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200 and SYNTH_PCAP.name in resp.read().decode()


def test_a_silent_client_is_disconnected() -> None:
    with _serve("--host", "127.0.0.1", "--idle-timeout", "1") as url:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and then nothing
            try:
                data = s.recv(4096)  # the server closes it: b"" (or a 408 first)
                while data:
                    data = s.recv(4096)
            except TimeoutError:
                pytest.fail("the server kept a silent connection open for 20 s (idle timeout 1 s)")
        with urllib.request.urlopen(url, timeout=10) as resp:  # and it still serves
            assert resp.status == 200


def test_idle_timeout_option() -> None:
    args = build_parser().parse_args(["serve"])
    assert args.idle_timeout > 0 and args.max_concurrent_uploads >= 1 and args.allowed_host == []
    bad = argparse.Namespace(**{**vars(args), "idle_timeout": 0})
    assert run_serve(bad) == 2
