"""TLS in the web UI, in a real headless Chromium, on every capture of captures/tls/: the TLS card
and the presentation layer of the OSI stack, the "no key" line with how to get keys, a key log
uploaded beside the capture through the page's form (then decrypted), and the TLS records in
the drill-down of a decrypted WebSocket message (message -> frame -> TLS record -> packet)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Served, console_errors, open_page, wait_for, wait_plots
from tests.tls.common import capture, expected, keylog_path, names, secrets

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from webui import create_app

    app = create_app(
        captures=[str(capture(n)) for n in names()],
        folders=[],
        upload_dir=str(tmp_path_factory.mktemp("uploads-tls")),
        config={"ANALYSIS_WAIT": 60},
    )
    s = Served(app)
    yield s
    s.stop()


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


@pytest.mark.parametrize("name", names())
def test_tls_card_upload_and_drill_down(driver: Any, served_tls: Served, name: str) -> None:
    from selenium.webdriver.common.by import By

    console_errors(driver)  # drop what earlier tests left in the shared browser's log
    cid = served_tls.capture_id(capture(name).name)
    open_page(driver, f"{served_tls.url}/c/{cid}/")
    wait_plots(driver)
    counts = _text(driver, "#tls-counts")
    assert "1 TLS connection" in counts
    if capture(name).suffix == ".pcapng":  # its keys are in a Decryption Secrets Block
        assert "1 decrypted" in counts
    else:
        assert "0 decrypted" in counts
        hint = _text(driver, "#tls-hint")
        assert "SSLKEYLOGFILE" in hint and "--tls-keylog" in hint and "keylog_filename" in hint
        assert "no key log" in _text(driver, "#tls-connections .tls-verdict")
    osi = _text(driver, "#osi-table")
    assert "TLS (presentation)" in osi
    row = _text(driver, "#tls-connections tbody tr")
    assert expected(name)["tls"]["version"] in row
    assert "localhost" in row  # the SNI, and the certificate's subject in clear for TLS 1.2

    # the key log, uploaded beside the capture with the page's own form
    form = driver.find_element(By.ID, "keylog-form")
    form.find_element(By.NAME, "keylog").send_keys(str(keylog_path(name)))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "keys-added"))
    wait_plots(driver)
    assert "0 not decrypted" in _text(driver, "#tls-counts")
    assert _text(driver, "#tls-connections .tls-verdict").startswith("yes")
    assert not driver.find_elements(By.ID, "tls-hint")
    assert "CN=localhost" in _text(driver, "#tls-connections")  # TLS 1.3: from the decrypted Certificate
    page = driver.page_source.lower()
    assert not [s for s in secrets(name) if s.hex() in page]

    # a decrypted WebSocket message, down to its TLS record and the packet
    with served_tls.app.test_client() as c:
        items = c.get(f"/api/captures/{cid}/messages?limit=1000").get_json()["items"]
    ws = next(i for i in items if i["layer"] == "websocket")
    open_page(driver, f"{served_tls.url}/c/{cid}/messages/{ws['id']}")
    strip = [li.text for li in driver.find_elements(By.CSS_SELECTOR, ".stack-strip li")]
    tls_at = next(i for i, t in enumerate(strip) if t.startswith("TLS records"))
    assert strip[0].startswith("WebSocket") and strip[tls_at + 1].startswith("Packet"), strip
    section = driver.find_element(By.CSS_SELECTOR, "section.layer-tls")
    assert "decrypted\nyes" in section.text or "decrypted yes" in section.text.replace("\n", " ")
    cells = [td.text for td in section.find_elements(By.CSS_SELECTOR, "table.tls-records tbody td")]
    assert "application_data" in cells
    assert str(ws["frame"]) in cells  # the record that carried the message ends in its packet
    link = section.find_element(By.CSS_SELECTOR, "td.packet a")
    assert "/packets" in str(link.get_attribute("href"))
    assert console_errors(driver) == []
