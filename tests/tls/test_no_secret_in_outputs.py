"""No secret of a key log, and no key derived from one, appears in any output of a decrypted
capture: the text summary (with --messages, --events, --anomalies), the JSON document, every
export (HAR, JSON Lines at each layer, CSV tables, the pcapng slice), crosscheck (text and
JSON, tshark given the keys), the web UI's JSON API and pages after the key log is uploaded
beside the capture, and stderr, as hex in lower and upper case and as raw bytes. The search
itself is checked: a secret planted in one output is found."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.protocols.tls.schedule import traffic_key_iv
from tests.tls.common import analysis, capture, expected, keylog_path, names, secrets


def _needles(name: str) -> list[bytes]:
    """The key log's secrets, and the keys and IVs derived from them with the project's key
    schedule (TLS 1.3: RFC 8446 §7.3; TLS 1.2: RFC 5246 §6.3 key block from the master secret)."""
    found: list[bytes] = []
    randoms = _randoms(name)
    for secret in secrets(name):
        found.append(secret)
        if len(secret) in (32, 48):  # TLS 1.3 traffic secrets: the keys and IVs made from them
            hash_name = "sha256" if len(secret) == 32 else "sha384"
            for key_len in (16, 32):
                found += traffic_key_iv(secret, key_len, hash_name)
        if len(secret) == 48 and randoms:  # a TLS 1.2 master secret: its key block
            found += _key_block_parts(name, secret)
    return [n for n in found if len(n) >= 8]


def _randoms(name: str) -> tuple[bytes, bytes] | None:
    """(client_random, server_random) of the capture's connection (public: in the hellos)."""
    conn = analysis(name).connections[0]  # behind a proxy, both legs carry the same TLS
    tls = conn.tls
    if tls is None or tls.client_random is None:
        return None
    server = _server_random(name)
    return (bytes.fromhex(tls.client_random), server) if server else None


def _server_random(name: str) -> bytes | None:
    """The ServerHello's random, read from the capture's first server record (RFC 5246 §7.4.1.3)."""
    from analyzer.pipeline.access import read_packets

    conn = analysis(name).connections[0]
    port = int(conn.server["port"])
    first = int(conn.tcp["first_frame"])
    for pkt in read_packets(str(capture(name)), range(first, first + 40)):
        raw = bytes.fromhex(pkt["hex"])[pkt["payload_offset"] :]
        tcp = next(x for x in pkt["layers"] if x["name"] == "TCP")["fields"]
        if tcp["src_port"] == port and len(raw) > 43 and raw[0] == 22 and raw[5] == 2:
            return raw[11:43]
    return None


def _key_block_parts(name: str, master: bytes) -> list[bytes]:
    """The MAC keys, write keys and IVs of the TLS 1.2 key block (RFC 5246 §6.3) made by the
    project's key schedule, for the sizes of every suite it decrypts (GCM, ChaCha20, CBC)."""
    from analyzer.protocols.tls.schedule import key_block

    randoms = _randoms(name)
    assert randoms is not None
    client_random, server_random = randoms
    sizes = [(0, 16, 4), (0, 32, 4), (0, 32, 12), (20, 16, 16), (20, 32, 16), (32, 16, 16), (32, 32, 16)]
    sizes.append((48, 32, 16))
    parts: list[bytes] = []
    for hash_name in ("sha256", "sha384"):
        for mac_len, key_len, iv_len in sizes:
            client, server = key_block(
                master, server_random, client_random, 0x0303, hash_name, mac_len, key_len, iv_len
            )
            parts += [*client, *server]
    return parts


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
    if shutil.which("tshark"):  # tshark gets the key log too (-o tls.keylog_file:)
        runs["crosscheck.txt"] = ["crosscheck", cap, "-q", *keys]
        runs["crosscheck.json"] = ["crosscheck", cap, "-q", "--format", "json", *keys]
    out: dict[str, bytes] = {}
    for fname, argv in runs.items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main([*argv, "-o", str(tmp / fname)]) == 0, (fname, err.getvalue())
        out[f"{fname}:stderr"] = err.getvalue().encode()
    for path in tmp.rglob("*"):
        if path.is_file():
            out[str(path.relative_to(tmp))] = path.read_bytes()
    out.update(_ui_outputs(name, tmp / "uploads"))
    return out


