"""Uploads through the captures page: CSRF, content magic, size limit."""

from __future__ import annotations

import io
from pathlib import Path

from flask.testing import FlaskClient

from tests.webui.conftest import CSRF, SYNTH_PCAP, synthetic_index
from webui import create_app


def test_upload_form_flow(synth: tuple[FlaskClient, str]) -> None:
    c, _ = synth
    data = SYNTH_PCAP.read_bytes()
    r = c.post("/upload", data={"file": (io.BytesIO(data), "x.pcap")})
    assert r.status_code == 403
    r = c.post("/upload", data={"csrf_token": "wrong", "file": (io.BytesIO(data), "x.pcap")})
    assert r.status_code == 403
    r = c.post("/upload", data={"csrf_token": CSRF, "file": (io.BytesIO(b"%PDF-1.4"), "x.pcap")})
    assert r.status_code == 400 and "not a pcap" in r.get_data(as_text=True)
    r = c.post("/upload", data={"csrf_token": CSRF, "file": (io.BytesIO(data), "<i>mine<i>.pcap")})
    assert r.status_code == 303
    target = r.headers["Location"]
    assert target.startswith("/c/") and target.endswith("/")
    assert c.get(target).status_code == 200
    listing = c.get("/").get_data(as_text=True)
    assert "_i_mine_i_.pcap" in listing and "<i>mine" not in listing


def test_upload_size_limit(tmp_path: Path) -> None:
    app = create_app(
        folders=[],
        upload_dir=str(tmp_path),
        config={
            "TESTING": True,
            "MAX_CONTENT_LENGTH": 4096,
            "CSRF_TOKEN": CSRF,
            "ANALYZE": lambda p, j: synthetic_index(),
        },
    )
    with app.test_client() as c:
        big = SYNTH_PCAP.read_bytes()[:4] + b"\0" * 10_000
        r = c.post("/upload", data={"csrf_token": CSRF, "file": (io.BytesIO(big), "big.pcap")})
        assert r.status_code == 413 and "larger than the limit" in r.get_data(as_text=True)
        r = c.post(
            "/api/captures", data={"file": (io.BytesIO(big), "big.pcap")}, headers={"X-CSRF-Token": CSRF}
        )
        assert r.status_code == 413 and r.is_json
    assert list(tmp_path.iterdir()) == []
