"""The live page (`serve --allow-live`) with a fake capture injected: routes, CSRF, validation,
one session at a time, server-sent events, bounds, and the capture kept as an upload.

The fake delivers the packets of a bundled capture (sio-python-websocket-only.pcap) from its own
thread, like LiveCapture's capture thread, and writes them to the `write=` file, so the events can
be checked against what the applications recorded (its .expected.json), and the kept file is a
real capture."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from analyzer.capture.livetools import LiveError, LiveStats
from analyzer.capture.pcapfile import open_capture
from tests.webui.conftest import CAPTURES, CSRF
from webui import create_app
from webui import live as live_mod

SIO = CAPTURES / "sio-python-websocket-only.pcap"
HEADERS = {"X-CSRF-Token": CSRF}


class FakeSource:
    tool = "fake"


class FakeCapture:
    """LiveCapture's interface: start(timeout), wait(timeout), stop(timeout) -> LiveStats, .stats."""

    made: list[FakeCapture] = []
    endless = False  # True: delivers nothing and never ends by itself

    def __init__(
        self, interface: str, bpf: str, on_packet: Any, *, engine: str, write: str | None, count: int | None
    ) -> None:
        self.interface, self.bpf, self.on_packet, self.write, self.count = (
            interface,
            bpf,
            on_packet,
            write,
            count,
        )
        self.engine = engine
        self.stats = LiveStats(tool="fake")
        self.source = FakeSource()
        self.stopped = threading.Event()
        self.delivered = threading.Event()
        self.thread: threading.Thread | None = None
        self.stop_calls = 0
        FakeCapture.made.append(self)

    def start(self, timeout: float = 10.0) -> None:
        if "syntax-error" in self.bpf:
            raise LiveError("bad-filter", "the capture filter is not valid BPF syntax (syntax error).")
        if self.interface == "eth-denied" or "deny" in self.bpf:
            raise LiveError(
                "permission", "capturing on lo needs the CAP_NET_RAW and CAP_NET_ADMIN privileges."
            )
        assert self.write is not None
        Path(self.write).write_bytes(b"")  # what LiveCapture.start does
        self.thread = threading.Thread(target=self._deliver, daemon=True)
        self.thread.start()

    def _deliver(self) -> None:
        if not self.endless:
            packets = open_capture(str(SIO))
            try:
                for pkt in packets:
                    if self.count is not None and self.stats.packets >= self.count:
                        break
                    self.stats.packets += 1
                    self.stats.bytes += len(pkt.data)
                    self.on_packet(pkt)
            finally:  # a compiled generator is not closed when the loop is left: close its file now
                close = getattr(packets, "close", None)
                if close is not None:
                    close()
            assert self.write is not None
            shutil.copyfile(SIO, self.write)
        self.delivered.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self.count is not None and self.delivered.wait(timeout):
            return True
        return self.stopped.wait(0)

    def stop(self, timeout: float = 10.0) -> LiveStats:
        self.stop_calls += 1
        self.stopped.set()
        self.delivered.wait(10)
        self.stats.kernel_dropped = 0
        return self.stats


def _app(tmp_path: Path, allow: bool = True, **config: Any) -> Flask:
    return create_app(
        folders=[],
        upload_dir=str(tmp_path / "uploads"),
        config={
            "TESTING": True,
            "CSRF_TOKEN": CSRF,
            "ANALYSIS_WAIT": 60,
            "ALLOW_LIVE": allow,
            "LIVE_CAPTURE": FakeCapture,
            **config,
        },
    )


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    FakeCapture.made.clear()
    FakeCapture.endless = False
    yield
    for c in FakeCapture.made:
        c.stopped.set()


@pytest.fixture
def app(tmp_path: Path) -> Any:
    a = _app(tmp_path)
    yield a
    live_mod.shutdown(a)


@pytest.fixture
def client(app: Flask) -> Any:
    with app.test_client() as c:
        yield c


def _start(c: FlaskClient, **form: str) -> Any:
    data = {"interface": "lo", "filter": "tcp port 18003", **form}
    return c.post("/api/live/start", data=data, headers=HEADERS)


