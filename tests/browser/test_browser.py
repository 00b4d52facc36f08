"""The web UI in a real headless Chromium: pages load clean, plots render, clicks and filters work,
and hostile captured strings are shown as text without running anything."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Served, console_errors, wait_for
from tests.browser.plotpoint import find_point, move_to_point

pytestmark = pytest.mark.browser

TABS = ["", "timeline", "sequence", "messages", "latency", "anomalies"]
ANY_HANDLER = """
return Array.from(document.querySelectorAll('*')).filter(
  (e) => Array.from(e.attributes).some((a) => a.name.startsWith('on'))).map((e) => e.outerHTML.slice(0, 120));
"""


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def _wait_plots(driver: Any) -> None:
    wait_for(
        driver,
        lambda d: d.execute_script(
            "const p = document.querySelectorAll('.plot[data-figure], #timeline, #sequence');"
            "return Array.from(p).every("
            "  (x) => x.getAttribute('data-ready') === '1' || x.querySelector('.error-text'));"
        ),
    )


def _assert_clean(driver: Any, where: str) -> None:
    errors = console_errors(driver)
    assert errors == [], f"{where}: {errors}"
    assert driver.execute_script("return window.__pwned === undefined"), where
    assert driver.execute_script(ANY_HANDLER) == [], where


@pytest.mark.parametrize("tab", TABS)
def test_pages_load_without_console_errors(driver: Any, served: Served, tab: str) -> None:
    console_errors(driver)  # drop earlier entries
    cid = served.capture_id("sio-python-polling-upgrade.pcap")
    _open(driver, f"{served.url}/c/{cid}/{tab}")
    _wait_plots(driver)
    # the filter box's checker is an .error-text kept hidden until a filter is wrong
    assert [e for e in driver.find_elements("css selector", ".error-text") if e.is_displayed()] == []
    _assert_clean(driver, tab or "overview")


def test_captures_page(driver: Any, served: Served) -> None:
    console_errors(driver)
    _open(driver, served.url + "/")
    links = driver.find_elements("css selector", "#captures a")
    assert len(links) >= 5
    _assert_clean(driver, "captures")


def test_timeline_has_traces_and_a_click_opens_the_detail(driver: Any, served: Served) -> None:
    cid = served.capture_id("sio-python-polling-upgrade.pcap")
    _open(driver, f"{served.url}/c/{cid}/timeline")
    _wait_plots(driver)
    names = driver.execute_script("return document.getElementById('timeline').data.map((t) => t.name)")
    assert any(n.startswith("Socket.IO") for n in names) and any(n.startswith("WebSocket") for n in names)
    types = driver.execute_script(
        "return document.getElementById('timeline').data.map((t) => [t.type, t.yaxis || 'y'])"
    )
    # WebGL: the points are drawn on a canvas; the one SVG trace is the range slider's preview
    assert {t for t, ax in types if ax == "y"} == {"scattergl"}
    assert [t for t, ax in types if ax != "y"] == ["scatter"]
    points = driver.execute_script(
        "return document.getElementById('timeline').data.filter((t) => t.mode === 'markers')"
        ".reduce((n, t) => n + t.x.length, 0)"
    )
    assert points > 20
    # A Socket.IO marker, clicked where it is drawn.
    found = find_point(driver, "timeline", "socketio", "Socket.IO")
    assert found is not None
    move_to_point(driver, "timeline", *found, click=True)
    wait_for(driver, lambda d: re.search(r"/messages/\d+$", d.current_url))
    assert driver.find_elements("css selector", "#stack .layer")
    _assert_clean(driver, "timeline click")


def test_clicking_a_message_opens_its_detail(driver: Any, served: Served) -> None:
    cid = served.capture_id("sio-python-polling-upgrade.pcap")
    _open(driver, f"{served.url}/c/{cid}/messages?layer=socketio")
    link = driver.find_elements("css selector", "#messages td.summary a")[1]
    link.click()
    wait_for(driver, lambda d: re.search(r"/messages/\d+\?layer=socketio$", d.current_url))  # the filter kept
    titles = [e.text for e in driver.find_elements("css selector", "#stack .layer h2")]
    assert titles[0].startswith("Socket.IO packet")
    assert any(t.startswith("Engine.IO packet") for t in titles)
    assert any(t.startswith("Packet ") for t in titles)
    assert driver.find_elements("css selector", "pre.hexdump")
    _assert_clean(driver, "detail")


def _count(driver: Any) -> int:
    text = driver.find_element("id", "count").text
    return int(text.split(" ")[0].replace(",", ""))


def test_filters_narrow_the_table(driver: Any, served: Served) -> None:
    from selenium.webdriver.support.ui import Select

    cid = served.capture_id("sio-python-polling-upgrade.pcap")
    _open(driver, f"{served.url}/c/{cid}/messages")
    everything = _count(driver)
    Select(driver.find_element("css selector", "#filters select[name=layer]")).select_by_value("socketio")
    Select(driver.find_element("css selector", "#filters select[name=direction]")).select_by_value("s2c")
    driver.find_element("css selector", "#filters button[type=submit]").click()
    wait_for(driver, lambda d: "layer=socketio" in d.current_url)
    narrowed = _count(driver)
    assert 0 < narrowed < everything
    cells = driver.find_elements("css selector", "#messages tbody tr td:nth-child(4)")
    assert cells and {c.text for c in cells} == {"Socket.IO"}
    dirs = driver.find_elements("css selector", "#messages tbody tr td.dir")
    assert {d.text for d in dirs} == {"\u2190"}
    driver.find_element("css selector", "#filters input[name=q]").send_keys("zz-no-such-text")
    driver.find_element("css selector", "#filters button[type=submit]").click()
    wait_for(driver, lambda d: "zz-no-such-text" in d.current_url)
    assert _count(driver) == 0


def test_sequence_diagram_and_layer_toggles(driver: Any, served: Served) -> None:
    cid = served.capture_id("sio-python-polling-upgrade.pcap")
    _open(driver, f"{served.url}/c/{cid}/sequence")
    wait_for(driver, lambda d: d.find_element("id", "sequence").get_attribute("data-ready") == "1")
    arrows = driver.find_elements("css selector", "#sequence a.seq-arrow")
    labels = " ".join(a.text for a in arrows)
    assert "2probe" in labels and "3probe" in labels and "SYN" in labels
    n_all = len(arrows)
    assert driver.find_elements("css selector", "#sequence a.seq-arrow.layer-tcp")
    driver.find_element("css selector", ".layer-toggle[value=tcp]").click()
    wait_for(driver, lambda d: len(d.find_elements("css selector", "#sequence a.seq-arrow")) < n_all)
    assert driver.find_elements("css selector", "#sequence a.seq-arrow.layer-tcp") == []
    driver.find_elements("css selector", "#sequence a.seq-arrow.layer-socketio")[0].click()
    wait_for(driver, lambda d: re.search(r"/messages/\d+$", d.current_url))
    _assert_clean(driver, "sequence")


def _no_alert(driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def test_xss_capture_shows_payloads_as_text(driver: Any, served: Served) -> None:
    console_errors(driver)
    cid = served.capture_id("xss-payloads.pcap")
    for tab in TABS:
        _open(driver, f"{served.url}/c/{cid}/{tab}")
        _wait_plots(driver)
        _no_alert(driver)
        _assert_clean(driver, f"xss {tab}")
        assert (
            driver.execute_script(
                "return document.querySelectorAll('main img, main iframe, main object').length"
            )
            == 0
        )
    _open(driver, f"{served.url}/c/{cid}/messages?layer=socketio")
    shown = " ".join(e.text for e in driver.find_elements("css selector", "#messages td"))
    assert "<" in shown and ">" in shown  # the HTML is on the page, as text
    for link in [a.get_attribute("href") for a in driver.find_elements("css selector", "#messages a.detail")][
        :12
    ]:
        _open(driver, link)
        _no_alert(driver)
        _assert_clean(driver, link)
    # Hover labels of the timeline carry the payloads through plotly, escaped.
    _open(driver, f"{served.url}/c/{cid}/timeline")
    _wait_plots(driver)
    texts = driver.execute_script(
        "return document.getElementById('timeline').data.flatMap((t) => t.text || [])"
    )
    assert not any("<script" in t or "<img" in t for t in texts)


def test_synthetic_payloads_do_not_run(driver: Any, served_synthetic: Served) -> None:
    console_errors(driver)
    s = served_synthetic
    cid = s.capture_id("sio-python-websocket-only.pcap")
    for path in [*TABS, "messages/24", "messages/41", "messages/44", "packets?frames=20"]:
        _open(driver, f"{s.url}/c/{cid}/{path}")
        _wait_plots(driver)
        _no_alert(driver)
        _assert_clean(driver, path)
    _open(driver, f"{s.url}/c/{cid}/messages/24")
    assert "<script>window.__pwned=1;alert(1)</script>" in driver.find_element("id", "stack").text


def test_binned_timeline_zooms_into_single_records(driver: Any, served_synthetic: Served) -> None:
    console_errors(driver)
    s = served_synthetic
    cid = s.capture_id("sio-python-websocket-only.pcap")
    _open(driver, f"{s.url}/c/{cid}/timeline")
    _wait_plots(driver)
    tl = driver.find_element("id", "timeline")
    assert tl.get_attribute("data-binned") == "1"
    # Zoom as a drag would: plotly emits plotly_relayout, the page fetches that time range.
    driver.execute_script(
        "Plotly.relayout(document.getElementById('timeline'), {'xaxis.range': [0.15, 0.2]})"
    )
    wait_for(driver, lambda d: d.find_element("id", "timeline").get_attribute("data-binned") == "0")
    points = int(tl.get_attribute("data-points"))
    assert 0 < points <= 20
    rows = driver.execute_script(
        "return document.getElementById('timeline').data"
        ".flatMap((t) => (t.customdata || []).map((c) => c.row)).filter((r) => r !== undefined)"
    )
    assert len(rows) == points
    _assert_clean(driver, "zoomed timeline")


def test_upload_through_the_form(driver: Any, served_synthetic: Served) -> None:
    """A same-origin form post from the browser (Origin and Sec-Fetch-Site sent) passes the
    server's Origin check and lands on the capture's overview."""
    from tests.browser.conftest import CAPTURES

    console_errors(driver)
    _open(driver, served_synthetic.url + "/")
    field = driver.find_element("css selector", "form.upload input[type=file]")
    field.send_keys(str(CAPTURES / "sio-python-polling-upgrade.pcap"))
    driver.find_element("css selector", "form.upload [type=submit]").click()
    wait_for(driver, lambda d: re.search(r"/c/[0-9a-f]+/$", d.current_url))
    assert "Request refused" not in driver.page_source
    _assert_clean(driver, "upload")
