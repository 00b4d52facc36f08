"""tshark (4.0, `-o tls.keylog_file:KEYS`) is the second oracle on the TLS captures: the TLS
records of each direction, the decrypted HTTP requests and responses, and the decrypted
WebSocket frames (packet and opcode) agree with socketscope's."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest

from tests.tls.common import analysis, capture, expected, keylog_path, names

pytestmark = pytest.mark.tshark

FIELDS = (
    "frame.number",
    "tcp.srcport",
    "tls.record.content_type",
    "http.request.method",
    "http.response.code",
    "websocket.opcode",
)


def _tshark(tshark: str, name: str) -> list[dict[str, list[str]]]:
    port = expected(name)["port"]
    cmd = [
        tshark,
        "-r",
        str(capture(name)),
        "-o",
        f"tls.keylog_file:{keylog_path(name)}",
        "-d",
        f"tcp.port=={port},tls",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    rows = []
    for line in out.splitlines():
        cells = line.split("\t")
        rows.append({f: [v for v in c.split(",") if v] for f, c in zip(FIELDS, cells, strict=True)})
    return rows


@pytest.mark.parametrize("name", names())
def test_records_frames_and_http_agree_with_tshark(tshark: str, name: str) -> None:
    rows = _tshark(tshark, name)
    (conn,) = analysis(name).connections
    assert conn.tls is not None
    server_port = conn.server["port"]
    records = Counter()
    for r in rows:
        d = "s2c" if int(r["tcp.srcport"][0]) == server_port else "c2s"
        records[d] += len(r["tls.record.content_type"])
    assert dict(records) == conn.tls.records

    requests = [int(r["frame.number"][0]) for r in rows for _ in r["http.request.method"]]
    responses = [int(r["frame.number"][0]) for r in rows for _ in r["http.response.code"]]
    assert requests == [x.request.frame for x in conn.http if x.request is not None]
    assert responses == [x.response.frame for x in conn.http if x.response is not None]

    theirs = [(int(r["frame.number"][0]), int(op)) for r in rows for op in r["websocket.opcode"]]
    assert conn.websocket is not None
    ours = [(f["frame"], f["opcode"]) for f in conn.websocket.to_dict()["frames"]]
    assert ours == theirs
