"""tshark's PDML flattened by analyzer/crosscheck/tshark.py: hand-written documents in tshark 4.0's shape,
and the real thing against the corpus oracles (made by another tool, tools/make_oracle.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from analyzer.crosscheck.tshark import Payload, read_pdml, run_tshark
from tests.conftest import corpus_captures, corpus_id
from tests.oracle.tshark_ws import read_oracle

PDML = b"""<?xml version="1.0"?>
<pdml version="0" creator="wireshark/4.0.17">
<packet>
  <proto name="geninfo" pos="0" showname="General information" size="16"></proto>
  <proto name="frame" showname="Frame 1" size="16" pos="0">
    <field name="frame.number" show="1"/>
  </proto>
</packet>
<packet>
  <proto name="geninfo" pos="0" size="100"></proto>
  <proto name="frame" size="100" pos="0">
    <field name="frame.number" show="2"/><field name="frame.time_epoch" show="1.5"/>
  </proto>
  <proto name="ip"><field name="ip.src" show="10.0.0.1"/><field name="ip.dst" show="10.0.0.2"/></proto>
  <proto name="tcp"><field name="tcp.stream" show="0"/><field name="tcp.srcport" show="5000"/>
    <field name="tcp.dstport" show="80"/></proto>
  <proto name="http"><field name="http.request.method" show="GET"/>
    <field name="http.request.uri" show="/ws"/></proto>
</packet>
<packet>
  <proto name="frame"><field name="frame.number" show="3"/><field name="frame.time_epoch" show="1.6"/></proto>
  <proto name="ipv6"><field name="ipv6.src" show="::1"/><field name="ipv6.dst" show="::2"/></proto>
  <proto name="tcp"><field name="tcp.stream" show="0"/><field name="tcp.srcport" show="80"/>
    <field name="tcp.dstport" show="5000"/></proto>
  <proto name="http"><field name="http.response.code" show="101"/></proto>
  <proto name="websocket">
    <field name="websocket.fin" show="1"/><field name="websocket.rsv" show="0x00"/>
    <field name="websocket.opcode" show="1"/><field name="websocket.mask" show="0"/>
    <field name="websocket.payload_length" show="2"/>
    <field name="websocket.payload.text" show="hi" value="6869"/>
  </proto>
  <proto name="websocket">
    <field name="websocket.fin" show="1"/><field name="websocket.rsv" show="0x00"/>
    <field name="websocket.opcode" show="2"/><field name="websocket.mask" show="1"/>
    <field name="websocket.masking_key" show="01:02:03:04" value="01020304"/>
    <field name="websocket.payload_length" show="126"/>
    <field name="websocket.payload_length_ext_16" show="300"/>
  </proto>
  <proto name="data"><field name="data.data" value="00ff"/></proto>
  <proto name="websocket">
    <field name="websocket.fin" show="1"/><field name="websocket.opcode" show="8"/>
    <field name="websocket.mask" show="0"/><field name="websocket.payload_length" show="5"/>
    <field name="websocket.payload.close.status_code" show="1000"/>
    <field name="websocket.payload.close.reason" show="bye" value="627965"/>
  </proto>
</packet>
<packet>
  <proto name="frame"><field name="frame.number" show="4"/><field name="frame.time_epoch" show="1.7"/></proto>
  <proto name="ip"><field name="ip.src" show="10.0.0.1"/><field name="ip.dst" show="10.0.0.2"/></proto>
  <proto name="tcp"><field name="tcp.stream" show="0"/><field name="tcp.srcport" show="5000"/>
    <field name="tcp.dstport" show="80"/></proto>
  <proto name="websocket">
    <field name="websocket.fin" show="1"/><field name="websocket.rsv" show="0x04"/>
    <field name="websocket.opcode" show="0"/><field name="websocket.mask" show="0"/>
    <field name="websocket.payload_length" show="3"/>
    <field name="websocket.payload.text" show="abcdef" value="616263646566"/>
    <field name="websocket.fragments" showname="2 Reassembled websocket Fragments (6 bytes)"/>
  </proto>
  <proto name="websocket">
    <field name="websocket.fin" show="1"/><field name="websocket.rsv" show="0x04"/>
    <field name="websocket.opcode" show="1"/><field name="websocket.payload_length" show="4"/>
    <field name="websocket.payload" show="" value=""/>
  </proto>
  <proto name="fake-field-wrapper">
    <field name="" show="Decompression failed" value="01020304">
      <field name="_ws.expert"><field name="websocket.decompression.failed.expert" show=""/></field>
    </field>
  </proto>
</packet>
</pdml>
"""


def test_hand_written_pdml() -> None:
    v = read_pdml(io.BytesIO(PDML))
    assert v.records_skipped == 1 and v.packets == 3  # the custom block is not a packet
    assert [(h.frame, h.kind, h.method, h.uri, h.status) for h in v.http] == [
        (1, "request", "GET", "/ws", None),
        (2, "response", None, None, 101),
    ]
    assert v.streams[0].packets == 3 and v.streams[0].endpoints == (("10.0.0.1", 5000), ("10.0.0.2", 80))
    text, binary, close, frag, failed = v.ws
    assert (text.frame, text.index, text.src, text.opcode, text.payload) == (
        2,
        1,
        ("::1", 80),
        1,
        Payload.of(b"hi"),
    )
    assert (binary.index, binary.masked, binary.mask_key, binary.payload_length, binary.length_form) == (
        2,
        True,
        "01020304",
        300,
        "16-bit",
    )
    assert binary.payload == Payload.of(b"\x00\xff")  # a binary payload sits in the following data tree
    assert (close.close_code, close.close_reason, close.payload) == (1000, "bye", None)
    assert frag.fragments and frag.reassembled == Payload.of(b"abcdef") and frag.payload is None
    assert frag.rsv == 4 and frag.opcode == 0
    assert failed.decompression_failed and failed.payload is None


def test_truncated_pdml_is_an_error() -> None:
    import xml.etree.ElementTree as ET

    with pytest.raises(ET.ParseError):
        read_pdml(io.BytesIO(PDML[:700]))


CAPTURES = corpus_captures()


@pytest.mark.tshark
@pytest.mark.parametrize("cap", CAPTURES, ids=corpus_id)
def test_same_rows_as_the_corpus_oracle(cap: Path, tshark: str) -> None:
    view = run_tshark(str(cap), {}, tshark)
    oracle = read_oracle(cap)
    assert len(view.ws) == len(oracle)
    for o, w in zip(oracle, view.ws, strict=True):
        assert (w.frame, w.index, w.stream, w.fin, w.rsv, w.opcode, w.masked, w.mask_key) == (
            o.frame,
            o.index,
            o.stream,
            o.fin,
            o.rsv,
            o.opcode,
            o.masked,
            o.mask_key,
        )
        assert (w.payload_length, w.length_form, w.close_code, w.close_reason) == (
            o.payload_length,
            o.length_form,
            o.close_code,
            o.close_reason,
        )
        assert (w.payload.head.hex() if w.payload else "") == o.payload_hex_prefix[:128]
        assert (w.reassembled.head.hex() if w.reassembled else "") == o.reassembled_hex_prefix[:128]