def _events(c: FlaskClient, after: int = 0) -> list[tuple[str, Any]]:
    """Reads /api/live/events to its end (the session is over, so the stream ends with `done`)."""
    r = c.get("/api/live/events", headers={"Last-Event-ID": str(after)} if after else {})
    assert r.status_code == 200
    assert r.mimetype == "text/event-stream"
    out = []
    for block in r.get_data(as_text=True).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def _wait_state(c: FlaskClient, states: tuple[str, ...], timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = c.get("/api/live/status").get_json()
        if st["state"] in states:
            return dict(st)
        time.sleep(0.05)
    raise AssertionError(f"state never became {states}: {st}")


# -- without the flag ------------------------------------------------------------------------------------


def test_routes_are_404_without_the_flag(tmp_path: Path) -> None:
    app = _app(tmp_path, allow=False)
    assert "socketscope.live" not in app.extensions
    with app.test_client() as c:
        assert c.get("/live").status_code == 404
        for url in ("/api/live/status", "/api/live/events", "/api/live/interfaces"):
            r = c.get(url)
            assert r.status_code == 404 and r.get_json() == {"error": "not found"}
        assert c.post("/api/live/start", data={"interface": "lo"}, headers=HEADERS).status_code == 404
        assert c.post("/api/live/stop", headers=HEADERS).status_code == 404
        page = c.get("/").get_data(as_text=True)
        assert 'href="/live"' not in page and ">Live<" not in page
    assert FakeCapture.made == []


def test_serve_flag_is_off_by_default() -> None:
    import argparse

    from analyzer.cli.serve import add_serve_parser

    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["serve"]).allow_live is False
    assert parser.parse_args(["serve", "--allow-live"]).allow_live is True


# -- the page --------------------------------------------------------------------------------------------


def test_page_and_nav(client: FlaskClient) -> None:
    r = client.get("/live")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert '<option value="lo"' in html and "any" in html
    assert CSRF in html  # the form's token
    assert "<script>" not in html and " on" + "click" not in html  # no inline script or handler
    assert 'src="/static/live.js"' in html
    assert 'href="/live"' in client.get("/").get_data(as_text=True)
    assert client.get("/api/live/status").get_json() == {"state": "idle"}
    assert "lo" in client.get("/api/live/interfaces").get_json()["items"]
    # nothing running: the event stream says so and ends at once
    assert [e for e, _ in _events(client)] == ["status"]


def test_interfaces_come_from_the_system() -> None:
    names = live_mod.interfaces()
    assert "lo" in names and names[-1] == "any"
    assert set(names[:-1]) >= {n for _, n in __import__("socket").if_nameindex()}


# -- refused requests ------------------------------------------------------------------------------------


def test_start_needs_the_csrf_token(client: FlaskClient) -> None:
    r = client.post("/api/live/start", data={"interface": "lo"})
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    r = client.post("/api/live/start", data={"interface": "lo"}, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    assert client.post("/api/live/stop").status_code == 403
    assert FakeCapture.made == []


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"interface": "eth9-nope"}, "no network interface named 'eth9-nope'"),
        ({"interface": "-i"}, "no network interface"),
        ({"filter": "-r /etc/shadow"}, "cannot start with '-'"),
        ({"filter": "tcp\nport 1"}, "control characters"),
        ({"filter": "x" * 1025}, "longer than 1024"),
        ({"duration": "abc"}, "duration must be a number"),
        ({"duration": "nan"}, "duration must be a number"),
        ({"duration": "0"}, "between 0 and 600"),
        ({"duration": "601"}, "between 0 and 600"),
        ({"count": "-3"}, "count must be positive"),
        ({"count": "1.5"}, "count must be a number"),
    ],
)
def test_bad_requests_get_one_sentence(client: FlaskClient, form: dict[str, str], words: str) -> None:
    r = _start(client, **form)
    assert r.status_code == 400, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert words in err and err.endswith(".") and "\n" not in err
    assert FakeCapture.made == []


