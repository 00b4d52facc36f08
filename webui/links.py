"""Links between the layers of one index: the Engine.IO packets that carried a Socket.IO packet,
the WebSocket message or HTTP exchange that carried an Engine.IO packet, the frames of a
WebSocket message, the HTTP exchange at a packet; and across one layer, the ACK of an event and
the event of an ACK. Read from the row columns and the stored records; the detail pages walk
them down the OSI stack.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from webui.docutil import SIO_TYPE_DIGIT, as_dict, as_int, as_list
from webui.rowtable import Row

if TYPE_CHECKING:
    from webui.index import Index

__all__ = ["Links"]

_DIR_NO = {"c2s": 1, "s2c": 2}
_ASKS = ("EVENT", "BINARY_EVENT")
_ANSWERS = ("ACK", "BINARY_ACK")


class Links:
    """The cross-layer links of an Index, worked out when first asked for and kept."""

    def __init__(self, ix: Index) -> None:
        self.ix = ix
        # per session, the Engine.IO rows of each Socket.IO packet, compact (the messages pane asks
        # for every session it lists): packet p's rows are rows[starts[p]:starts[p + 1]]
        self._sio: dict[int, tuple[array[int], array[int]]] = {}

    def sio_eio_rows(self, row: Row) -> list[Row]:
        """The Engine.IO packets that carried a Socket.IO packet (the text packet, then its attachments)."""
        if row.layer != "socketio":
            return []
        si, pi = row.src[1], row.src[2]
        links = self._sio.get(si)
        if links is None:
            per_packet = self._link_session(si)
            starts = array("q", [0])
            for got in per_packet:
                starts.append(starts[-1] + len(got))
            links = self._sio[si] = (starts, array("q", (i for got in per_packet for i in got)))
        starts, rows = links
        if pi + 1 >= len(starts):
            return []
        return [self.ix.rows[i] for i in rows[starts[pi] : starts[pi + 1]]]

    def _link_session(self, si: int) -> list[list[int]]:
        """Pair Socket.IO packets with Engine.IO "message" packets, per direction, in order.

        Socket.IO protocol v5 "Packet encoding": a packet is one Engine.IO message (text for the
        default parser, binary for msgpack), then one binary message per attachment. Read from
        the rows: an Engine.IO row's summary is the packet as on the wire (type digit, data) or
        "binary ..."; a Socket.IO row's src is its position in the session's packets.
        """
        t = self.ix.table
        sess = self.ix.sessions[si]
        sio_obj = sess.get("socketio")
        msgpack = isinstance(sio_obj, dict) and sio_obj.get("parser") == "msgpack"
        eio: list[tuple[int, int]] = []  # (packet position, row)
        sio: list[tuple[int, int]] = []
        for i in self.ix.session_row_ids(si):
            if t.src_kind[i] == 5:  # eio
                if t.kind_of(i) == "message":
                    eio.append((t.src_b[i], i))
            elif t.src_kind[i] == 6:  # sio
                sio.append((t.src_b[i], i))
        eio.sort()
        sio.sort()
        n_sio = max((p for p, _ in sio), default=-1) + 1
        queues: dict[int, list[tuple[int, bool, str]]] = {}
        for _, i in eio:
            summary = t.summary_of(i)
            binary = summary.startswith("binary ")
            queues.setdefault(t.direction[i], []).append((i, binary, "" if binary else summary[1:]))
        pos: dict[int, int] = {}
        out: list[list[int]] = [[] for _ in range(n_sio)]
        for pi, i in sio:
            d = t.direction[i]
            q = queues.get(d, [])
            k = pos.get(d, 0)
            digit = SIO_TYPE_DIGIT.get(t.kind_of(i), "")
            # Skip stray binary messages (attachments of a packet that did not decode) and,
            # for the default parser, text messages that do not start with this packet's type.
            look = 0
            while k < len(q) and look < 16:
                if msgpack or (not q[k][1] and q[k][2].startswith(digit)):
                    break
                k += 1
                look += 1
            if k >= len(q):
                continue
            got = [q[k][0]]
            k += 1
            binary = t.kind_of(i).startswith("BINARY")
            n = (as_int(self.ix.record_at(t.src_of(i)).get("attachments")) if binary else 0) or 0
            while n > 0 and k < len(q) and q[k][1]:
                got.append(q[k][0])
                k += 1
                n -= 1
            pos[d] = k
            out[pi] = got
        return out

    def carrier_rows(self, row: Row) -> list[Row]:
        """The WebSocket message or HTTP request/response that carried an Engine.IO packet."""
        if row.layer != "engineio":
            return []
        rec = self.ix.record(row)
        cid = as_int(rec.get("connection"))
        frame = row.frame
        if cid is None or frame is None:
            return []
        transport = rec.get("transport")
        want_layer = "websocket" if transport == "websocket" else "http"
        t = self.ix.table
        ids = self.ix.connection_row_ids(cid)
        same = [
            i
            for i in ids
            if t.layer_of(i) == "engineio"
            and t.direction[i] == _DIR_NO.get(row.direction or "")
            and t.frame[i] == frame
            and self.ix.record_at(t.src_of(i)).get("transport") == transport
        ]
        k = next((n for n, i in enumerate(same) if i == row.id), 0)
        cands = [
            i
            for i in ids
            if t.layer_of(i) == want_layer
            and t.direction_of(i) == row.direction
            and (t.frame[i] == frame or frame in t.packets_of(i))
            and t.kind_of(i) in ("text", "binary", "request", "response")
        ]
        if want_layer == "websocket":
            return [self.ix.rows[cands[min(k, len(cands) - 1)]]] if cands else []
        return [self.ix.rows[cands[0]]] if cands else []

    def ws_message_frames(self, row: Row) -> list[dict[str, Any]]:
        """The data frames of a WebSocket message (RFC 6455 §5.4: first frame, continuations, FIN)."""
        if row.src[0] == "ws_frame":
            return [self.ix.record(row)]
        if row.src[0] != "ws_msg":
            return []
        found = self.ix.container(("ws_frame", row.src[1], 0))
        frames: Sequence[Any] = found[0] if found is not None else ()
        # Group data frames into messages per direction, then take the same ordinal.
        t = self.ix.table
        ordinal = sum(
            1
            for i in self.ix.connection_row_ids(row.connection)
            if t.src_kind[i] == 3
            and t.src_a[i] == row.src[1]
            and t.src_b[i] < row.src[2]
            and t.direction_of(i) == row.direction
        )
        groups: list[list[dict[str, Any]]] = []
        cur: list[dict[str, Any]] = []
        for f in frames:
            if not isinstance(f, dict):
                continue
            if f.get("direction") != row.direction or as_int(f.get("opcode")) not in (0, 1, 2):
                continue
            if as_int(f.get("opcode")) in (1, 2) and cur:
                groups.append(cur)  # a message started inside another (RFC 6455 §5.4)
                cur = []
            cur.append(f)
            if f.get("fin"):
                groups.append(cur)
                cur = []
            if len(groups) > ordinal:
                break
        if ordinal < len(groups):
            g = groups[ordinal]
            if as_int(g[-1].get("frame")) == row.frame:
                return g
        # Fallback: the frames that ended in the message's packets.
        return [
            f
            for f in frames
            if isinstance(f, dict) and f.get("direction") == row.direction and f.get("frame") in row.packets
        ]

    def http_for_frame(self, cid: int | None, frame: int | None) -> dict[str, Any] | None:
        """The HTTP exchange of a connection whose request or response is at `frame`."""
        pos = self.ix.conn_pos.get(cid)
        if pos is None or frame is None:
            return None
        t = self.ix.table
        for i in self.ix.connection_row_ids(cid):
            if t.layer[i] == 1 and (t.frame[i] == frame or frame in t.packets_of(i)):
                found = self.ix.container(("http_req", pos, t.src_b[i]))
                x = found[0][found[1]] if found is not None and found[1] < len(found[0]) else None
                return x if isinstance(x, dict) else None
        return None

    def ack_partner(self, row: Row) -> dict[str, Any] | None:
        """For a Socket.IO EVENT that asks for an ack: its ACK; for an ACK: the EVENT it answers;
        with the latency, as the session's socketio.acks[] pairs them (Socket.IO v5
        "Acknowledgement"). `row` is None when the other packet is not among the rows;
        None: not a packet with an ack id. An event whose ACK is not in the capture gives
        {"role": "request", "row": None, "latency_ms": None}."""
        if row.layer != "socketio" or row.session is None or row.kind not in (*_ASKS, *_ANSWERS):
            return None
        rec = self.ix.record(row)
        ack_id = as_int(rec.get("ack_id"))
        if ack_id is None or not 0 <= row.session < len(self.ix.sessions):
            return None
        answer = row.kind in _ANSWERS
        nsp = rec.get("nsp") or "/"
        mine, other = ("response", "request") if answer else ("request", "response")
        for a in as_list(as_dict(self.ix.sessions[row.session], "socketio"), "acks"):
            if not isinstance(a, dict) or as_int(a.get("ack_id")) != ack_id or (a.get("nsp") or "/") != nsp:
                continue
            if not self._is_at(a, mine, rec, row):
                continue
            found = self._sio_row(row.session, as_int(a.get(f"{other}_frame")), ack_id, nsp, answer)
            ms = a.get("latency_ms")
            return {
                "role": "response" if answer else "request",
                "row": found,
                "ack_id": ack_id,
                "event": a.get("event") if isinstance(a.get("event"), str) else None,
                "latency_ms": ms if isinstance(ms, int | float) and not isinstance(ms, bool) else None,
            }
        if answer:
            return {"role": "response", "row": None, "ack_id": ack_id, "event": None, "latency_ms": None}
        return {
            "role": "request",
            "row": None,
            "ack_id": ack_id,
            "event": rec.get("event"),
            "latency_ms": None,
        }

    @staticmethod
    def _is_at(ack: dict[str, Any], side: str, rec: dict[str, Any], row: Row) -> bool:
        """Whether the ack's request (or response) is this packet: its packet number, or its time."""
        frame = as_int(ack.get(f"{side}_frame"))
        if frame is not None:
            return frame == row.frame
        return ack.get(f"{side}_ts") == rec.get("ts")

    def _sio_row(self, si: int, frame: int | None, ack_id: int, nsp: str, want_ask: bool) -> int | None:
        """The row of the session's Socket.IO EVENT (or ACK) with this ack id at `frame`."""
        t = self.ix.table
        kinds = _ASKS if want_ask else _ANSWERS
        for i in self.ix.session_row_ids(si):
            if t.src_kind[i] != 6 or t.frame[i] != frame or t.kind_of(i) not in kinds:
                continue
            rec = self.ix.record_at(t.src_of(i))
            if as_int(rec.get("ack_id")) == ack_id and (rec.get("nsp") or "/") == nsp:
                return i
        return None
