"""Both directions of one HTTP/2 connection (RFC 9113), sans-IO.

    conn = H2Connection()                      # prior knowledge or ALPN h2 (§3.2-§3.4)
    events = conn.feed(Direction.C2S, data)    # also gap(direction, n), eof(direction)

Frames come from frames.py (hyperframe), field blocks are decoded by fields.py (hpack), one
decoder per direction. Events (events.py) are in stream order per direction: complete field
blocks (`H2Head`), DATA (`H2Data`), RST_STREAM, GOAWAY, SETTINGS and anomalies; the streams
themselves are the caller's to assemble (analyzer/pipeline/h2_step.py). Checked here: the
preface and first SETTINGS (§3.4), frame sizes (§4.2, §6), CONTINUATION order (§4.3, §6.10),
stream ids and states (§5.1, §5.1.1), SETTINGS values (§6.5.2, RFC 8441 §3), PUSH_PROMISE from
a client (§8.4), extended CONNECT against SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3-§4),
the fields of each message (§8.1-§8.3: fields.py). Not checked: flow-control windows, field
values (§8.2.1), content-length against the DATA. Bounded: streams whose state is kept, bytes
of a field block, header list size (fields.py), SETTINGS identifiers kept; nothing raises.
"""

from __future__ import annotations

from collections import deque

from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
)

from analyzer.model.codes.h2 import (
    H2_CONNECT_PROTOCOL_NOT_ENABLED,
    H2_GAP,
    H2_HPACK_ERROR,
    H2_LIMIT,
    H2_MALFORMED,
    H2_PROTOCOL_ERROR,
)
from analyzer.model.common import Direction
from analyzer.protocols.h2.events import H2Anomaly, H2Data, H2Event, H2GoAway, H2Head, H2Reset, H2Settings
from analyzer.protocols.h2.fields import FieldDecoder, Fields, field, field_rules
from analyzer.protocols.h2.frames import FRAME_NAMES, FrameReader, RawFrame

__all__ = ["MAX_BLOCK", "MAX_STREAMS", "H2Connection", "settings_payload"]

MAX_STREAMS = 10_000  # streams whose state is kept at one time
MAX_BLOCK = 1 << 20  # bytes of one field block (HEADERS + CONTINUATION)
MAX_SETTINGS = 64  # distinct SETTINGS identifiers kept per side
_RECENT = 1024  # recently reset streams remembered (frames in flight after a RST are normal)
_C2S, _S2C = Direction.C2S, Direction.S2C
# SETTINGS identifiers (RFC 9113 §6.5.2; RFC 8441 §3)
HEADER_TABLE_SIZE, ENABLE_PUSH, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, ENABLE_CONNECT = 1, 2, 4, 5, 8


def settings_payload(payload: bytes) -> tuple[tuple[int, int], ...]:
    """The {id u16, value u32} entries of a SETTINGS payload (e.g. HTTP2-Settings, RFC 7540 §3.2.1)."""
    n = len(payload) - len(payload) % 6
    return tuple(
        (int.from_bytes(payload[i : i + 2], "big"), int.from_bytes(payload[i + 2 : i + 6], "big"))
        for i in range(0, n, 6)
    )


class _Stream:
    __slots__ = ("ended", "headed", "reset_by")

    def __init__(self) -> None:
        self.ended: set[Direction] = set()  # sides that sent END_STREAM
        self.headed: set[Direction] = set()  # sides that sent their (final) header section
        self.reset_by: Direction | None = None


class _Block:
    """A field block being received (HEADERS/PUSH_PROMISE, then CONTINUATIONs)."""

    __slots__ = ("end_stream", "parts", "promise", "size", "start", "stream_id", "too_big")

    def __init__(self, stream_id: int, end_stream: bool, start: int, promise: bool) -> None:
        self.stream_id = stream_id
        self.end_stream = end_stream
        self.start = start
        self.promise = promise
        self.parts: list[bytes] = []
        self.size = 0
        self.too_big = False