def _ui_outputs(name: str, upload_dir: Path) -> dict[str, bytes]:
    """The web UI after the key log is uploaded beside the capture (the upload's own answer
    too): every JSON API of the capture, its TLS JSON, every page, and the detail of every row."""
    from webui import create_app

    app = create_app(
        captures=[str(capture(name))],
        folders=[],
        upload_dir=str(upload_dir),
        config={"TESTING": True, "ANALYSIS_WAIT": 300, "CSRF_TOKEN": "t"},
    )
    out: dict[str, bytes] = {}
    with app.test_client() as c:
        cid = c.get("/api/captures").get_json()["items"][0]["id"]
        r = c.post(
            f"/api/captures/{cid}/keylog",
            data={"keylog": (io.BytesIO(keylog_path(name).read_bytes()), "keys.log")},
            headers={"X-CSRF-Token": "t"},
        )
        assert r.status_code == 201, r.get_data(as_text=True)
        out["ui:upload-answer"] = r.get_data()
        api = f"/api/captures/{cid}"
        urls = [f"{api}/{p}" for p in ("overview", "analysis", "connections", "sessions", "anomalies", "tls")]
        urls += [f"{api}/latency", f"{api}/figures/osi", f"{api}/figures/timeline"]
        urls.append(f"{api}/messages?limit=1000")
        pages = ("", "timeline", "sequence", "messages", "packets", "latency", "anomalies")
        urls += [f"/c/{cid}/{p}" for p in pages] + ["/"]
        rows = c.get(f"{api}/messages?limit=1000").get_json()["items"]
        urls += [f"{api}/messages/{row['id']}" for row in rows]
        urls += [f"/c/{cid}/messages/{row['id']}" for row in rows if row["layer"] != "tcp"]
        for url in urls:
            r = c.get(url)
            assert r.status_code == 200, url
            out[f"ui:{url}"] = r.get_data()
    assert b" 0 not decrypted" in out[f"ui:/c/{cid}/"]
    return out


def _leaks(outputs: dict[str, bytes], needles: list[bytes]) -> list[tuple[str, str]]:
    """(output, form) for each secret found: hex in lower and upper case, and raw bytes."""
    found = []
    for secret in needles:
        for form in (secret.hex().encode(), secret.hex().upper().encode(), secret):
            found += [(f, form[:8].hex()) for f, data in outputs.items() if form in data]
    return found


@pytest.mark.parametrize("name", names(proxied=True))
def test_no_secret_in_any_output(name: str, tmp_path: Path) -> None:
    outputs = _outputs(name, tmp_path)
    assert b"hello over" in outputs["messages.txt"] or b"chat" in outputs["events.txt"]  # it was decrypted
    assert len(outputs) >= 40
    needles = _needles(name)
    assert len(needles) >= 4
    assert _leaks(outputs, needles) == [], f"a secret of {expected(name)['keylog']} is out"

    # the search finds a secret where one is: a key the schedule derived, planted in three ways
    derived = needles[-1]
    planted = dict(outputs)
    planted["analyze.json"] += b'{"x": "' + derived.hex().encode() + b'"}'
    planted["ui:planted-upper"] = derived.hex().upper().encode()
    planted["export.pcapng"] = outputs["export.pcapng"][:100] + derived + outputs["export.pcapng"][100:]
    leaks = {f for f, _ in _leaks(planted, [derived])}
    assert leaks == {"analyze.json", "ui:planted-upper", "export.pcapng"}
