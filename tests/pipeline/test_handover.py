"""`--jobs`: a session handed from a share to the parent keeps its Socket.IO packets' piece
lengths, so the parent's exports copy the arguments' text (`TalliedSpill.parts`) instead of
reading every packet's JSON back (the packets themselves and their tally arrive unchanged)."""

from __future__ import annotations

import io
import pickle
from collections import Counter

from analyzer.model.common import Direction
from analyzer.model.session import EngineIOSession, SioPacketRecord, SocketIOSession
from analyzer.model.session_json import sio_packet_pieces
from analyzer.model.socketio import SioPacket, SioPacketType
from analyzer.model.spill import RecordList, TalliedSpill
from analyzer.model.tempfile_fd import AppendFile
from analyzer.pipeline.handover import dump_session, load_lists


def _session(spill: TalliedSpill, first: SioPacketRecord, last: SioPacketRecord) -> EngineIOSession:
    sio = SocketIOSession(4, "default", RecordList.written(spill, first, last), ())
    return EngineIOSession("sid1", 4, ("websocket",), False, (1,), None, None, None, RecordList(), sio)


def _handed_over(packed: TalliedSpill, *ends: SioPacketRecord) -> TalliedSpill:
    blob, out = AppendFile(), io.BytesIO()
    dump_session((0, 1), _session(packed, *ends), out, blob)
    *_, (bare, heads) = pickle.loads(out.getvalue())
    session = load_lists(blob.fd, bare, heads)
    spill = session.socketio.packets.backing
    assert isinstance(spill, TalliedSpill)
    return spill


def test_piece_lengths_and_tally_cross_the_hand_over() -> None:
    records = [
        SioPacketRecord(
            Direction.C2S if i % 2 else Direction.S2C,
            1.5 + i,
            10 + i,
            "websocket",
            2,
            SioPacket(SioPacketType.EVENT, "/", None, ["chat", {"n": i, "t": "é"}], True),
            (10 + i,),
        )
        for i in range(300)
    ]
    packed = TalliedSpill()
    for r in records:
        packed.add_parts(*sio_packet_pieces(r, {}))
    packed.tally.update({("/", "chat"): len(records)})
    assert packed.has_parts
    there = list(packed.parts())
    here = _handed_over(packed, records[0], records[-1])
    assert here.count == len(records)
    assert here.tally == Counter({("/", "chat"): len(records)})
    assert here.has_parts  # False before the lengths went with the session: JSON read back
    assert list(here.parts()) == there
    assert here.load() == packed.load()


def test_a_spill_without_lengths_stays_without() -> None:
    r = SioPacketRecord(
        Direction.C2S, 1.0, 1, "websocket", 2, SioPacket(SioPacketType.EVENT, "/", None, ["x"], True), (1,)
    )
    plain = TalliedSpill()
    plain.add_json(r.to_json())
    here = _handed_over(plain, r, r)
    assert not here.has_parts
    assert here.load() == plain.load()
