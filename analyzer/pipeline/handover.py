"""`--jobs N`: a finished record handed from a worker process to the parent through a file.

A record is pickled without the lists whose JSON is on disk (`RecordList.backing`: WebSocket
frames and messages, Engine.IO and Socket.IO packets of streaming output); each such list's JSON
is appended to the share's *blob* file and copied from there into a new spill in the parent, by
the kernel both times (copy_file_range(2): the text is not decoded, pickled or encoded again).
Lists without a backing (records in memory, or only counted) go with the record.
"""

from __future__ import annotations

import copyreg
import dataclasses
import pickle
from array import array
from collections import Counter
from typing import IO, Any

from analyzer.model.analysis import ConnectionRecord
from analyzer.model.session import EioPacketRecord, EngineIOSession, SioPacketRecord
from analyzer.model.spill import JsonSpill, RecordList, TalliedSpill
from analyzer.model.tempfile_fd import AppendFile

__all__ = ["dump_connection", "dump_session", "load_lists"]

# (count, first, last, (tally, piece lengths) of a TalliedSpill or None, offset in the blob,
# length) of each list
Tallied = tuple[Counter[Any], "array[int] | None"]
Head = tuple[int, Any, Any, Tallied | None, int, int]


def _by_fields(record: Any) -> tuple[type, tuple[Any, ...]]:
    """Pickled as its class and its fields' values: the packet records are slotted dataclasses
    whose base is compiled in the mypyc build, where pickle's own way loses their fields."""
    return type(record), tuple(getattr(record, f.name) for f in dataclasses.fields(record))


for _cls in (EioPacketRecord, SioPacketRecord):  # a session's first and last packets go with it
    copyreg.pickle(_cls, _by_fields)


def _dump(obj: object, out: IO[bytes]) -> None:
    pickle.dump(obj, out, protocol=pickle.HIGHEST_PROTOCOL)


def _head(lst: RecordList[Any], blob: AppendFile) -> Head:
    spill = lst.backing
    assert spill is not None
    offset = blob.size
    length = spill.save(blob)
    # the pieces' lengths go too: the parent's exports then copy the arguments' text (`parts()`)
    tallied = (spill.tally, spill.part_lengths) if isinstance(spill, TalliedSpill) else None
    return (len(lst), lst.first, lst.last, tallied, offset, length)


def dump_connection(
    item: tuple[Any, int], found: list[Any], record: ConnectionRecord, out: IO[bytes], blob: AppendFile
) -> None:
    """The item `(*item, (record, found, heads))`; the JSON of the record's lists that are on disk
    to `blob` (`heads` says which, and where); the record is left as it was."""
    ws = record.websocket
    names = [n for n in ("frames", "messages") if ws is not None and getattr(ws, n).backing is not None]
    lists: list[RecordList[Any]] = [getattr(ws, n) for n in names]
    heads = [(n, *_head(lst, blob)) for n, lst in zip(names, lists, strict=True)]
    try:
        for n in names:
            setattr(ws, n, RecordList())
        _dump((*item, (record, found, heads)), out)
    finally:
        for n, lst in zip(names, lists, strict=True):
            setattr(ws, n, lst)


def dump_session(item: tuple[Any, int], record: EngineIOSession, out: IO[bytes], blob: AppendFile) -> None:
    """The item `(*item, (record, heads))` and its lists, as `dump_connection` (a session's
    Engine.IO and Socket.IO packets)."""
    sio = record.socketio
    heads: list[tuple[Any, ...]] = []
    bare = record
    if record.packets.backing is not None:
        heads.append(("packets", *_head(record.packets, blob)))
        bare = dataclasses.replace(bare, packets=RecordList())
    if sio is not None and sio.packets.backing is not None:
        heads.append(("socketio", *_head(sio.packets, blob)))
        bare = dataclasses.replace(bare, socketio=dataclasses.replace(sio, packets=RecordList()))
    _dump((*item, (bare, heads)), out)


def _load_list(blob: int, head: tuple[Any, ...]) -> RecordList[Any]:
    _, count, first, last, tallied, offset, length = head
    spill = JsonSpill() if tallied is None else TalliedSpill()
    spill.restore(blob, offset, length, count)
    if isinstance(spill, TalliedSpill) and tallied is not None:
        spill.restore_parts(*tallied)
    return RecordList.written(spill, first, last)


def load_lists(blob: int, record: Any, heads: list[tuple[Any, ...]]) -> Any:
    """The record with its lists, from the share's blob (file descriptor `blob`): a connection's
    are set on it; a session, frozen, is a new record."""
    for head in heads:
        lst = _load_list(blob, head)
        name = head[0]
        if isinstance(record, ConnectionRecord):
            setattr(record.websocket, name, lst)
        elif name == "packets":
            record = dataclasses.replace(record, packets=lst)
        else:
            record = dataclasses.replace(record, socketio=dataclasses.replace(record.socketio, packets=lst))
    return record
