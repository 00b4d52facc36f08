"""HTTP/2 framing of one direction (RFC 9113 §3.4, §4.1-§4.2), sans-IO, with `hyperframe`.

`FrameReader.feed(data)` returns the frames completed by `data` as `RawFrame`s (the hyperframe
object, or None when it could not be parsed) and `H2Anomaly`s. The 9-byte header is read here
(RFC 9113 §4.1), so a frame that hyperframe rejects still advances the stream by 9 + Length.
A frame longer than the receiver's SETTINGS_MAX_FRAME_SIZE (§4.2) is skipped without being
buffered, so buffered bytes never exceed that setting (at most 2^24 - 1, §6.5.2) + 9.
Nothing here raises on captured bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from hyperframe.exceptions import HyperframeError
from hyperframe.frame import Frame

from analyzer.model.codes.h2 import H2_FRAME_SIZE, H2_PROTOCOL_ERROR
from analyzer.model.common import Direction
from analyzer.protocols.h2.events import H2Anomaly

__all__ = ["DEFAULT_MAX_FRAME_SIZE", "FRAME_NAMES", "PREFACE", "FrameReader", "RawFrame", "looks_like_h2"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4
DEFAULT_MAX_FRAME_SIZE = 16384  # RFC 9113 §4.2, §6.5.2
FRAME_NAMES = {
    0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS", 5: "PUSH_PROMISE",
    6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION",
}  # fmt: skip
# RFC 9113 §6.3-§6.9: fixed payload lengths (a wrong one is FRAME_SIZE_ERROR)
_FIXED = {2: 5, 3: 4, 6: 8, 8: 4}


@dataclass(frozen=True, slots=True)
class RawFrame:
    type: int
    flags: int
    stream_id: int
    length: int
    start: int  # offset of its first header byte
    end: int  # one past its last byte
    frame: Frame | None  # None: the header or payload did not parse (an anomaly says why)


def _size_rule(ftype: int, flags: int, length: int) -> str | None:
    """RFC 9113 §6.3-§6.9: the frame's length is wrong for its type."""
    fixed = _FIXED.get(ftype)
    if fixed is not None and length != fixed:
        return f"{FRAME_NAMES[ftype]} frame of {length} bytes (must be {fixed})"
    if ftype == 4 and (flags & 1) and length:  # §6.5: an ACK is empty
        return f"SETTINGS ACK with {length} bytes of payload"
    if ftype == 4 and length % 6:
        return f"SETTINGS frame of {length} bytes (not a multiple of 6)"
    if ftype == 7 and length < 8:
        return f"GOAWAY frame of {length} bytes (at least 8)"
    return None


def looks_like_h2(from_client: bool, data: bytes) -> bool:
    """The first bytes of a cleartext direction: the client's preface (RFC 9113 §3.3), or a
    server that speaks first with its SETTINGS frame (§3.4: type 4 on stream 0, a multiple of 6)."""
    if from_client:
        return len(data) >= 4 and data[:24] == PREFACE[: len(data)]
    return (
        len(data) >= 9
        and data[3] == 4
        and data[4] in (0, 1)
        and data[5:9] == b"\0\0\0\0"
        and int.from_bytes(data[:3], "big") % 6 == 0
        and int.from_bytes(data[:3], "big") <= 16384
    )


