"""JsonSpill: records in memory and on disk come out as one comma-separated list, whatever the output."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from analyzer.model import spill
from analyzer.model.spill import JsonSpill, RecordList
from analyzer.pipeline.run import analyze_file


def fill(n: int) -> tuple[JsonSpill, list[object]]:
    sp = JsonSpill()
    values: list[object] = []
    for i in range(n):
        value = {"i": i, "text": 'é✓😀 "quoted" \ud800'}
        values.append(value)
        if i % 2:
            sp.add(value)
        else:  # the same record in pieces
            text = spill.dumps(value)
            sp.begin()
            for k in range(0, len(text), 5):
                sp.append(text[k : k + 5])
    return sp, values


@pytest.mark.parametrize("n", [0, 1, 3, 500])
def test_string_output_file_output_and_load_agree(
    n: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill, "IN_MEMORY", 256)  # force several chunks to the file
    sp, values = fill(n)
    assert sp.count == n
    buf = io.StringIO()
    sp.copy_to(buf)
    out = tmp_path / "out.json"
    with out.open("w", encoding="utf-8", errors="backslashreplace") as f:
        f.write("[")
        sp.copy_to(f)  # sendfile(2) once the spill has a file
        f.write("]")
    expected = json.loads(json.dumps(values))
    assert json.loads("[" + buf.getvalue() + "]") == expected
    assert json.loads(out.read_text(encoding="utf-8")) == expected
    assert sp.load() == expected
    with open("/dev/null", "w", encoding="utf-8", errors="backslashreplace") as null:
        sp.copy_to(null)
    sp.close()


@pytest.mark.parametrize("kernel_copy", [True, False], ids=["copy_file_range", "fallback"])
@pytest.mark.parametrize("inner_n", [0, 1, 500])
@pytest.mark.parametrize("outer_n", [0, 3, 500])
def test_a_spill_appended_into_another_record(
    inner_n: int, outer_n: int, kernel_copy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session's packets (a spill) copied into the sessions spill, file to file when they are big."""
    monkeypatch.setattr(spill, "IN_MEMORY", 256)
    if not kernel_copy:

        def refuse(*args: object) -> int:
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refuse)
    inner, inner_values = fill(inner_n)
    outer, outer_values = fill(outer_n)
    outer.begin()
    outer.append('{"packets":[')
    outer.append_spill(inner)
    outer.append("]}")
    expected = json.loads(json.dumps([*outer_values, {"packets": inner_values}]))
    assert outer.load() == expected
    buf = io.StringIO()
    outer.copy_to(buf)
    assert json.loads("[" + buf.getvalue() + "]") == expected


# -- RecordList: one list type, records in memory or their JSON on disk -------------------------

MSGPACK = Path(__file__).resolve().parents[2] / "captures" / "sio-node-v4-msgpack.pcap"


def _lists() -> list[tuple[str, RecordList[Any]]]:
    """Every record list of a real capture (frames, messages, Engine.IO and Socket.IO packets)."""
    a = analyze_file(str(MSGPACK))
    out: list[tuple[str, RecordList[Any]]] = []
    for c in a.connections:
        if c.websocket is not None:
            out += [("frames", c.websocket.frames), ("messages", c.websocket.messages)]
    for s in a.engineio_sessions:
        out.append(("eio", s.packets))
        if s.socketio is not None:
            out.append(("sio", s.socketio.packets))
    assert {kind for kind, _ in out} == {"frames", "messages", "eio", "sio"}
    return out


@pytest.mark.parametrize("small", [False, True], ids=["in-memory-text", "on-disk"])
def test_record_list_reads_the_same_wherever_the_records_are(
    small: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same records appended to a list that keeps them and to one that writes their JSON
    (to its file past IN_MEMORY characters) read back the same through every reader."""
    if small:
        monkeypatch.setattr(spill, "IN_MEMORY", 64)
    for _kind, kept in _lists():
        records = list(kept)
        written: RecordList[Any] = RecordList(spill=True)
        for r in records:
            written.append(r)
        assert kept.in_memory and not written.in_memory
        assert len(written) == len(kept) == len(records) and bool(written) == bool(records)
        assert written.first is kept.first and written.last is kept.last
        texts = [r.to_json() for r in records]
        for x in (kept, written):
            assert list(x.texts()) == texts
            assert list(x.values()) == [json.loads(t) for t in texts] == x.to_list()
            assert [t for t, _ in x.items()] == texts
            buf = io.StringIO()
            x.copy_to(buf)
            assert buf.getvalue() == ",".join(texts)
            pieces: list[str] = []
            x.write_to(pieces)
            assert "".join(pieces) == ",".join(texts)
            into = JsonSpill()  # a record of another list: file to file when on disk
            into.begin()
            into.append("[")
            x.write_to(into)
            into.append("]")
            assert into.load() == [[json.loads(t) for t in texts]]
        if records:
            with pytest.raises(ValueError, match="values"):
                list(written)
        written.close()
        written.close()  # harmless twice
        assert kept[:] == records  # closing a list in memory keeps its records


def test_record_list_written_by_another_writer() -> None:
    """A session's packets written by SessionSpill (payloads from disk) are such a list too."""
    for kind, kept in _lists():
        sp = JsonSpill()
        for r in kept:
            sp.add_json(r.to_json())
        got: RecordList[Any] = RecordList.written(sp, kept.first, kept.last)
        assert len(got) == len(kept), kind
        assert got.to_list() == kept.to_list()
        assert got != kept and got == got


def test_record_list_counted_keeps_count_and_ends_and_no_json() -> None:
    """RecordList(counted=True) (no output reads the records): counted, first and last kept,
    no record serialized; reading their JSON is refused instead of giving an empty list."""

    class NoJson:
        def to_json(self) -> str:
            raise AssertionError("a counted list serializes nothing")

    for _kind, kept in _lists():
        records = list(kept)
        counted: RecordList[Any] = RecordList(spill=True, counted=True)
        for r in records:
            counted.append(r)
        assert len(counted) == len(records) and not counted.in_memory and not counted.kept
        assert counted.first is kept.first and counted.last is kept.last
        assert "counted" in repr(counted)
        readers = (counted.texts, counted.values, counted.items, counted.to_list, counted.__iter__)
        for read in readers:
            with pytest.raises(ValueError, match="counted"):
                read()
        with pytest.raises(ValueError, match="counted"):
            counted.copy_to(io.StringIO())
        with pytest.raises(ValueError, match="counted"):
            counted.write_to([])
        counted.close()
    plain: RecordList[Any] = RecordList(spill=True, counted=True)
    plain.append(NoJson())  # type: ignore[arg-type]
    assert len(plain) == 1 and RecordList().kept