class H2Connection:
    """Both directions of an HTTP/2 connection; see the module docstring."""

    def __init__(
        self,
        *,
        upgraded: bool = False,
        upgrade_settings: bytes | None = None,
        at: dict[Direction, int] | None = None,
    ) -> None:
        """`upgraded`: HTTP/2 after an h2c Upgrade, where the client's HTTP/1.1 request was stream 1
        (RFC 7540 §3.2; the client still sends the preface, §3.5). `upgrade_settings`: the payload of
        the request's HTTP2-Settings (§3.2.1). `at`: offset of each direction's first byte."""
        at = at or {}
        self.readers = {
            _C2S: FrameReader(_C2S, preface=True, at=at.get(_C2S, 0)),
            _S2C: FrameReader(_S2C, at=at.get(_S2C, 0)),
        }
        self.decoders = {_C2S: FieldDecoder(), _S2C: FieldDecoder()}
        self.frame_counts: dict[Direction, dict[str, int]] = {_C2S: {}, _S2C: {}}
        self.settings: dict[Direction, dict[int, int]] = {_C2S: {}, _S2C: {}}  # as each side sent them
        self._unacked: dict[Direction, deque[tuple[tuple[int, int], ...]]] = {_C2S: deque(), _S2C: deque()}
        self._first: dict[Direction, bool] = {_C2S: True, _S2C: True}  # next frame is the first
        self._block: dict[Direction, _Block | None] = {_C2S: None, _S2C: None}
        self._streams: dict[int, _Stream] = {}
        self._last_id = {_C2S: 0, _S2C: 0}  # highest stream id each side opened
        self._recent_reset: deque[int] = deque(maxlen=_RECENT)
        self._goaway_last: dict[Direction, int] = {}
        self._limited = False
        self.connect_enabled = False  # the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
        self.streams_seen = 0
        self._out: list[H2Event] = []
        if upgraded:  # RFC 7540 §3.2: the Upgrade request is stream 1, half-closed (local)
            self._open(1)
            self._streams[1].ended.add(_C2S)
            self._last_id[_C2S] = 1
            if upgrade_settings is not None:
                values = settings_payload(upgrade_settings)
                self.settings[_C2S].update(values)
                self._apply(_C2S, values)  # acknowledged by the 101

    # -- input ------------------------------------------------------------------------------------
    def feed(self, d: Direction, data: bytes) -> list[H2Event]:
        for item in self.readers[d].feed(data):
            if isinstance(item, H2Anomaly):
                self._out.append(item)
            else:
                self._frame(d, item)
        return self._take()

    def gap(self, d: Direction, length: int) -> list[H2Event]:
        """`length` bytes lost: the direction cannot be followed any more (framing and HPACK)."""
        reader = self.readers[d]
        if not reader.dead:
            self._anomaly(
                d, H2_GAP, f"{length} bytes lost; the rest of this direction is not decoded", reader.pos
            )
        reader.lose(length)
        self.decoders[d].lose()
        return self._take()

    def eof(self, d: Direction) -> list[H2Event]:
        block = self._block[d]
        if block is not None:
            self._anomaly(
                d, H2_PROTOCOL_ERROR, f"field block of stream {block.stream_id} never ended", block.start
            )
            self._block[d] = None
        return self._take()

    def _take(self) -> list[H2Event]:
        out, self._out = self._out, []
        return out

    def _anomaly(self, d: Direction, code: str, message: str, offset: int) -> None:
        self._out.append(H2Anomaly(d, code, message, offset))

    # -- frames -----------------------------------------------------------------------------------
    def _frame(self, d: Direction, raw: RawFrame) -> None:
        counts = self.frame_counts[d]
        name = FRAME_NAMES.get(raw.type, "UNKNOWN")
        counts[name] = counts.get(name, 0) + 1
        if self._first[d]:
            self._first[d] = False
            if raw.type != 4:  # §3.4: each side's preface ends with (is) a SETTINGS frame
                self._anomaly(d, H2_PROTOCOL_ERROR, f"first frame is {name}, not SETTINGS", raw.start)
        block = self._block[d]
        if block is not None and (raw.type != 9 or raw.stream_id != block.stream_id):
            # §4.3, §6.10: nothing but CONTINUATION of the same stream inside a field block
            self._anomaly(
                d, H2_PROTOCOL_ERROR, f"{name} on stream {raw.stream_id} inside the field block of stream"
                f" {block.stream_id}", raw.start,
            )  # fmt: skip
            self._block[d] = None
            self._lost_block(d)
        frame = raw.frame
        if frame is None:
            if raw.type in (1, 5, 9):  # a field block lost: the HPACK table cannot be followed
                self._lost_block(d)
            return
        if isinstance(frame, DataFrame):
            self._data(d, raw, frame)
        elif isinstance(frame, HeadersFrame | PushPromiseFrame):
            self._headers(d, raw, frame)
        elif isinstance(frame, ContinuationFrame):
            self._continuation(d, raw, frame)
        elif isinstance(frame, RstStreamFrame):
            self._reset(d, raw, frame)
        elif isinstance(frame, SettingsFrame):
            self._settings(d, raw, frame)
        elif isinstance(frame, GoAwayFrame):
            self._goaway(d, raw, frame)
        # PING, WINDOW_UPDATE, PRIORITY and unknown types (§5.5: ignored) are only counted

    def _lost_block(self, d: Direction) -> None:
        dec = self.decoders[d]
        if not dec.failed:
            dec.lose()
            self._anomaly(
                d, H2_HPACK_ERROR, "a field block was not received whole: the HPACK table of this direction"
                " is lost, its later header blocks are not decoded", self.readers[d].pos,
            )  # fmt: skip

    def _open(self, sid: int) -> _Stream | None:
        stream = self._streams.get(sid)
        if stream is None:
            if len(self._streams) >= MAX_STREAMS:
                if not self._limited:
                    self._limited = True
                    self._anomaly(
                        _C2S, H2_LIMIT, f"over {MAX_STREAMS} streams open; their states are not checked", 0
                    )
                return None
            stream = self._streams[sid] = _Stream()
            self.streams_seen += 1
        return stream

    def _end(self, sid: int, stream: _Stream, d: Direction) -> None:
        stream.ended.add(d)
        if len(stream.ended) == 2:
            del self._streams[sid]

    def _data(self, d: Direction, raw: RawFrame, frame: DataFrame) -> None:
        sid = raw.stream_id
        end_stream = "END_STREAM" in frame.flags
        stream = self._streams.get(sid)
        if stream is None or d in stream.ended or stream.reset_by is d:
            if not (sid in self._recent_reset or self._limited):
                # §5.1, §6.1: DATA only on a stream open on the sender's side (STREAM_CLOSED)
                state = "idle" if sid > max(self._last_id.values()) else "closed"
                self._anomaly(d, H2_PROTOCOL_ERROR, f"DATA on {state} stream {sid}", raw.start)
            if stream is None:
                return
        data_start = raw.start + 9 + (1 if "PADDED" in frame.flags else 0)
        self._out.append(H2Data(d, sid, bytes(frame.data), end_stream, raw.start, raw.end, data_start))
        if end_stream:
            self._end(sid, stream, d)

    def _headers(self, d: Direction, raw: RawFrame, frame: HeadersFrame | PushPromiseFrame) -> None:
        sid = raw.stream_id
        promise = isinstance(frame, PushPromiseFrame)
        if isinstance(frame, PushPromiseFrame):
            if d is _C2S:  # §8.4: only a server pushes
                self._anomaly(d, H2_PROTOCOL_ERROR, "PUSH_PROMISE sent by the client", raw.start)
            sid = frame.promised_stream_id
        block = _Block(sid, "END_STREAM" in frame.flags, raw.start, promise)
        self._block[d] = block
        self._add_fragment(d, block, bytes(frame.data))
        if "END_HEADERS" in frame.flags:
            self._complete(d, raw.end)

    def _continuation(self, d: Direction, raw: RawFrame, frame: ContinuationFrame) -> None:
        block = self._block[d]
        if block is None:  # §6.10: CONTINUATION only after a block that did not end
            self._anomaly(
                d, H2_PROTOCOL_ERROR, f"CONTINUATION on stream {raw.stream_id} with no open block", raw.start
            )
            self._lost_block(d)
            return
        self._add_fragment(d, block, bytes(frame.data))
        if "END_HEADERS" in frame.flags:
            self._complete(d, raw.end)

    def _add_fragment(self, d: Direction, block: _Block, data: bytes) -> None:
        block.size += len(data)
        if block.size > MAX_BLOCK:
            if not block.too_big:
                block.too_big = True
                block.parts = []
                self._anomaly(
                    d,
                    H2_LIMIT,
                    f"field block of stream {block.stream_id} over {MAX_BLOCK} bytes",
                    block.start,
                )
            return
        block.parts.append(data)

    def _complete(self, d: Direction, end: int) -> None:
        block = self._block[d]
        assert block is not None
        self._block[d] = None
        dec = self.decoders[d]
        fields: Fields | None = None
        if block.too_big:
            self._lost_block(d)
        elif not dec.failed:
            fields, why = dec.decode(b"".join(block.parts))
            if why is not None:
                msg = (
                    f"header block of stream {block.stream_id} does not decode ({why}); the HPACK table of"
                    " this direction is lost, its later header blocks are not decoded"
                )
                self._anomaly(d, H2_LIMIT if dec.over_limit else H2_HPACK_ERROR, msg, block.start)
        self._stream_rules(d, block, fields)
        self._out.append(
            H2Head(d, block.stream_id, fields, block.end_stream, block.start, end, block.promise)
        )

    def _stream_rules(self, d: Direction, block: _Block, fields: Fields | None) -> None:
        """§5.1.1 stream ids, §5.1 states, RFC 8441 §3-§4 extended CONNECT."""
        sid = block.stream_id
        stream = self._streams.get(sid)
        if stream is None and block.promise:
            self._last_id[_S2C] = max(self._last_id[_S2C], sid)
            stream = self._open(sid)
            if stream is not None:
                stream.ended.add(_C2S)  # §8.4: reserved (remote), the client side never sends
            return
        if stream is None:
            opener_ok = (sid % 2 == 1) if d is _C2S else False
            bad_id = not opener_ok or sid <= self._last_id[d]
            if bad_id and sid not in self._recent_reset and not self._limited:
                why = "not above the previous one" if opener_ok else "of the wrong parity or not opened"
                self._anomaly(d, H2_PROTOCOL_ERROR, f"HEADERS opens stream {sid}, {why}", block.start)
            if d is _C2S:
                self._last_id[_C2S] = max(self._last_id[_C2S], sid)
            stream = self._open(sid)
        elif d in stream.ended and not block.promise:
            self._anomaly(d, H2_PROTOCOL_ERROR, f"HEADERS on stream {sid} after its END_STREAM", block.start)
        if d is _C2S and fields is not None and not block.promise:
            self._extended_connect(fields, block.start)
        if stream is not None and fields is not None and not block.promise:
            self._message_rules(d, stream, fields, block.start)
        if stream is not None and block.end_stream and not block.promise:
            self._end(sid, stream, d)

    def _message_rules(self, d: Direction, stream: _Stream, fields: Fields, start: int) -> None:
        """RFC 9113 §8.1-§8.3: the fields of a header section or trailers."""
        first = d not in stream.headed
        status = field(fields, ":status") or ""
        if not (d is _S2C and status.startswith("1")):  # §8.1: 1xx heads come before the final one
            stream.headed.add(d)
        bad = field_rules(fields, d is _C2S, first)
        if bad is not None:
            self._anomaly(d, H2_MALFORMED, bad, start)

    def _extended_connect(self, fields: Fields, start: int) -> None:
        protocol = field(fields, ":protocol")
        if protocol is None:
            return
        if field(fields, ":method") != "CONNECT":  # RFC 8441 §4: :protocol only on CONNECT
            self._anomaly(
                _C2S,
                H2_CONNECT_PROTOCOL_NOT_ENABLED,
                f":protocol {protocol!r} on a request that is not CONNECT",
                start,
            )
        elif not self.connect_enabled:  # RFC 8441 §3: only after the server's setting
            self._anomaly(
                _C2S, H2_CONNECT_PROTOCOL_NOT_ENABLED, f"extended CONNECT (:protocol {protocol!r}) before the"
                " server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1", start,
            )  # fmt: skip

    def _reset(self, d: Direction, raw: RawFrame, frame: RstStreamFrame) -> None:
        sid = raw.stream_id
        stream = self._streams.pop(sid, None)
        if stream is None and sid > max(self._last_id.values()) and not self._limited:
            self._anomaly(d, H2_PROTOCOL_ERROR, f"RST_STREAM on idle stream {sid}", raw.start)  # §6.4
        self._recent_reset.append(sid)
        self._out.append(H2Reset(d, sid, frame.error_code, raw.start, raw.end))

    def _settings(self, d: Direction, raw: RawFrame, frame: SettingsFrame) -> None:
        if "ACK" in frame.flags:
            pending = self._unacked[d.other]
            if pending:  # §6.5.3: the sender's settings apply from the peer's ACK on
                self._apply(d.other, pending.popleft())
            self._out.append(H2Settings(d, True, (), raw.start, raw.end))
            return
        values = tuple(frame.settings.items())
        for ident, value in values:
            self._check_setting(d, ident, value, raw.start)
        kept = self.settings[d]
        for ident, value in values:
            if ident in kept or len(kept) < MAX_SETTINGS:  # a peer may send any of 65536 ids
                kept[ident] = value
        if len(self._unacked[d]) < 64:
            self._unacked[d].append(values)
        if d is _S2C and dict(values).get(ENABLE_CONNECT) == 1:
            self.connect_enabled = True
        self._out.append(H2Settings(d, False, values, raw.start, raw.end))

    def _check_setting(self, d: Direction, ident: int, value: int, start: int) -> None:
        bad = None
        if ident == ENABLE_PUSH and (value > 1 or (d is _S2C and value == 1)):
            bad = "SETTINGS_ENABLE_PUSH must be 0 or 1, and a server MUST NOT send 1"  # §6.5.2
        elif ident == INITIAL_WINDOW_SIZE and value > 0x7FFFFFFF:
            bad = "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1"  # §6.5.2 (FLOW_CONTROL_ERROR)
        elif ident == MAX_FRAME_SIZE and not 16384 <= value <= 16777215:
            bad = "SETTINGS_MAX_FRAME_SIZE outside 16384..16777215"  # §6.5.2
        elif ident == ENABLE_CONNECT and (value > 1 or (value == 0 and self.settings[d].get(ident) == 1)):
            bad = "SETTINGS_ENABLE_CONNECT_PROTOCOL must be 0 or 1 and never go from 1 to 0"  # RFC 8441 §3
        if bad is not None:
            self._anomaly(d, H2_PROTOCOL_ERROR, f"{bad} (got {value})", start)

    def _apply(self, sender: Direction, values: tuple[tuple[int, int], ...]) -> None:
        """Settings of `sender`, acknowledged: they bound what the peer sends (§6.5.2)."""
        peer = sender.other
        for ident, value in values:
            if ident == MAX_FRAME_SIZE and 16384 <= value <= 16777215:
                self.readers[peer].max_frame_size = value
            elif ident == HEADER_TABLE_SIZE:
                self.decoders[peer].set_table_limit(value)

    def _goaway(self, d: Direction, raw: RawFrame, frame: GoAwayFrame) -> None:
        last = frame.last_stream_id
        prev = self._goaway_last.get(d)
        if prev is not None and last > prev:  # §6.8: MUST NOT increase
            self._anomaly(
                d, H2_PROTOCOL_ERROR, f"GOAWAY last_stream_id went up from {prev} to {last}", raw.start
            )
        self._goaway_last[d] = last
        self._out.append(
            H2GoAway(d, last, frame.error_code, bytes(frame.additional_data), raw.start, raw.end)
        )

    def open_streams(self) -> list[int]:
        return sorted(self._streams)