@pytest.mark.parametrize(
    ("filt", "status", "words"),
    [("syntax-error", 400, "not valid BPF syntax"), ("deny", 503, "CAP_NET_RAW")],
)
def test_capture_errors_are_one_sentence(
    client: FlaskClient, app: Flask, filt: str, status: int, words: str
) -> None:
    r = _start(client, filter=filt)
    assert r.status_code == status and words in r.get_json()["error"]
    upload_dir = app.extensions["socketscope.store"].upload_dir
    assert [p for p in os.listdir(upload_dir) if p.startswith("live-")] == []  # the file is removed
    assert client.get("/api/live/status").get_json() == {"state": "idle"}
    assert _start(client).status_code == 200  # and the next start works


# -- a session -------------------------------------------------------------------------------------------


def test_start_events_stop_and_keep(client: FlaskClient, app: Flask) -> None:
    r = _start(client)
    assert r.status_code == 200, r.get_json()
    st = r.get_json()
    assert st["state"] == "running" and st["interface"] == "lo" and st["filter"] == "tcp port 18003"
    assert FakeCapture.made[0].write and FakeCapture.made[0].write.endswith(".pcapng.part")
    # one session at a time
    r2 = _start(client)
    assert r2.status_code == 409 and "already running" in r2.get_json()["error"]
    assert len(FakeCapture.made) == 1
    assert FakeCapture.made[0].delivered.wait(10)

    r = client.post("/api/live/stop", headers=HEADERS)
    assert r.status_code == 200
    st = r.get_json()
    assert st["state"] == "done" and st["error"] is None
    assert st["packets"] == 60 and st["kernel_dropped"] == 0  # `socketscope analyze` counts 60
    cid = st["capture_id"]
    assert cid and st["overview"] == f"/c/{cid}/"

    # the kept capture: an upload, listed, analysable; no .part left behind
    items = client.get("/api/captures").get_json()["items"]
    kept = [i for i in items if i["id"] == cid]
    assert kept and kept[0]["source"] == "upload" and kept[0]["name"].startswith("live lo ")
    assert kept[0]["size"] == SIO.stat().st_size
    upload_dir = app.extensions["socketscope.store"].upload_dir
    assert not [p for p in os.listdir(upload_dir) if p.endswith(".part")]
    assert client.get(f"/c/{cid}/").status_code == 200
    assert "live lo " in client.get("/").get_data(as_text=True)

    # the events: what the applications recorded (captures/*.expected.json), in order, with acks
    events = _events(client)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "done" and events[-1][1]["capture_id"] == cid
    evs = [e for k, d in events if k == "batch" for e in d["events"]]
    want = json.loads(SIO.with_suffix(".expected.json").read_text())["socketio"]
    sio = [e for e in evs if e["type"] == "sio_packet"]
    got_events = [(e["direction"], e["nsp"], e["event"]) for e in sio if e["packet"].endswith("EVENT")]
    assert got_events == [(e["direction"], e["nsp"], e["event"]) for e in want["events"]]
    acks = [e for e in sio if e["packet"].endswith("ACK")]
    assert sorted((e["direction"], e["nsp"], e["ack_id"]) for e in acks) == sorted(
        (a["direction"], a["nsp"], a["ack_id"]) for a in want["acks"]
    )
    assert all(isinstance(e["latency_ms"], float) and e["latency_ms"] >= 0 for e in acks)
    ws = [e for e in evs if e["type"] == "ws_message"]
    assert len(ws) == 17 + 17  # `analyze`: messages c>s 17, s>c 17
    assert [e["type"] for e in evs].count("tcp_open") == 1
    assert evs[-1]["type"] == "capture_stats" and "60 packets captured on lo" in evs[-1]["text"]
    assert all(len(e["text"]) <= live_mod.MAX_TEXT for e in evs)
    # sequence ids: resuming after the last one gives nothing new but the end
    assert [k for k, _ in _events(client, after=len(evs))] == ["status", "done"]  # ids are 1..n

    # a new session may start once this one is over
    assert _start(client).status_code == 200


