"""SessionSpill: a session's packets written while it is analysed, each binary payload's hex kept
until the Socket.IO attachment that is the same bytes writes it again."""

from __future__ import annotations

import json

from analyzer.model.common import Direction
from analyzer.model.engineio import EioPacket, EioPacketType
from analyzer.model.session import EioPacketRecord, SioPacketRecord
from analyzer.model.socketio import SioPacket, SioPacketType
from analyzer.session.payloads import PayloadStore
from analyzer.session.spill import SessionSpill


def _eio(i: int, data: str | bytes) -> EioPacketRecord:
    packet = EioPacket(EioPacketType.MESSAGE, data)
    return EioPacketRecord(Direction.C2S, float(i), i, "websocket", 1, packet, len(data))


def _event(i: int, args: list[object]) -> SioPacketRecord:
    p = SioPacket(SioPacketType.BINARY_EVENT, "/", None, ["ev", *args], True, len(args), binary_values=True)
    return SioPacketRecord(Direction.C2S, float(i), i, "websocket", 1, p, (i,))


def test_kept_hex_is_released_by_the_attachment_that_uses_it() -> None:
    used, unused = b"\x01" * 1000, b"\x02" * 10
    records = [_eio(1, '51-["ev",{"_placeholder":true,"num":0}]'), _eio(2, used), _eio(3, unused)]
    store = PayloadStore()
    spill = SessionSpill(records, store)
    assert spill.load(records[1]) is used
    equal = bytes(bytearray(unused))
    assert equal == unused and equal is not unused
    spill.add_sio(_event(2, [equal]))  # the same value, not the same bytes: nothing released
    assert spill.load(records[2]) is unused
    assert list(spill._kept.values()) == [used, unused] and spill._kept_chars == 2020
    sio = _event(2, [{"nested": [used]}])
    spill.add_sio(sio)
    assert list(spill._kept.values()) == [unused] and spill._kept_chars == 20
    spill.finish()
    eio_text = "".join(spill.eio.pieces())
    sio_text = "".join(spill.sio.pieces())
    assert json.loads("[" + eio_text + "]") == [r.to_dict() for r in records]
    assert json.loads("[" + sio_text + "]")[1] == sio.to_dict()
    for s in (spill.eio, spill.sio):
        s.close()
    store.close()