class FrameReader:
    """Frames of one direction, in stream order."""

    def __init__(self, direction: Direction, *, preface: bool = False, at: int = 0) -> None:
        self.direction = direction
        self.max_frame_size = DEFAULT_MAX_FRAME_SIZE  # the receiver's setting, once acknowledged
        self.dead = False  # framing lost (bad preface, gap): nothing more is read
        self._need_preface = preface
        self._buf = bytearray()
        self._pos = at  # stream offset of _buf[0]
        self._skip = 0  # bytes of an oversized frame still to skip

    def _anomaly(self, code: str, message: str, offset: int) -> H2Anomaly:
        return H2Anomaly(self.direction, code, message, offset)

    def feed(self, data: bytes) -> list[RawFrame | H2Anomaly]:
        if self.dead:
            self._pos += len(data)
            return []
        out: list[RawFrame | H2Anomaly] = []
        if self._skip:
            n = min(self._skip, len(data))
            self._skip -= n
            self._pos += n
            data = data[n:]
        self._buf += data
        if self._need_preface:
            if len(self._buf) < len(PREFACE) and PREFACE.startswith(bytes(self._buf)):
                return out
            if not self._buf.startswith(PREFACE):
                # RFC 9113 §3.4: the client's first bytes are the preface, or this is not HTTP/2
                out.append(
                    self._anomaly(H2_PROTOCOL_ERROR, "the client did not send the HTTP/2 preface", self._pos)
                )
                self.dead = True
                self._pos += len(self._buf)
                self._buf = bytearray()
                return out
            self._need_preface = False
            del self._buf[: len(PREFACE)]
            self._pos += len(PREFACE)
        self._frames(out)
        return out

    def _frames(self, out: list[RawFrame | H2Anomaly]) -> None:
        buf = self._buf
        i = 0
        while len(buf) - i >= 9:
            length = int.from_bytes(buf[i : i + 3], "big")
            ftype, flags = buf[i + 3], buf[i + 4]
            sid = int.from_bytes(buf[i + 5 : i + 9], "big") & 0x7FFFFFFF  # §4.1: R ignored
            start = self._pos + i
            if length > self.max_frame_size:
                out.append(
                    self._anomaly(
                        H2_FRAME_SIZE,
                        f"{FRAME_NAMES.get(ftype, f'type {ftype}')} frame of {length} bytes, over the"
                        f" receiver's SETTINGS_MAX_FRAME_SIZE {self.max_frame_size}",
                        start,
                    )
                )
                have = min(len(buf) - i - 9, length)
                self._skip = length - have
                i += 9 + have
                out.append(RawFrame(ftype, flags, sid, length, start, start + 9 + length, None))
                continue
            if len(buf) - i - 9 < length:
                break
            out.extend(self._parse(bytes(buf[i : i + 9]), bytes(buf[i + 9 : i + 9 + length]), start))
            i += 9 + length
        del buf[:i]
        self._pos += i

    def _parse(self, header: bytes, payload: bytes, start: int) -> list[RawFrame | H2Anomaly]:
        """The frame, parsed; when it does not parse, the reason and the frame without its body."""
        length = len(payload)
        ftype, flags = header[3], header[4]
        sid = int.from_bytes(header[5:9], "big") & 0x7FFFFFFF
        end = start + 9 + length
        failed = RawFrame(ftype, flags, sid, length, start, end, None)
        bad = _size_rule(ftype, flags, length)
        if bad is not None:
            return [self._anomaly(H2_FRAME_SIZE, bad, start), failed]
        try:
            frame, _ = Frame.parse_frame_header(memoryview(header), strict=False)
            frame.parse_body(memoryview(payload))
        except HyperframeError as exc:  # stream 0 rules, padding, WINDOW_UPDATE of 0 (§6.1-§6.10)
            name = FRAME_NAMES.get(ftype, f"type {ftype}")
            return [self._anomaly(H2_PROTOCOL_ERROR, f"{name} frame on stream {sid}: {exc}", start), failed]
        except (ValueError, IndexError, OverflowError) as exc:  # hostile bytes: never raise
            return [self._anomaly(H2_PROTOCOL_ERROR, f"frame that does not parse: {exc}", start), failed]
        return [RawFrame(ftype, flags, sid, length, start, end, frame)]

    def rebase(self, at: int) -> None:
        """Nothing fed yet: the direction's first byte is at offset `at` (after an h2c Upgrade)."""
        if not self._buf and not self._skip:
            self._pos = at

    def lose(self, length: int) -> None:
        """`length` bytes lost: the framing cannot be found again (RFC 9113 has no resync point)."""
        self.dead = True
        self._pos += len(self._buf) + length
        self._buf = bytearray()

    @property
    def pos(self) -> int:
        """Stream offset just past the bytes fed so far."""
        return self._pos + len(self._buf)
