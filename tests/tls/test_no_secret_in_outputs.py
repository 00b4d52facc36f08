"""No secret of a key log, and no key derived from one, appears in any output of a decrypted
capture: the text summary (with --messages, --events, --anomalies), the JSON document, every
export (HAR, JSON Lines at each layer, CSV tables, the pcapng slice) and stderr, as hex in
lower and upper case and as raw bytes."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.protocols.tls.schedule import traffic_key_iv
from tests.tls.common import capture, expected, keylog_path, names, secrets


def _needles(name: str) -> list[bytes]:
    found: list[bytes] = []
    for secret in secrets(name):
        found.append(secret)
        if len(secret) in (32, 48):  # TLS 1.3 traffic secrets: the keys and IVs made from them
            hash_name = "sha256" if len(secret) == 32 else "sha384"
            for key_len in (16, 32):
                found += traffic_key_iv(secret, key_len, hash_name)
    return found


def _outputs(name: str, tmp: Path) -> dict[str, bytes]:
    cap, keys = str(capture(name)), ["--keylog", str(keylog_path(name))]
    runs: dict[str, list[str]] = {
        "analyze.txt": ["analyze", cap, "-q", *keys],
        "messages.txt": ["analyze", cap, "-q", "--messages", *keys],
        "events.txt": ["analyze", cap, "-q", "--events", *keys],
        "anomalies.txt": ["analyze", cap, "-q", "--anomalies", *keys],
        "analyze.json": ["analyze", cap, "-q", "--format", "json", *keys],
        "export.har": ["export", cap, "-q", "--format", "har", *keys],
        "export.jsonl": ["export", cap, "-q", "--format", "jsonl", *keys],
        "export.pcapng": ["export", cap, "-q", "--format", "pcap", *keys],
        "csv": ["export", cap, "-q", "--format", "csv", *keys],
    }
    for layer in ("websocket", "engineio", "socketio"):
        runs[f"export-{layer}.jsonl"] = ["export", cap, "-q", "--format", "jsonl", "--layer", layer, *keys]
    out: dict[str, bytes] = {}
    for fname, argv in runs.items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main([*argv, "-o", str(tmp / fname)]) == 0, (fname, err.getvalue())
        out[f"{fname}:stderr"] = err.getvalue().encode()
    for path in tmp.rglob("*"):
        if path.is_file():
            out[str(path.relative_to(tmp))] = path.read_bytes()
    return out


@pytest.mark.parametrize("name", names())
def test_no_secret_in_any_output(name: str, tmp_path: Path) -> None:
    outputs = _outputs(name, tmp_path)
    assert b"hello over" in outputs["messages.txt"] or b"chat" in outputs["events.txt"]  # it was decrypted
    assert len(outputs) >= 20
    needles = _needles(name)
    assert len(needles) >= 1
    for secret in needles:
        for form in (secret.hex().encode(), secret.hex().upper().encode(), secret):
            leaks = [f for f, data in outputs.items() if form in data]
            assert leaks == [], f"a secret of {expected(name)['keylog']} is in {leaks}"
