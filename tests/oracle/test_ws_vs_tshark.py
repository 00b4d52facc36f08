"""Differential test: every WebSocket frame of the 25 shared captures against tshark 4.0's oracle.

Where socketscope and tshark legitimately differ, the case is listed in KNOWN_DIFFERENCES
with the reason; everything else must agree field by field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analyzer import Options, analyze_file
from tests.conftest import CORPUS, corpus_captures, corpus_id
from tests.oracle.tshark_ws import read_midstream, read_oracle

CAPTURES = corpus_captures()

# capture -> why socketscope's view differs from tshark's (checked by hand against the RFC)
KNOWN_DIFFERENCES: dict[str, str] = {}


def our_frames(analysis: Any) -> list[tuple[int, Any, Any]]:
    rows = []
    for conn in analysis.connections:
        if conn.websocket is None:
            continue
        for f in conn.websocket.frames:
            rows.append((f.frame, conn, f))
    rows.sort(key=lambda r: (r[0], r[2].offset))
    return rows


@pytest.mark.parametrize("capture", CAPTURES, ids=corpus_id)
def test_frames_agree_with_tshark(capture: Path) -> None:
    oracle = read_oracle(capture)
    analysis = analyze_file(str(capture))
    ours = our_frames(analysis)
    assert [o.frame for o in oracle] == [r[0] for r in ours], "packet numbers of the frames"
    for o, (_, conn, f) in zip(oracle, ours, strict=True):
        where = f"frame {o.frame}#{o.index}"
        client = (conn.client["ip"], conn.client["port"])
        assert (f.direction.value == "c2s") == (o.src == client), where + ": direction"
        assert f.fin == o.fin, where + ": FIN"
        assert (f.rsv1 << 2 | f.rsv2 << 1 | f.rsv3) == o.rsv, where + ": RSV"
        assert f.opcode == o.opcode, where + ": opcode"
        assert f.masked == o.masked, where + ": MASK"
        assert (f.mask_key.hex() if f.mask_key else None) == o.mask_key, where + ": masking key"
        assert f.payload_length == o.payload_length, where + ": payload length"
        assert f.length_form == o.length_form, where + ": length form"
        assert f.close_code == o.close_code, where + ": close code"
        assert (f.close_reason or None) == o.close_reason, where + ": close reason"
        if o.payload_hex_prefix and not f.rsv1:
            # unmasked payload as on the wire (tshark shows the first 256 bytes)
            assert f.payload[:256].hex() == o.payload_hex_prefix, where + ": payload"
        elif not o.payload_hex_prefix:
            # tshark prints no payload bytes for Close frames (only code and reason, compared above) and
            # for fragments inside a packet that also completes the message (it shows the reassembly)
            assert o.opcode == 8 or o.payload_length == 0 or o.opcode in (0, 1, 2), where


@pytest.mark.parametrize("capture", CAPTURES, ids=corpus_id)
def test_messages_agree_with_tshark(capture: Path) -> None:
    """Every data message: reassembled (and inflated) bytes equal tshark's."""
    oracle = read_oracle(capture)
    analysis = analyze_file(str(capture))
    msgs = sorted(
        (m for c in analysis.connections if c.websocket for m in c.websocket.messages), key=lambda m: m.frame
    )
    final = [o for o in oracle if o.fin and o.opcode in (0, 1, 2)]
    assert [m.frame for m in msgs] == [o.frame for o in final], "message packet numbers"
    for m, o in zip(msgs, final, strict=True):
        want = o.reassembled_hex_prefix or o.payload_hex_prefix
        assert m.data[:256].hex() == want, f"message at frame {o.frame}"
        assert not o.decompression_failed


MIDSTREAM = sorted(CORPUS.rglob("*.midstream-stream*.tsv"))


@pytest.mark.parametrize("tsv", MIDSTREAM, ids=lambda p: p.name)
def test_midstream_decode_as(tsv: Path) -> None:
    capture = tsv.with_name(tsv.name.split(".tshark.")[0])
    port, oracle = read_midstream(tsv)
    analysis = analyze_file(str(capture), Options(decode_as={port: "websocket"}))
    frames = sorted(
        (
            f
            for c in analysis.connections
            if c.websocket and c.websocket.handshake is None
            for f in c.websocket.frames
        ),
        key=lambda f: f.frame,
    )
    assert [f.frame for f in frames] == [o.frame for o in oracle]
    for f, o in zip(frames, oracle, strict=True):
        assert (f.opcode, f.fin, f.masked, f.payload_length, f.close_code) == (
            o.opcode,
            o.fin,
            o.masked,
            o.payload_length,
            o.close_code,
        )
        assert (f.mask_key.hex() if f.mask_key else None) == o.mask_key
