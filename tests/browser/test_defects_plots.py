"""Issue #18, the defects seen in the plots and the pages' frame, each checked in a real browser:
hover texts, the mode bar, the latency bars, empty views, long lists, page titles, the sequence
picker, plotly.min.js served compressed and cached, anomalies on the timeline."""

from __future__ import annotations

import re
import time
import urllib.request
from typing import Any

import pytest

from tests.browser.conftest import Served, console_errors, open_page, wait_for, wait_plots

pytestmark = pytest.mark.browser

REAL = "sio-python-polling-upgrade.pcap"
TABS = ["", "timeline", "sequence", "messages", "latency", "anomalies"]


@pytest.mark.parametrize("path", [*TABS, "messages/3", "packets?frames=1"])
def test_titles_name_the_product_once(driver: Any, served: Served, path: str) -> None:
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/{path}")
    title = driver.title
    assert title.count("socketscope") == 1, title
    assert REAL in title
    open_page(driver, served.url + "/")
    assert driver.title.count("socketscope") == 1, driver.title


SELECT_FITS = """
const s = document.getElementById('seq-pick');
const probe = document.createElement('span');
probe.style.font = getComputedStyle(s).font;
probe.style.whiteSpace = 'pre';
probe.textContent = s.options[s.selectedIndex].text;
document.body.appendChild(probe);
const need = probe.getBoundingClientRect().width;
probe.remove();
return {need: need, have: s.clientWidth, title: s.title, text: s.options[s.selectedIndex].text};
"""


def test_sequence_picker_shows_the_whole_label(driver: Any, served: Served) -> None:
    from selenium.webdriver.support.ui import Select

    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/sequence")
    wait_plots(driver)
    for value in ("session:0", "connection:0"):
        Select(driver.find_element("id", "seq-pick")).select_by_value(value)
        got = driver.execute_script(SELECT_FITS)
        assert got["need"] + 24 <= got["have"], got  # the text and the arrow
        assert got["title"] == got["text"], got
