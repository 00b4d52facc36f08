"""A TLS key log uploaded beside a capture (webui/tlsroutes.py): CSRF-checked, bounded, never
echoed, kept in memory for that capture only, and the capture analysed again with it; the TLS
JSON and the records of the drill-down (webui/tlsview.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from tests.tls.common import capture, keylog_path, secrets
from webui import create_app
from webui.store import MAX_KEYLOG_UPLOAD
from webui.tlsview import record_headers

NAME = "ws-websockets-tls12-cbc"
OTHER = "ws-websockets-tls13"


def _app(tmp_path: Path) -> Any:
    return create_app(
        captures=[str(capture(NAME)), str(capture(OTHER))],
        folders=[],
        upload_dir=str(tmp_path),
        config={"TESTING": True, "ANALYSIS_WAIT": 120, "CSRF_TOKEN": "tok"},
    )


def _ids(c: Any) -> dict[str, str]:
    return {i["name"]: i["id"] for i in c.get("/api/captures").get_json()["items"]}


def _post(c: Any, url: str, data: bytes, token: str | None = "tok", **headers: str) -> Any:
    h = {"X-CSRF-Token": token} if token else {}
    return c.post(url, data={"keylog": (io.BytesIO(data), "keys.log")}, headers={**h, **headers})


def test_upload_is_checked_bounded_and_never_echoed(tmp_path: Path, monkeypatch: Any) -> None:
    import webui.tlsroutes

    # the bound, made small: the test client spools bodies over 500 KB to a file it leaves open
    monkeypatch.setattr(webui.tlsroutes, "MAX_KEYLOG_UPLOAD", 2000)
    app = _app(tmp_path / "up")
    keys = keylog_path(NAME).read_bytes()
    with app.test_client() as c:
        ids = _ids(c)
        cid, other = ids[capture(NAME).name], ids[capture(OTHER).name]
        url = f"/api/captures/{cid}/keylog"
        assert c.get(f"/api/captures/{cid}/tls").get_json()["decrypted"] == 0
        assert _post(c, url, keys, token=None).status_code == 403
        assert _post(c, url, keys, token="wrong").status_code == 403
        assert (
            _post(c, url, keys, Origin="http://evil.example", **{"Sec-Fetch-Site": "cross-site"}).status_code
            == 403
        )
        r = _post(c, url, b"x" * 2001)
        assert r.status_code == 400 and b"larger than" in r.data
        r = _post(c, url, b"not a key log\n")
        assert r.status_code == 400 and b"no TLS secret" in r.data
        assert _post(c, "/api/captures/0123456789abcdef/keylog", keys).status_code == 404
        r = _post(c, url, b"garbage line\n" + keys[:1900])
        assert r.status_code == 201
        body = r.get_data()
        assert r.get_json()["secrets"] >= 1
        for s in secrets(NAME):
            assert s.hex().encode() not in body.lower()
        assert c.get(f"/api/captures/{cid}/tls").get_json()["decrypted"] == 1  # analysed again
        assert c.get(f"/api/captures/{other}/tls").get_json()["decrypted"] == 0  # that capture only
        anomalies = c.get(f"/api/captures/{cid}/anomalies?limit=100").get_json()["items"]
        bad = [a for a in anomalies if a["code"] == "tls.keylog-bad-line"]
        assert len(bad) == 1 and "line 1" in bad[0]["message"] and "garbage" not in bad[0]["message"]
    # nothing of the key log is on disk: only the captures' uploads folder exists, and it is empty
    assert not any((tmp_path / "up").iterdir())


def test_the_store_bounds_a_key_log(tmp_path: Path) -> None:
    import pytest

    from webui.store import CaptureStore, UploadError

    store = CaptureStore(files=[str(capture(NAME))], upload_dir=str(tmp_path))
    (entry,) = store.entries()
    with pytest.raises(UploadError, match="larger than"):
        store.add_keylog(entry, b"#" * (MAX_KEYLOG_UPLOAD + 1))


def test_upload_form_on_the_page(tmp_path: Path) -> None:
    app = _app(tmp_path / "up")
    with app.test_client() as c:
        cid = _ids(c)[capture(NAME).name]
        page = c.get(f"/c/{cid}/").get_data(as_text=True)
        assert 'id="keylog-form"' in page and "stay on this machine" in page and 'name="csrf_token"' in page
        r = c.post(
            f"/c/{cid}/keylog",
            data={"csrf_token": "tok", "keylog": (io.BytesIO(keylog_path(NAME).read_bytes()), "k.log")},
        )
        assert r.status_code == 303 and r.headers["Cache-Control"] == "no-store"
        page = c.get(r.headers["Location"]).get_data(as_text=True)
        assert 'id="keys-added"' in page and "1 decrypted" in page
        r = c.post(f"/c/{cid}/keylog", data={"keylog": (io.BytesIO(b"x"), "k.log")})
        assert r.status_code == 403


def test_capture_and_key_log_uploaded_together(tmp_path: Path) -> None:
    app = _app(tmp_path / "up")
    with app.test_client() as c:
        r = c.post(
            "/upload",
            data={
                "csrf_token": "tok",
                "file": (io.BytesIO(capture(OTHER).read_bytes()), "mine.pcap"),
                "keylog": (io.BytesIO(keylog_path(OTHER).read_bytes()), "keys.log"),
            },
        )
        assert r.status_code == 303
        cid = r.headers["Location"].split("/c/")[1].split("/")[0]
        assert c.get(f"/api/captures/{cid}/tls").get_json()["decrypted"] == 1
    names = sorted(p.suffix for p in (tmp_path / "up").iterdir())
    assert names == [".cap", ".name"]  # the capture and its name; no key log


def test_record_headers_from_packets_never_raise_and_find_records() -> None:
    from analyzer.pipeline.access import read_packets

    pkts = read_packets(str(capture(NAME)), range(1, 42))
    recs = record_headers(pkts, 48444)
    kinds = {r["type"] for r in recs}
    assert {"handshake", "change_cipher_spec", "application_data"} <= kinds
    assert sum(1 for r in recs if r["direction"] == "c2s") >= 10
    # hostile bytes: cut, shuffled, wrong lengths
    broken = [dict(p, hex=p["hex"][: len(p["hex"]) // 2]) for p in pkts] + [dict(pkts[5], hex="zz")]
    assert isinstance(record_headers(broken, 48444), list)
