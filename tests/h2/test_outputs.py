"""Every output of the HTTP/2 captures: no key-log secret in any of them (as in
tests/tls/test_no_secret_in_outputs.py), HAR entries in HTTP/2 with https:// and wss:// URLs,
CSV rows with the host from :authority, crosscheck agreeing on an h2c capture, the text summary's
HTTP/2 section, and the document valid against the schema."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path

import pytest

from analyzer.cli import main
from tests.h2.common import analysis, capture, keylog_path, names

TLS = [n for n in names() if keylog_path(n) is not None]


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("name", TLS)
def test_no_secret_in_any_output(name: str, tmp_path: Path) -> None:
    keys = keylog_path(name)
    assert keys is not None
    cap, opt = str(capture(name)), ["--keylog", str(keys)]
    runs = {
        "a.txt": ["analyze", cap, "-q", "--messages", "--events", "--anomalies", *opt],
        "a.json": ["analyze", cap, "-q", "--format", "json", *opt],
        "e.har": ["export", cap, "-q", "--format", "har", *opt],
        "e.jsonl": ["export", cap, "-q", "--format", "jsonl", *opt],
        "csv": ["export", cap, "-q", "--format", "csv", *opt],
    }
    logs = []
    for fname, argv in runs.items():
        code, text = _run([*argv, "-o", str(tmp_path / fname)])
        assert code == 0, text
        logs.append(text.encode())
    blobs = logs + [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert b"HTTP/2" in (tmp_path / "a.txt").read_bytes()
    text = keys.read_text(encoding="utf-8")
    secrets = [bytes.fromhex(m) for m in re.findall(r"^\S+ [0-9a-fA-F]{64} ([0-9a-fA-F]+)$", text, re.M)]
    assert secrets
    for secret in secrets:
        for form in (secret.hex().encode(), secret.hex().upper().encode(), secret):
            assert not any(form in b for b in blobs)


def test_har_and_csv(tmp_path: Path) -> None:
    name = "ws-chromium-h2-rfc8441"
    keys = keylog_path(name)
    assert keys is not None
    code, text = _run(
        [
            "export",
            str(capture(name)),
            "-q",
            "--format",
            "har",
            "--keylog",
            str(keys),
            "-o",
            str(tmp_path / "h.har"),
        ]
    )
    assert code == 0, text
    entries = json.loads((tmp_path / "h.har").read_text())["log"]["entries"]
    h2 = [e for e in entries if e["request"]["httpVersion"] == "HTTP/2"]
    assert {e["request"]["url"].split("://")[0] for e in h2} == {"https", "wss"}
    (ws,) = [e for e in entries if e["_resourceType"] == "websocket"]
    assert (
        ws["request"]["method"] == "CONNECT" and ws["request"]["url"] == "wss://localhost:8475/echo?room=h2"
    )
    assert [m["type"] for m in ws["_webSocketMessages"]] == ["send", "receive"] * 3
    code, text = _run(
        [
            "export",
            str(capture(name)),
            "-q",
            "--format",
            "csv",
            "--keylog",
            str(keys),
            "-o",
            str(tmp_path / "t"),
        ]
    )
    assert code == 0, text
    with (tmp_path / "t" / "http.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["request_version"] == "HTTP/2"]
    assert rows and {r["host"] for r in rows} == {"localhost:8475"}


def test_crosscheck_agrees_on_h2c() -> None:
    code, text = _run(["crosscheck", str(capture("h2c-python-prior-knowledge"))])
    assert "Result: AGREE" in text and "HTTP/2: 4 streams not compared here" in text, text
    assert code == 0


def test_summary_section() -> None:
    code, text = _run(["analyze", str(capture("h2c-python-prior-knowledge"))])
    assert code == 0
    section = text[text.index("HTTP/2 connections") : text.index("Anomalies")]
    assert "#0 HTTP/2 (h2c), 4 streams" in section and "RST_STREAM CANCEL x1" in section
    assert "GOAWAY c2s" in section and "POST /echo?n=1 -> 200 (2402 B)" in section


@pytest.mark.parametrize("name", names())
def test_document_matches_the_schema(name: str) -> None:
    import jsonschema

    from tests.model.test_schema import SCHEMA

    doc = json.loads(json.dumps(analysis(name).to_dict()))
    jsonschema.validate(doc, SCHEMA)
    assert any("http2" in c for c in doc["connections"])
