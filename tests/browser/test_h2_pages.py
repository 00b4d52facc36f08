"""HTTP/2 in the web UI, in a real headless Chromium, on the captures of captures/h2/ (served with
their key logs, as `serve --keylog` does): stream labels, RST_STREAM and GOAWAY marks and the
RFC 8441 upgrade in the sequence diagrams, the HTTP/2 card and the HTTP/2 layer of the OSI stack,
and hostile header values (captures/h2/hostile/, made by captures/h2/make_h2_hostile.py) kept as
text on every page that shows them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from analyzer.pipeline import KeyLog
from tests.browser.conftest import Served, console_errors, open_page, wait_for, wait_plots
from tests.h2.common import H2_DIR, capture, expected, keylog_path

pytestmark = pytest.mark.browser

NAMES = ["h2-python-tls13-rfc8441", "sio-chromium-h2", "ws-chromium-h2-rfc8441"]
HOSTILE = H2_DIR / "hostile" / "h2c-python-hostile.pcap"
HOSTILE_RECORD = json.loads((H2_DIR / "hostile" / "h2c-python-hostile.expected.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def served_h2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from webui import create_app

    keys = KeyLog()
    for n in NAMES:
        path = keylog_path(n)
        assert path is not None
        keys.add_text(path.read_bytes(), str(path))
    app = create_app(
        captures=[*(str(capture(n)) for n in NAMES), str(HOSTILE)],
        folders=[],
        upload_dir=str(tmp_path_factory.mktemp("uploads-h2")),
        config={"ANALYSIS_WAIT": 120, "KEYLOG": keys},
    )
    s = Served(app)
    yield s
    s.stop()


def _h2_connection(served: Served, cid: str) -> int:
    """The first connection of the capture that the HTTP/2 card lists."""
    with served.app.test_client() as c:
        doc = c.get(f"/api/captures/{cid}/analysis").get_json()
    return next(int(x["id"]) for x in doc["connections"] if isinstance(x.get("http2"), dict))


def _arrows(driver: Any, url: str) -> list[str]:
    """The sequence diagram's arrows: each one's full title (`#id layer type (dir)` and its label)."""
    from selenium.webdriver.common.by import By

    open_page(driver, url)
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#sequence[data-ready='1']"))
    titles = driver.find_elements(By.CSS_SELECTOR, "#sequence .seq-arrow > title")
    return [str(t.get_attribute("textContent")) for t in titles]


def _labels(arrows: list[str]) -> list[str]:
    return [a.split("\n", 1)[1] for a in arrows if "\n" in a]


def test_python_streams_resets_goaway_and_tunnel(driver: Any, served_h2: Served) -> None:
    from selenium.webdriver.common.by import By

    name = "h2-python-tls13-rfc8441"
    cid = served_h2.capture_id(capture(name).name)
    conn = _h2_connection(served_h2, cid)
    arrows = _arrows(driver, f"{served_h2.url}/c/{cid}/sequence?connection={conn}")
    labels = _labels(arrows)
    requests = [r for r in expected(name)["server"]["requests"] if "method" in r]
    for r in requests:  # what the server's own h2 events said: stream, method, path
        assert f"stream {r['stream_id']} {r['method']} {r['path']}" in labels, labels
        assert any(x.startswith(f"stream {r['stream_id']} 200 (") for x in labels), labels
    echo = next(r for r in requests if r["method"] == "POST")
    assert f"stream {echo['stream_id']} 200 (2.4 kB)" in labels  # its echo: the 2,402 bytes it got
    reset = next(r for r in expected(name)["server"]["requests"] if "reset_by" in r)
    marks = driver.find_elements(By.CSS_SELECTOR, "#sequence .seq-h2-mark")
    kinds = [m.get_attribute("data-mark") for m in marks]
    assert kinds.count("RST_STREAM") == 1 and kinds.count("GOAWAY") == 1, kinds
    assert any(f"CANCEL on stream {reset['stream_id']}" in x for x in labels), labels  # error code 8
    assert any(x.startswith("GOAWAY NO_ERROR") for x in labels)
    connect = [x for x in labels if "CONNECT :protocol websocket /ws?room=1 (WebSocket upgrade)" in x]
    assert len(connect) == 1
    sid = re.match(r"stream (\d+) ", connect[0])
    assert sid is not None
    assert f"stream {sid[1]} 200: WebSocket over HTTP/2 (RFC 8441)" in labels
    # the RST_STREAM is drawn after the reset stream's response and before the tunnel
    order = [labels.index(f"stream {reset['stream_id']} GET /slow"), labels.index(connect[0])]
    rst = next(i for i, x in enumerate(labels) if "CANCEL on stream" in x)
    assert order[0] < rst < order[1]
    assert console_errors(driver) == []


def test_python_card_and_osi(driver: Any, served_h2: Served) -> None:
    name = "h2-python-tls13-rfc8441"
    cid = served_h2.capture_id(capture(name).name)
    open_page(driver, f"{served_h2.url}/c/{cid}/")
    wait_plots(driver)
    text = _text(driver, "#h2")
    assert "1 HTTP/2 connection, 5 streams" in text  # streams 1, 3, 5, 7 and the tunnel's 9
    server = _text(driver, "#h2-connections .h2-settings-s2c")
    assert "ENABLE_CONNECT_PROTOCOL = 1" in server  # RFC 8441 §3
    assert "RST_STREAM 1" in _text(driver, "#h2-connections .h2-frames-c2s")
    assert "GOAWAY 1" in _text(driver, "#h2-connections .h2-frames-c2s")
    assert "CANCEL: 1" in _text(driver, "#h2-connections .h2-resets")
    assert "NO_ERROR" in _text(driver, "#h2-connections .h2-goaway")
    assert "stream 9" in _text(driver, "#h2-connections .h2-tunnel")
    assert "h2.stream-reset" in _text(driver, "#h2-connections .h2-anomalies")
    osi = _text(driver, "#osi-table")
    assert "HTTP/2" in osi and "HTTP/1.1" not in osi
    assert console_errors(driver) == []


def test_socketio_polls_over_h2(driver: Any, served_h2: Served) -> None:
    name = "sio-chromium-h2"
    cid = served_h2.capture_id(capture(name).name)
    conn = _h2_connection(served_h2, cid)
    labels = _labels(_arrows(driver, f"{served_h2.url}/c/{cid}/sequence?connection={conn}"))
    polls = [x for x in labels if re.match(r"stream \d+ GET /socket\.io/\?EIO=4&transport=polling", x)]
    assert polls, labels
    assert any(re.match(r"stream \d+ POST /socket\.io/\?EIO=4&transport=polling", x) for x in labels)
    # the Engine.IO session: its polls over h2 carry the EIO packets, shown as for HTTP/1.1
    arrows = _arrows(driver, f"{served_h2.url}/c/{cid}/sequence?session=0")
    assert any(" engineio " in a for a in arrows)
    assert any(" socketio " in a for a in arrows)
    assert any("\nstream " in a and "transport=polling" in a for a in arrows)
    open_page(driver, f"{served_h2.url}/c/{cid}/")
    wait_plots(driver)
    # h2 polls, then the WebSocket over HTTP/1.1 (the server does not enable RFC 8441)
    assert "HTTP/1.1 + HTTP/2" in _text(driver, "#osi-table")
    assert "1 HTTP/1.x connection beside them" in _text(driver, "#h2-counts")
    assert console_errors(driver) == []


def test_chromium_rfc8441_upgrade(driver: Any, served_h2: Served) -> None:
    name = "ws-chromium-h2-rfc8441"
    cid = served_h2.capture_id(capture(name).name)
    conn = _h2_connection(served_h2, cid)
    labels = _labels(_arrows(driver, f"{served_h2.url}/c/{cid}/sequence?connection={conn}"))
    assert "stream 3 CONNECT :protocol websocket /echo?room=h2 (WebSocket upgrade)" in labels, labels
    assert "stream 3 200: WebSocket over HTTP/2 (RFC 8441)" in labels
    assert "stream 1 GET /" in labels
    close = expected(name)["browser"]["close"]
    texts = _labels(_arrows(driver, f"{served_h2.url}/c/{cid}/sequence?connection={conn}&layers=websocket"))
    assert any(str(close["code"]) in x for x in texts), texts  # the tunnel's frames on the same diagram
    assert console_errors(driver) == []


def test_hostile_header_values_stay_text(driver: Any, served_h2: Served) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    cid = served_h2.capture_id(HOSTILE.name)
    conn = _h2_connection(served_h2, cid)
    labels = _labels(_arrows(driver, f"{served_h2.url}/c/{cid}/sequence?connection={conn}"))
    for r in HOSTILE_RECORD["server"]["requests"]:
        assert f"stream {r['stream_id']} GET {r['path']}" in labels, labels
    shown = driver.find_elements(By.CSS_SELECTOR, "#sequence text.seq-label")
    assert any("<img src=x onerror=alert(1)>" in str(t.get_attribute("textContent")) for t in shown)
    assert not driver.find_elements(By.CSS_SELECTOR, "#sequence img, #sequence script, img[src=x]")
    with served_h2.app.test_client() as c:
        items = c.get(f"/api/captures/{cid}/messages?limit=100").get_json()["items"]
    for row in [i for i in items if i["layer"] == "http"][:2]:
        open_page(driver, f"{served_h2.url}/c/{cid}/messages/{row['id']}")
        body = str(driver.find_element(By.TAG_NAME, "body").text)
        value = HOSTILE_RECORD["request_header" if row["type"] == "request" else "response_header"][1]
        assert value in body
        assert not driver.find_elements(By.CSS_SELECTOR, "main img, main script, img[src=x]")
    open_page(driver, f"{served_h2.url}/c/{cid}/")
    wait_plots(driver)
    assert "GOAWAY" in _text(driver, "#h2-connections .h2-frames-c2s")
    try:
        driver.switch_to.alert.dismiss()
        raise AssertionError("a captured header value ran as script")
    except NoAlertPresentException:
        pass
    assert console_errors(driver) == []


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)
