"""The h2c captures (no key needed) through every page and API of the web UI, analyzed for real:
HTTP/2 exchanges and their connection reach the UI's index like HTTP/1.1 ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.h2.common import H2_DIR
from tests.webui.conftest import CSRF, capture_id
from tests.webui.test_real_captures import APIS, PAGES
from webui import create_app

H2C = ["h2c-python-prior-knowledge.pcap", "h2c-python-upgrade.pcap"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    app = create_app(
        folders=[str(H2_DIR)],
        upload_dir=str(tmp_path_factory.mktemp("uploads")),
        config={"TESTING": True, "ANALYSIS_WAIT": 120, "CSRF_TOKEN": CSRF},
    )
    return app.test_client()


@pytest.mark.parametrize("name", H2C)
def test_every_page_and_api(client: FlaskClient, name: str) -> None:
    cid = capture_id(client, name)
    for page in PAGES:
        if page.startswith("messages/"):
            continue  # no WebSocket message in these captures
        r = client.get(f"/c/{cid}/{page}")
        assert r.status_code == 200, (page, r.get_data(as_text=True)[-800:])
    for api in APIS:
        if api.startswith("messages/"):
            continue
        r = client.get(f"/api/captures/{cid}/{api}")
        assert r.status_code == 200, (api, r.get_data(as_text=True)[:800])
    doc = client.get(f"/api/captures/{cid}/analysis").get_json()
    conns = doc.get("connections") or doc.get("items") or []
    text = str(doc)
    assert "HTTP/2" in text and "stream_id" in text, str(conns)[:400]


def test_files_exist() -> None:
    for n in H2C:
        assert Path(H2_DIR / n).is_file()
