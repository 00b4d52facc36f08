"""Every HTML page over the synthetic document: loads, escapes captured strings, pages and filters."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.webui.conftest import CSRF, capture_id
from tests.webui.synthetic import EVIL, EVIL_EVENT, EVIL_NSP, EVIL_SID
from webui import CSP


class _Attrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bad: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.bad.append((tag, name))


def _handler_attributes(html: str) -> list[tuple[str, str]]:
    """Event-handler attributes and javascript: URLs in any tag (the DOM a browser would build)."""
    p = _Attrs()
    p.feed(html)
    return p.bad


PAGES = [
    "",
    "timeline",
    "sequence",
    "messages",
    "latency",
    "anomalies",
    "packets?frames=1,20-21",
    "messages/24",
]
RAW_EVIL = [EVIL, EVIL_EVENT, EVIL_NSP, EVIL_SID, "<b>x</b>"]


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_with_strict_headers(synth: tuple[FlaskClient, str], page: str) -> None:
    c, cid = synth
    r = c.get(f"/c/{cid}/{page}")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.mimetype == "text/html"
    assert r.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    html = r.get_data(as_text=True)
    # No inline script anywhere: every <script> has a src.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not _handler_attributes(html)
    for evil in RAW_EVIL:
        assert evil not in html, f"unescaped captured text on {page!r}: {evil}"


def test_captured_strings_are_shown_escaped(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    html = c.get(f"/c/{cid}/messages?limit=1000").get_data(as_text=True)
    assert "&lt;script&gt;window.__pwned=1;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html
    overview = c.get(f"/c/{cid}/").get_data(as_text=True)
    assert "&lt;svg onload=alert(3)&gt;" in overview
    detail = c.get(f"/c/{cid}/messages/24").get_data(as_text=True)
    assert "&lt;script&gt;window.__pwned=1" in detail


def test_captures_page_lists_and_offers_upload(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    html = c.get("/").get_data(as_text=True)
    assert f"/c/{cid}/" in html
    assert "sio-python-websocket-only.pcap" in html
    assert f'name="csrf_token" value="{CSRF}"' in html
    assert "/captures/" not in html.split("<main>")[1]  # ids in URLs, never paths


def _count(html: str) -> int:
    m = re.search(r'id="count">([\d,]+) record', html)
    assert m, html[:2000]
    return int(m.group(1).replace(",", ""))


def test_message_filters_narrow_the_table(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    everything = _count(c.get(f"/c/{cid}/messages").get_data(as_text=True))
    assert everything == 51
    sio = c.get(f"/c/{cid}/messages", query_string={"layer": "socketio"}).get_data(as_text=True)
    assert _count(sio) == 6
    ev = c.get(f"/c/{cid}/messages", query_string={"layer": "socketio", "direction": "s2c", "type": "EVENT"})
    assert _count(ev.get_data(as_text=True)) == 2
    nsp = c.get(f"/c/{cid}/messages", query_string={"nsp": EVIL_NSP}).get_data(as_text=True)
    assert _count(nsp) == 1 and "hello" in nsp
    q = c.get(f"/c/{cid}/messages", query_string={"q": "3probe"}).get_data(as_text=True)
    assert _count(q) == 2  # the WebSocket message and the Engine.IO packet
    none = c.get(f"/c/{cid}/messages", query_string={"q": "zzz-nothing"}).get_data(as_text=True)
    assert _count(none) == 0 and "nothing matches" in none


def test_message_table_pages(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    first = c.get(f"/c/{cid}/messages", query_string={"limit": 20}).get_data(as_text=True)
    ids = re.findall(r'class="detail" href="/c/[0-9a-f]+/messages/(\d+)[?"]', first)
    assert ids == [str(i) for i in range(20)]
    assert 'id="next"' in first and 'id="prev"' not in first
    third = c.get(f"/c/{cid}/messages", query_string={"limit": 20, "offset": 40}).get_data(as_text=True)
    ids = re.findall(r'class="detail" href="/c/[0-9a-f]+/messages/(\d+)[?"]', third)
    assert ids == [str(i) for i in range(40, 51)]
    assert 'id="next"' not in third and 'id="prev"' in third


def test_detail_shows_the_osi_stack(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    html = c.get(f"/c/{cid}/messages/24").get_data(as_text=True)
    order = [
        html.index(t)
        for t in (
            "Socket.IO packet: EVENT",
            "Engine.IO packet: message",
            "WebSocket message: text",
            "Packet 20:",
            "Packet 21:",
        )
    ]
    assert order == sorted(order)
    assert "frames (RFC 6455" in html and "0a0b0c0d" in html  # the frames table with the mask key
    assert "TCP payload (as captured" in html  # raw bytes of the real packets
    assert re.search(r"000000  [0-9a-f]{2} ", html)  # a hex dump line


def test_detail_of_a_control_frame_and_a_tcp_row(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    html = c.get(f"/c/{cid}/messages/28").get_data(as_text=True)
    assert "WebSocket frame: ping" in html and "68 69" in html  # "hi", unmasked
    html = c.get(f"/c/{cid}/messages/0").get_data(as_text=True)
    assert "TCP connection #0: SYN" in html and "Packet 1:" in html and "SYN" in html


def test_anomalies_page(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    html = c.get(f"/c/{cid}/anomalies").get_data(as_text=True)
    assert "ws.client-frame-unmasked" in html
    assert "RFC 6455" in html  # the registry's reference
    assert f"/c/{cid}/packets?frames=20" in html
    assert "(code not in the registry)" in html
    errors = c.get(f"/c/{cid}/anomalies", query_string={"severity": "error"}).get_data(as_text=True)
    assert "ws.client-frame-unmasked" in errors and "tcp.retransmission" not in errors


def test_packets_page_lists_what_each_packet_carried(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    html = c.get(f"/c/{cid}/packets", query_string={"frames": "28"}).get_data(as_text=True)
    assert "BINARY_EVENT" in html and 'id="packet-28"' in html
    assert c.get(f"/c/{cid}/packets", query_string={"frames": "x,-1"}).status_code == 400
    listed = c.get(f"/c/{cid}/packets", query_string={"offset": 20, "limit": 10}).get_data(as_text=True)
    assert 'id="packet-list"' in listed and f'href="/c/{cid}/packets?frames=21"' in listed
    assert f'href="/c/{cid}/packets?frames=31"' not in listed and "21\u201330 of 60" in listed


def test_packet_fields_from_the_link_up_with_relative_numbers(real: FlaskClient) -> None:
    cid = capture_id(real, "sio-python-polling-upgrade.pcap")
    packet = real.get(f"/api/captures/{cid}/messages/1").get_json()["sections"][-1]
    assert [p["layer"] for p in packet["protos"]] == ["link", "network", "transport"]
    tcp = dict(packet["protos"][2]["fields"])
    assert tcp["flags"] == "SYN, ACK" and tcp["seq"] == "0 (relative)" and tcp["ack"] == "1 (relative)"
    assert int(tcp["seq (raw)"]) > 1


def test_sequence_page_offers_connections_and_sessions(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    html = c.get(f"/c/{cid}/sequence", query_string={"connection": 1}).get_data(as_text=True)
    assert 'value="connection:1" selected' in html
    assert 'value="session:0"' in html
    for layer in ("tcp", "http", "websocket", "engineio", "socketio"):
        assert f'class="layer-toggle" value="{layer}"' in html


@pytest.mark.parametrize(
    "url",
    ["/c/0000000000000000/", "/c/../../etc/passwd/", "/c/%2e%2e%2fetc%2fpasswd/", "/c/abc/timeline", "/nope"],
)
def test_unknown_captures_are_404(synth: tuple[FlaskClient, str], url: str) -> None:
    c, _ = synth
    assert c.get(url).status_code == 404


def test_unknown_message_is_404(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    assert c.get(f"/c/{cid}/messages/999999").status_code == 404


def test_other_host_names_are_refused(synth: tuple[FlaskClient, str]) -> None:
    """DNS rebinding: a page of another site resolving to 127.0.0.1 must not read the captures."""
    c, _ = synth
    assert c.get("/", headers={"Host": "evil.example:8050"}).status_code == 400
    assert c.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200


def test_plotly_is_served_locally(synth: tuple[FlaskClient, str]) -> None:
    import gzip
    import re

    c, cid = synth
    page = c.get(f"/c/{cid}/timeline").get_data(as_text=True)
    url = re.search(r'src="(/vendor/plotly\.[0-9a-f]{16}\.min\.js)"', page)
    assert url, "the page names plotly.min.js by its hash"
    r = c.get(url.group(1))
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b"plotly" in r.data[:2000].lower() and "Content-Encoding" not in r.headers
    plain = r.data
    r.close()
    r = c.get(url.group(1), headers={"Accept-Encoding": "gzip, deflate"})
    assert r.headers["Content-Encoding"] == "gzip" and r.headers["Vary"] == "Accept-Encoding"
    assert len(r.data) < len(plain) / 2 and gzip.decompress(r.data) == plain
    old = c.get("/vendor/plotly.min.js")
    assert old.status_code == 302 and old.headers["Location"].endswith(url.group(1))
    stale = c.get("/vendor/plotly.0123456789abcdef.min.js")
    assert stale.status_code == 302 and "immutable" not in stale.headers.get("Cache-Control", "")
    assert c.get("/favicon.ico").status_code == 301


def test_static_scripts_never_use_innerhtml(synth: tuple[FlaskClient, str]) -> None:
    c, _ = synth
    for name in ("common.js", "plots.js", "timeline.js", "sequence.js", "analyzing.js"):
        r = c.get(f"/static/{name}")
        assert r.status_code == 200
        text = r.get_data(as_text=True)
        r.close()
        for bad in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert bad not in text, (name, bad)


def test_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    from webui import create_app

    folder = tmp_path / "caps"
    folder.mkdir()
    (folder / "broken.pcap").write_bytes(b"this is text, not a capture")
    app = create_app(folders=[str(folder)], upload_dir=str(tmp_path / "up"), config={"ANALYSIS_WAIT": 30})
    with app.test_client() as c:
        cid = c.get("/api/captures").get_json()["items"][0]["id"]
        r = c.get(f"/c/{cid}/")
        assert r.status_code == 422 and "Not a capture" in r.get_data(as_text=True)
        assert c.get(f"/api/captures/{cid}/messages").status_code == 422
        assert c.get(f"/api/captures/{cid}/status").get_json()["state"] == "error"


def test_slow_analysis_shows_progress(tmp_path: Path) -> None:
    import threading

    from tests.webui.conftest import SYNTH_PCAP, synthetic_index
    from webui import create_app

    gate = threading.Event()

    def slow(path: str, job: object) -> object:
        gate.wait(20)
        return synthetic_index()

    app = create_app(
        captures=[str(SYNTH_PCAP)],
        folders=[],
        upload_dir=str(tmp_path),
        config={"ANALYSIS_WAIT": 0.05, "ANALYZE": slow},
    )
    with app.test_client() as c:
        cid = c.get("/api/captures").get_json()["items"][0]["id"]
        r = c.get(f"/c/{cid}/timeline")
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and "Analyzing" in html and "<progress" in html and "analyzing.js" in html
        assert c.get(f"/api/captures/{cid}/messages").status_code == 202
        assert c.get(f"/api/captures/{cid}/status").get_json()["state"] == "running"
        gate.set()
        deadline = 200
        while c.get(f"/api/captures/{cid}/status").get_json()["state"] == "running" and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        assert c.get(f"/c/{cid}/timeline").status_code == 200
        assert "Analyzing" not in c.get(f"/c/{cid}/timeline").get_data(as_text=True)
