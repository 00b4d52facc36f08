"""Real TLS traffic (captures/tls/): everything the applications logged comes out of socketscope
once the key log is given, the `tls` object says what the handshake said, and without keys the
connection says it is TLS and how to get keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from analyzer import analyze_file
from analyzer.cli import main
from analyzer.pipeline import Options
from tests.sio_record import canon, recorded_acks, recorded_events
from tests.tls.common import analysis, capture, expected, keylog_path, keys, names

WS = [n for n in names() if expected(n).get("websocket")]
SIO = [n for n in names() if expected(n).get("socketio")]


def test_the_captures_are_there() -> None:
    assert len(WS) >= 3 and len(SIO) >= 2
    assert any(capture(n).suffix == ".pcapng" for n in SIO)  # the one with a Decryption Secrets Block
    for n in names():
        assert capture(n).stat().st_size < 1 << 20


def _msg(m: dict[str, Any]) -> tuple[str, int, str]:
    import hashlib

    raw = m["text"].encode() if m.get("text") is not None else bytes.fromhex(m["data_hex"])
    return m["opcode"], m["length"], hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("name", WS)
def test_websocket_messages_equal_the_applications_record(name: str) -> None:
    a = analysis(name)
    (conn,) = a.connections
    assert conn.app_protocol == "websocket" and conn.tls is not None and conn.tls.decrypted
    doc = conn.to_dict()
    want = expected(name)["websocket"]
    for d in ("c2s", "s2c"):
        got = [_msg(m) for m in doc["websocket"]["messages"] if m["direction"] == d]
        exp = [(m["opcode"], m["length"], m["sha256"]) for m in want["messages"] if m["direction"] == d]
        assert got == exp, d
    assert doc["websocket"]["close"]["c2s"]["code"] == want["close"]["c2s"]["code"]
    assert doc["websocket"]["close"]["c2s"]["reason"] == want["close"]["c2s"]["reason"]
    assert doc["websocket"]["url"].startswith("wss://localhost:")
    assert [x for x in a.anomalies if x.severity.value in ("error", "warn")] == []


@pytest.mark.parametrize("name", SIO)
def test_socketio_events_and_acks_equal_the_applications_record(name: str) -> None:
    want = expected(name)["socketio"]
    (s,) = [s.to_dict() for s in analysis(name).engineio_sessions if s.sid == want["sid"]]
    assert s["transport_path"] == want["transport_path"]
    pk = s["socketio"]["packets"]
    events = recorded_events(pk)
    assert canon(events) == canon(want["events"])
    acks = recorded_acks(pk)
    assert canon(acks) == canon(want["acks"])


@pytest.mark.parametrize("name", names())
def test_tls_object(name: str) -> None:
    want = expected(name)["tls"]
    (conn,) = analysis(name).connections
    t = conn.to_dict()["tls"]
    assert t["version"] == want["version"] and t["decrypted"] is True
    assert t["sni"] == "localhost" and t["alpn"] == "http/1.1" and t["alpn_offered"] == ["http/1.1"]
    assert t["encrypt_then_mac"] == (want["encrypt_then_mac"] and "CBC" in t["cipher_suite"])
    assert t["certificates"][0]["subject"] == "CN=localhost"
    assert t["certificates"][0]["san"] == ["localhost", "127.0.0.1"]
    assert t["records"]["c2s"] > 3 and t["records"]["s2c"] > 3
    assert t["decrypt_failed"] == {"c2s": 0, "s2c": 0} and t["not_decrypted"] is None
    assert len(t["client_random"]) == 64 and t["resumed"] is False


def test_suites_decrypted() -> None:
    suites = {analysis(n).connections[0].tls.cipher_suite for n in names()}  # type: ignore[union-attr]
    assert {
        "TLS_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    } <= suites


def test_decryption_secrets_block_needs_no_option() -> None:
    (name,) = [n for n in SIO if capture(n).suffix == ".pcapng"]
    a = analyze_file(str(capture(name)))
    assert a.connections[0].app_protocol == "websocket" and a.engineio_sessions


@pytest.mark.parametrize("name", [n for n in names() if capture(n).suffix == ".pcap"])
def test_without_keys_it_says_tls_and_how_to_get_keys(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    a = analysis(name, with_keys=False)
    (conn,) = a.connections
    assert conn.app_protocol == "tls" and conn.websocket is None and conn.http == []
    assert [x.code for x in a.anomalies if x.code.startswith("tls.")] == ["tls.no-key"]
    assert main(["analyze", str(capture(name)), "-q"]) == 0  # the text summary, without keys
    text = capsys.readouterr().out
    (line,) = [x for x in text.splitlines() if x.startswith("  #0 TLS")]
    assert "SNI localhost" in line and "ALPN" in line and "SSLKEYLOGFILE" in line and "--keylog" in line
    assert "node --tls-keylog" in line and "keylog_filename" in line
    assert " unknown " not in text


def test_cli_keylog_option(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = WS[0]
    assert main(["analyze", str(capture(name)), "-q", "--messages", "--keylog", str(keylog_path(name))]) == 0
    out = capsys.readouterr().out
    assert "hello over TLS" in out and "decrypted (websocket)" in out
    har = tmp_path / "x.har"
    assert (
        main(
            [
                "export",
                str(capture(name)),
                "--format",
                "har",
                "-o",
                str(har),
                "--keylog",
                str(keylog_path(name)),
            ]
        )
        == 0
    )
    assert "wss://localhost:" in har.read_text()
    assert main(["analyze", str(capture(name)), "--keylog", str(tmp_path / "missing.keys")]) == 2
    err = capsys.readouterr().err
    assert "cannot read the key log" in err and "missing.keys" in err


def test_keys_and_repr_stay_out_of_options() -> None:
    name = WS[0]
    text = repr(Options(keylog=keys(name)))
    for line in keylog_path(name).read_text().splitlines()[1:]:
        assert line.split(" ")[2].lower() not in text.lower()


@pytest.mark.parametrize("with_keys", [True, False], ids=["keys", "no-keys"])
@pytest.mark.parametrize("name", names())
def test_document_matches_the_schema(name: str, with_keys: bool) -> None:
    import jsonschema

    from tests.model.test_schema import SCHEMA

    doc = json.loads(json.dumps(analysis(name, with_keys).to_dict()))
    jsonschema.validate(doc, SCHEMA)
    assert all(c["tls"]["client_random"] for c in doc["connections"])
