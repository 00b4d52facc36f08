"""The rows batch/tap.py makes from records as they are decoded (WebSocket frames and messages,
Engine.IO and Socket.IO packets) equal the rows batch/rows.py makes from the same records' JSON
(the document's), and a tapped RecordList hands on its records without keeping them."""

from __future__ import annotations

import json
from operator import itemgetter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyarrow")

from analyzer.batch import rows
from analyzer.batch.rawjson import ObjectFeed
from analyzer.batch.schema import TABLES
from analyzer.batch.tap import (
    EIO_COLUMNS,
    FRAME_COLUMNS,
    MESSAGE_COLUMNS,
    SIO_COLUMNS,
    eio_values,
    sio_values,
    ws_frame_values,
    ws_message_values,
)
from analyzer.capture.pcapfile import open_capture
from analyzer.model.records import WsMessageRecord
from analyzer.model.session import EioPacketRecord, SioPacketRecord
from analyzer.model.session_json import eio_packet_parts, sio_packet_parts
from analyzer.model.spill import RecordList
from analyzer.model.websocket import WsFrameRecord
from analyzer.pipeline import Options, run
from analyzer.pipeline.run import analyze_file

ROOT = Path(__file__).resolve().parents[2]
WS_CAPTURES = sorted(p.name for p in (ROOT / "captures").glob("*.pcap*"))


def test_columns_are_the_schema_s() -> None:
    for table, columns in (
        ("ws_frames", FRAME_COLUMNS),
        ("ws_messages", MESSAGE_COLUMNS),
        ("eio_packets", EIO_COLUMNS),
        ("sio_packets", SIO_COLUMNS),
    ):
        assert tuple(TABLES[table].names[1:]) == columns, table


@pytest.mark.parametrize("keep", [1 << 20, 7])  # 7: text messages cut, some inside a character
@pytest.mark.parametrize("name", WS_CAPTURES)
def test_tap_rows_equal_json_rows(name: str, keep: int) -> None:
    analysis = analyze_file(str(ROOT / "captures" / name), Options(keep_payload_bytes=keep))
    frame_row, message_row = itemgetter(*FRAME_COLUMNS), itemgetter(*MESSAGE_COLUMNS)
    seen = 0
    for c in analysis.connections:
        if c.websocket is None:
            continue
        for f in c.websocket.frames:
            assert ws_frame_values(c.id, f) == frame_row(rows.ws_frame_row(c.id, json.loads(f.to_json())))
            seen += 1
        for m in c.websocket.messages:
            assert ws_message_values(m) == message_row(rows.ws_message_row(c.id, json.loads(m.to_json())))
            seen += 1
    if name.startswith("ws-"):
        assert seen > 10


def test_cut_text_message_drops_the_cut_character() -> None:
    from analyzer.model.common import Direction

    data = "aé".encode()[:2]  # 'a' and the first byte of 'é'
    m = WsMessageRecord(1, Direction.S2C, 1.5, 3, "text", False, 1, data, 3, truncated=True, frames=(3,))
    values = dict(zip(MESSAGE_COLUMNS, ws_message_values(m), strict=True))
    assert values["payload"] == b"a"
    assert values == rows.ws_message_row(1, json.loads(m.to_json()))


def test_tapped_list_hands_records_on_and_keeps_none() -> None:
    got: list[int] = []
    lst: RecordList[WsMessageRecord] = RecordList.tapped(lambda r: got.append(r.frame))
    from analyzer.model.common import Direction

    recs = [WsMessageRecord(1, Direction.C2S, float(i), i, "binary", False, 1, b"x", 1) for i in range(3)]
    for r in recs:
        lst.append(r)
    assert got == [0, 1, 2] and len(lst) == 3
    assert lst.first is recs[0] and lst.last is recs[2]
    assert lst.tapped_list and not lst.in_memory
    for read in (lst.values, lst.texts, lst.to_list, lambda: list(lst)):
        with pytest.raises(ValueError, match="tap"):
            read()


class _Both:
    """A record tap that makes each packet's row both ways: from the record, and from the JSON
    session/spill.py would have written for it (through rawjson.ObjectFeed, as the sink reads it)."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, tuple[Any, ...], tuple[Any, ...]]] = []
        self.eio_get, self.sio_get = itemgetter(*EIO_COLUMNS), itemgetter(*SIO_COLUMNS)

    def ws_frame(self, connection: int, record: WsFrameRecord) -> None:
        pass

    def ws_message(self, record: WsMessageRecord) -> None:
        pass

    def eio_packet(self, sid: str, record: EioPacketRecord, data: str | bytes) -> None:
        out: list[str] = []
        eio_packet_parts(record, out, {}, data)
        want = self.eio_get(rows.eio_row(sid, json.loads("".join(out))))
        self.pairs.append(("eio", eio_values(sid, record, data), want))

    def sio_packet(self, sid: str, record: SioPacketRecord) -> None:
        got: list[dict[str, Any]] = []
        feed = ObjectFeed(frozenset(("args", "data")), got.append)
        sio_packet_parts(record, feed, {})
        feed.close()
        self.pairs.append(("sio", sio_values(sid, record), self.sio_get(rows.sio_row(sid, got[0]))))


@pytest.mark.parametrize("name", [n for n in WS_CAPTURES if n.startswith(("sio-", "xss-"))])
def test_session_packet_rows_equal_json_rows(name: str) -> None:
    both = _Both()
    run(
        open_capture(str(ROOT / "captures" / name)), Options(spill_records=True, record_tap=both), _NullSink()
    )
    kinds = {k for k, _, _ in both.pairs}
    assert kinds == {"eio", "sio"}
    for kind, got, want in both.pairs:
        assert got == want, kind


class _NullSink:
    def connection(self, record: Any) -> None:
        pass

    def session(self, record: Any) -> None:
        assert record.packets.tapped_list

    def finish(self, summary: Any) -> None:
        pass


def test_rows_held_are_bounded_in_bytes(tmp_path: Path) -> None:
    """20 rows of 1 MiB payloads go out in row groups of at most FLUSH_BYTES, not all at once."""
    import pyarrow.parquet as pq

    from analyzer.batch.sink import FLUSH_BYTES, TableFiles, table_path

    files = TableFiles(str(tmp_path), "c", 0, ("ws_messages",))
    payload = bytes(range(256)) * 4096  # 1 MiB
    for i in range(20):
        row = (i, 1_000_000 * i, 1, "s2c", "binary", False, 1, len(payload), payload, False, [i])
        files.add_values("ws_messages", row, len(payload))
    files.close()
    meta = pq.ParquetFile(table_path(str(tmp_path), "ws_messages", 0)).metadata
    assert meta.num_rows == 20
    assert meta.num_row_groups >= 20 * len(payload) // FLUSH_BYTES
    table = pq.read_table(table_path(str(tmp_path), "ws_messages", 0))
    assert table.column("payload").to_pylist() == [payload] * 20
