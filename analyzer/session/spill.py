"""Streaming output of sessions: their packets go to disk as JSON while they are analysed.

The JSON is the records' own (analyzer/model/session_json.py); here are the order it is written
in and where the payloads come from (a PayloadStore).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from analyzer.model.session import EioPacketRecord, SioPacketRecord
from analyzer.model.session_json import eio_packet_parts, sio_packet_pieces
from analyzer.model.spill import JsonSpill, RecordList, TalliedSpill
from analyzer.session.payloads import PayloadStore

if TYPE_CHECKING:
    from analyzer.session.packettap import PacketTap

__all__ = ["SessionSpill"]


class SessionSpill:
    """A session's packets written to disk as JSON while it is analysed (streaming output).

    The Socket.IO analysis reads the Engine.IO payloads in capture order through `load`, which
    writes every Engine.IO packet up to that one on the way, so each payload is read once; its
    Socket.IO packets go to `sio` through `add_sio`. A binary packet's hex is kept (with the
    bytes, so that their id stays theirs) until the Socket.IO attachment it is writes it again,
    within a budget of HEX_BUDGET characters.

    With a tap (`payloads.tap`, Options.record_tap) the packets go to the tap in the same order,
    and no JSON is written: the lists keep their count only (RecordList.tapped).
    """

    HEX_BUDGET = 4 << 20

    def __init__(self, records: Sequence[EioPacketRecord], payloads: PayloadStore, sid: str = "") -> None:
        self.records = records
        self.payloads = payloads
        self.sid = sid
        self.tap: PacketTap | None = payloads.tap if payloads.spill_packets else None
        self._n_sio = 0
        self.eio = JsonSpill()
        self.sio = TalliedSpill()
        self._next = 0  # records[:_next] are written
        self._hexes: dict[int, str] = {}
        self._kept: OrderedDict[int, bytes] = OrderedDict()
        self._kept_chars = 0
        self._sio_ends: list[SioPacketRecord] = []  # the first and the last Socket.IO packet

    def load(self, r: EioPacketRecord) -> str | bytes:
        if not self.payloads.spill_packets:  # nothing is written: the payload is all it needs
            return self._payload(r)
        records = self.records
        while self._next < len(records):
            rec = records[self._next]
            self._next += 1
            if rec is r:
                return self._write(rec)
            self._write(rec)
        return self._payload(r)  # not one of the session's records (not expected)

    def finish(self) -> None:
        """Write the Engine.IO packets after the last one the analysis read."""
        for rec in self.records[self._next :] if self.payloads.spill_packets else ():
            self._write(rec)
        self._next = len(self.records)
        self._hexes.clear()
        self._kept.clear()

    def eio_list(self) -> RecordList[EioPacketRecord]:
        """The Engine.IO packets as the session's record list (after `finish`)."""
        records = self.records
        first, last = (records[0], records[-1]) if records else (None, None)
        if self.tap is not None:
            return RecordList.tapped(_untapped, len(records), first, last)
        return RecordList.written(self.eio, first, last)

    def sio_list(self) -> RecordList[SioPacketRecord]:
        """The Socket.IO packets `add_sio` wrote, as a record list."""
        ends = self._sio_ends
        first, last = (ends[0], ends[-1]) if ends else (None, None)
        if self.tap is not None:
            return RecordList.tapped(_untapped, self._n_sio, first, last)
        return RecordList.written(self.sio, first, last)

    def add_sio(self, r: SioPacketRecord) -> None:
        ends = self._sio_ends
        if len(ends) == 2:
            ends[1] = r
        else:
            ends.append(r)
        if not self.payloads.spill_packets:
            self.sio.tally[r.packet.nsp, r.packet.event] += 1
            return
        if self.tap is not None:
            self._n_sio += 1
            self.sio.tally[r.packet.nsp, r.packet.event] += 1
            self.tap.sio_packet(self.sid, r)
            return
        hexes = self._hexes
        before = len(hexes)
        head, args, data, tail = sio_packet_pieces(r, hexes)
        self.sio.add_parts(head, args, data, tail)
        self.sio.tally[r.packet.nsp, r.packet.event] += 1
        if len(hexes) < before:  # it wrote attachments whose hex was kept: not needed again
            kept = self._kept
            for key in _bytes_ids(r.packet.data):  # not a scan of `kept`: it may hold millions
                if key in kept and key not in hexes:
                    self._kept_chars -= 2 * len(kept.pop(key))

    def _payload(self, r: EioPacketRecord) -> str | bytes:
        return r.packet.data if r.stored is None else self.payloads.get(r.stored)

    def _write(self, r: EioPacketRecord) -> str | bytes:
        data = self._payload(r)
        if self.tap is not None:
            self.tap.eio_packet(self.sid, r, data)
            return data
        self.eio.begin()
        eio_packet_parts(r, self.eio, self._hexes, data)
        if isinstance(data, bytes) and id(data) in self._hexes:
            self._kept[id(data)] = data
            self._kept_chars += 2 * len(data)
            while self._kept_chars > self.HEX_BUDGET and len(self._kept) > 1:
                key, old = self._kept.popitem(last=False)
                self._kept_chars -= 2 * len(old)
                self._hexes.pop(key, None)
        return data


def _untapped(record: object) -> None:
    raise ValueError("a session's packets are not appended to after it was written")


def _bytes_ids(value: Any) -> Iterator[int]:
    """id() of every bytes object in a decoded value (the attachments of a Socket.IO packet)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is bytes:
            yield id(v)
        elif t is list or t is tuple:
            stack.extend(v)
        elif t is dict:
            stack.extend(v.values())
