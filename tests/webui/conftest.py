"""Fixtures of the web UI tests: apps over the bundled captures and over the synthetic document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.webui.synthetic import synthetic_doc, synthetic_frame_ts
from webui import create_app
from webui.index import Index

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
SYNTH_PCAP = CAPTURES / "sio-python-websocket-only.pcap"
CSRF = "test-csrf-token"


def synthetic_index() -> Index:
    return Index(synthetic_doc(), synthetic_frame_ts())


@pytest.fixture
def synth_app(tmp_path: Path) -> Flask:
    return create_app(
        captures=[str(SYNTH_PCAP)],
        folders=[],
        upload_dir=str(tmp_path / "uploads"),
        config={
            "TESTING": True,
            "ANALYSIS_WAIT": 60,
            "CSRF_TOKEN": CSRF,
            "ANALYZE": lambda path, job: synthetic_index(),
        },
    )


@pytest.fixture
def synth(synth_app: Flask) -> Iterator[tuple[FlaskClient, str]]:
    with synth_app.test_client() as c:
        cid = c.get("/api/captures").get_json()["items"][0]["id"]
        yield c, cid


@pytest.fixture(scope="module")
def real_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return create_app(
        folders=[str(CAPTURES)],
        upload_dir=str(tmp_path_factory.mktemp("uploads")),
        config={"TESTING": True, "ANALYSIS_WAIT": 120, "CSRF_TOKEN": CSRF},
    )


@pytest.fixture
def real(real_app: Flask) -> Iterator[FlaskClient]:
    with real_app.test_client() as c:
        yield c


def capture_id(client: FlaskClient, name: str) -> str:
    for item in client.get("/api/captures").get_json()["items"]:
        if item["name"] == name:
            return str(item["id"])
    raise KeyError(name)


def rows(client: FlaskClient, cid: str, **params: Any) -> list[dict[str, Any]]:
    q = {"limit": "1000", **{k: str(v) for k, v in params.items()}}
    r = client.get(f"/api/captures/{cid}/messages", query_string=q)
    assert r.status_code == 200, r.get_data(as_text=True)
    return list(r.get_json()["items"])
