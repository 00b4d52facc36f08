"""The live page in a real headless Chromium, capturing on `lo` for real (as root, tcpdump):
start with a port filter, run a python-socketio server and client (tests/live/sio_app.py,
bounded in time), watch the rows and the timeline grow, stop, and find the kept capture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, Served, console_errors, wait_for
from tests.live.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.live]

APP = ROOT / "tests" / "live" / "sio_app.py"


@pytest.fixture
def served_live(tmp_path: Path) -> Iterator[Served]:
    if os.geteuid() != 0:
        pytest.skip("live capture tests run as root (CI does); see docs/live.md")
    from webui import create_app
    from webui.live import shutdown

    app = create_app(
        folders=[],
        upload_dir=str(tmp_path / "uploads"),
        config={"ANALYSIS_WAIT": 30, "ALLOW_LIVE": True, "LIVE_MAX_DURATION": 60},
    )
    s = Served(app)
    yield s
    shutdown(app)  # a capture left running by a failed test ends here
    s.stop()


def _rows(driver: Any, kind: str) -> int:
    return int(
        driver.execute_script(
            f"return document.querySelectorAll('#live-messages tr[data-type={kind}]').length"
        )
    )


def test_live_capture_in_the_browser(driver: Any, served_live: Served) -> None:
    port = free_port()
    driver.get(served_live.url + "/")
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")
    driver.find_element("link text", "Live").click()
    wait_for(driver, lambda d: d.find_elements("id", "live-form"))
    console_errors(driver)  # start clean

    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "live-interface")).select_by_value("lo")
    driver.find_element("id", "live-filter").send_keys(f"tcp port {port}")
    driver.find_element("id", "live-start").click()
    wait_for(driver, lambda d: d.find_element("id", "st-state").text == "running", 20)
    assert driver.find_element("id", "live-error").text == ""

    app = subprocess.run(
        [sys.executable, str(APP), str(port), "websocket"],
        capture_output=True,
        text=True,
        timeout=40,
        cwd=ROOT,
    )
    assert app.returncode == 0, app.stderr
    record = json.loads(app.stdout)

    # rows grow while the capture runs: three 'chat' events, their acks (with a latency), the replies
    wait_for(driver, lambda d: _rows(d, "sio_packet") >= 3 * 3, 20)
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#live-messages tr[data-type=sio_packet]'))"
        ".map((tr) => Array.from(tr.cells).map((c) => c.textContent));"
    )
    summaries = [r[5] for r in rows]
    for i in range(3):
        assert any(f"hello {i}" in s and "EVENT" in s for s in summaries), summaries
        assert any(f"ok:hello {i}" in s and "ACK" in s for s in summaries), summaries
    assert [a["ack"] for a in record["acks"]] == ["ok:hello 0", "ok:hello 1", "ok:hello 2"]
    acks = [r for r in rows if r[4] == "ACK"]
    assert len(acks) == 3 and all(float(r[6]) >= 0 for r in acks)  # the latency column
    assert _rows(driver, "tcp_open") >= 1 and _rows(driver, "ws_upgrade") == 1
    # the status line is polled apart from the rows' event stream: it may come a poll later
    wait_for(driver, lambda d: int(d.find_element("id", "st-packets").text.replace(",", "")) > 10, 10)
    wait_for(driver, lambda d: d.find_element("id", "live-timeline").get_attribute("data-ready") == "1")
    points = driver.execute_script(
        "return document.getElementById('live-timeline').data.reduce((n, t) => n + t.x.length, 0);"
    )
    assert points >= 9

    driver.find_element("id", "live-stop").click()
    # read through wait_for: the status area re-renders, so a found element may go stale
    href = wait_for(driver, lambda d: d.find_element("id", "live-overview").get_attribute("href"), 30)
    wait_for(driver, lambda d: d.find_element("id", "st-state").text == "done", 30)
    assert wait_for(driver, lambda d: d.find_element("id", "st-drops").text or None) == "0"
    assert console_errors(driver) == []
    assert "/c/" in href

    # the kept capture: in the captures list, and its overview shows the Socket.IO session
    driver.get(served_live.url + "/")
    names = [a.text for a in driver.find_elements("css selector", "#captures td a")]
    assert any(n.startswith("live lo ") for n in names), names
    driver.get(href)
    wait_for(driver, lambda d: "Socket.IO" in d.find_element("tag name", "main").text, 30)
    assert console_errors(driver) == []


def test_live_error_is_one_sentence(driver: Any, served_live: Served) -> None:
    driver.get(served_live.url + "/live")
    wait_for(driver, lambda d: d.find_elements("id", "live-form"))
    driver.find_element("id", "live-filter").send_keys("tcp port")  # tcpdump: a syntax error
    driver.find_element("id", "live-start").click()
    err = wait_for(driver, lambda d: d.find_element("id", "live-error").text, 20)
    assert "capture filter is not valid BPF syntax" in err and "\n" not in err
    assert driver.find_element("id", "live-start").is_enabled()
    assert not driver.find_element("id", "live-stop").is_enabled()
