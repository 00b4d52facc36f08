"""Issue #18, the messages pane's length column for Socket.IO rows, in a real browser.

The analysis records no wire size for a Socket.IO packet; the pane gives it that of the Engine.IO
packets that carried it (webui/pane.py, row_length). Checked here against what the wire says: a
Socket.IO packet sent over WebSocket is one text message, "4" (the Engine.IO `message` type,
Engine.IO protocol v4 "Encoding") then the Socket.IO packet, so the message's payload length
(RFC 6455 §5.2, from its frame header) is the Socket.IO row's length plus one; a binary packet
adds its attachments' bytes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Served, console_errors, open_page, wait_for

pytestmark = pytest.mark.browser

REAL = "sio-python-polling-upgrade.pcap"  # polling, then the upgrade to WebSocket; a binary event

ROWS = """
return Array.from(document.querySelectorAll('#pane-table tbody tr')).map((tr) => [
  Number(tr.getAttribute('data-row')), tr.className, tr.querySelector('td.len').textContent,
  tr.querySelector('td.label').textContent]);
"""


def test_pane_socketio_rows_have_the_length_of_their_message(driver: Any, served: Served) -> None:
    console_errors(driver)
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/pane?layers=socketio,websocket")
    wait_for(driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-ready") == "1")
    shown = driver.execute_script(ROWS)
    with served.app.test_client() as c:  # where each row was on the wire: direction, packet
        api = c.get(f"/api/captures/{cid}/pane?layers=socketio,websocket&limit=1000").get_json()
    assert len(shown) == len(api["items"]) == api["total"]
    wire = {r["id"]: (r["direction"], r["frame"], r["type"]) for r in api["items"]}
    ws: dict[tuple[str, int], list[int]] = {}
    sio: list[tuple[int, str, int]] = []
    for rid, cls, length, label in shown:
        d, frame, kind = wire[rid]
        if cls == "layer-socketio":
            assert length.isdigit() and int(length) > 0, (rid, label, length)  # every one has a length
            sio.append((int(length), kind, rid))
        elif cls == "layer-websocket" and kind == "text" and length:
            ws.setdefault((d, frame), []).append(int(length))
    matched = 0
    binary = 0
    for length, kind, rid in sio:
        d, frame, _ = wire[rid]
        carriers = ws.get((d, frame), [])
        if not carriers:
            continue  # sent by HTTP long-polling, before the upgrade
        if kind.startswith("BINARY"):  # the text message and the attachments' binary messages
            assert any(length > m - 1 for m in carriers), (rid, length, carriers)
            binary += 1
        else:
            assert length + 1 in carriers, (rid, kind, length, carriers)
            matched += 1
    assert matched >= 10 and binary >= 1, (matched, binary)
    assert console_errors(driver) == []