def test_stop_without_session(client: FlaskClient) -> None:
    r = client.post("/api/live/stop", headers=HEADERS)
    assert r.status_code == 409 and r.get_json()["error"] == "no live capture to stop."


def test_count_ends_the_capture(client: FlaskClient) -> None:
    assert _start(client, count="10").status_code == 200
    st = _wait_state(client, ("done", "error"))
    assert st["state"] == "done" and st["packets"] == 10 and st["note"] == "stopped after 10 packets"
    assert st["capture_id"]


def test_duration_ends_the_capture(client: FlaskClient) -> None:
    FakeCapture.endless = True
    assert _start(client, duration="0.3").status_code == 200
    st = _wait_state(client, ("done", "error"))
    assert st["note"] == "stopped after 0.3 s" and FakeCapture.made[0].stop_calls == 1
    assert 0.3 <= st["elapsed"] < 10


def test_size_bound_ends_the_capture(tmp_path: Path) -> None:
    app = _app(tmp_path, LIVE_MAX_BYTES=1000)
    with app.test_client() as c:
        assert _start(c).status_code == 200
        st = _wait_state(c, ("done", "error"))
        assert st["note"] == "stopped at the size bound (1,000 bytes)"
    live_mod.shutdown(app)


def test_default_duration_is_bounded(tmp_path: Path) -> None:
    FakeCapture.endless = True
    app = _app(tmp_path, LIVE_MAX_DURATION=0.5)
    with app.test_client() as c:
        r = _start(c)
        assert r.status_code == 200 and r.get_json()["max_duration"] == 0.5
        assert _wait_state(c, ("done",))["note"] == "stopped after 0.5 s"
        assert _start(c, duration="2").status_code == 400


def test_server_shutdown_stops_and_keeps(app: Flask, client: FlaskClient) -> None:
    FakeCapture.endless = True
    assert _start(client).status_code == 200
    live_mod.shutdown(app)
    fake = FakeCapture.made[0]
    assert fake.stop_calls == 1
    st = client.get("/api/live/status").get_json()
    assert st["state"] == "done" and st["capture_id"]  # an empty file, kept all the same
    r = _start(client)
    assert r.status_code == 400 and "stopping" in r.get_json()["error"]


def test_ring_drops_oldest_and_counts(monkeypatch: pytest.MonkeyPatch, client: FlaskClient) -> None:
    monkeypatch.setattr(live_mod, "HISTORY", 20)
    assert _start(client).status_code == 200
    assert client.post("/api/live/stop", headers=HEADERS).status_code == 200
    st = client.get("/api/live/status").get_json()
    assert st["events"] > 20 and st["events_dropped"] == st["events"] - 20
    events = _events(client)
    batches = [d for k, d in events if k == "batch"]
    assert batches[0]["missed"] == st["events"] - 20
    assert sum(len(b["events"]) for b in batches) == 20


def test_session_read_in_batches() -> None:
    """LiveSession.read: sequence numbers, batches of BATCH, and what a late reader missed."""
    s = live_mod.LiveSession(
        FakeCapture, "lo", "", duration=1, count=None, max_bytes=1 << 20, path="/nonexistent"
    )
    for i in range(live_mod.HISTORY + 50):
        s.publish({"type": "x", "i": i})
    got, missed = s.read(0, 0)
    assert missed == 50 and len(got) == live_mod.BATCH and got[0][0] == 51 and got[0][1]["i"] == 50
    got, missed = s.read(live_mod.HISTORY + 40, 0)
    assert missed == 0 and [seq for seq, _ in got] == list(
        range(live_mod.HISTORY + 41, live_mod.HISTORY + 51)
    )
    t = time.monotonic()
    got, _ = s.read(s.last_seq, 0.05)  # waits for a new one, then gives up
    assert got == [] and time.monotonic() - t >= 0.04


@pytest.mark.parametrize("text", ["", "tcp port 5000", "host ::1 and (port 80 or port 443)"])
def test_valid_filters(text: str) -> None:
    assert live_mod.validate_filter(text) is None
