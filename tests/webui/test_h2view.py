"""The HTTP/2 additions of the JSON API (webui/h2view.py) on the h2c captures, analyzed for real:
stream labels and RST_STREAM / GOAWAY marks in the sequence items, only on the page whose time
span holds them; HTTP/1.1 captures keep their items as they were."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.h2.common import H2_DIR
from tests.webui.conftest import CSRF, capture_id
from webui import create_app
from webui.h2view import size_text

ROOT = H2_DIR.parents[1]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    app = create_app(
        captures=[
            str(H2_DIR / "h2c-python-prior-knowledge.pcap"),
            str(ROOT / "captures" / "sio-python-polling-upgrade.pcap"),
        ],
        folders=[],
        upload_dir=str(tmp_path_factory.mktemp("uploads")),
        config={"TESTING": True, "ANALYSIS_WAIT": 120, "CSRF_TOKEN": CSRF},
    )
    return app.test_client()


def _sequence(client: FlaskClient, cid: str, query: str) -> dict[str, Any]:
    data: dict[str, Any] = client.get(f"/api/captures/{cid}/sequence?{query}").get_json()
    return data


def test_labels_and_marks(client: FlaskClient) -> None:
    cid = capture_id(client, "h2c-python-prior-knowledge.pcap")
    record = json.loads((H2_DIR / "h2c-python-prior-knowledge.expected.json").read_text("utf-8"))
    whole = _sequence(client, cid, "connection=0&layers=http")
    labels = [i.get("label") for i in whole["items"]]
    for r in record["server"]["requests"]:
        if "method" in r:
            assert f"stream {r['stream_id']} {r['method']} {r['path']}" in labels
    marks = [i for i in whole["items"] if i.get("mark")]
    assert [m["mark"] for m in marks] == ["RST_STREAM", "GOAWAY"]
    assert all(m["id"] is None and m["frame"] for m in marks)
    ts = [i["t"] for i in whole["items"]]
    assert ts == sorted(ts)
    # the first page (3 records) ends before the reset: no mark on it; the last page has them
    first = _sequence(client, cid, "connection=0&layers=http&limit=3")
    assert len(first["items"]) == 3 and not any(i.get("mark") for i in first["items"])
    rest = _sequence(client, cid, "connection=0&layers=http&offset=3&limit=1000")
    assert [i["mark"] for i in rest["items"] if i.get("mark")] == ["RST_STREAM", "GOAWAY"]
    assert whole["total"] == first["total"]  # marks are not records: the pager counts records


def test_http1_items_unchanged(client: FlaskClient) -> None:
    cid = capture_id(client, "sio-python-polling-upgrade.pcap")
    items = _sequence(client, cid, "connection=0")["items"]
    assert items and not any("label" in i or "mark" in i for i in items)
    osi = client.get(f"/api/captures/{cid}/overview").get_json()["osi"]
    assert "HTTP" in [x["layer"] for x in osi]


def test_size_text() -> None:
    assert [size_text(n) for n in (None, 17, 999, 1000, 2402, 40_000, 2_500_000)] == [
        "?",
        "17 B",
        "999 B",
        "1.0 kB",
        "2.4 kB",
        "40.0 kB",
        "2.5 MB",
    ]
