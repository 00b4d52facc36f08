"""Finding frame headers in a WebSocket stream whose framing was lost (RFC 6455 §5.2), sans-IO.

After lost bytes, or from the start of a stream decoded without its handshake, the decoder
(analyzer/protocols/ws_decoder.py) looks for the first offset where a plausible header starts:
a known opcode, RSV bits only as an extension allows them, FIN on control frames and at most
125 bytes of payload (§5.5), MASK as the sender must set it (§5.1), the minimal length form
(§5.2) no larger than the message bound, and not an empty continuation (zero padding imitates
one). One plausible header proves little inside compressed or binary payload, where any two
bytes may look like one, so the decoder locks only onto a chain: the candidate and the
RESYNC_CONFIRM - 1 headers that follow it, each where the previous frame ends, all plausible.
The chain must also be an order a sender may use (§5.4: no new message inside a fragmented
one). A frame longer than RESYNC_WINDOW is not waited for: what was seen up to it decides
(see `find`), and a chain that reaches the end of the stream is taken as it is.
"""

from __future__ import annotations

import functools
import re

from analyzer.protocols.ws_frame import KNOWN_OPCODES, U16, U64

__all__ = ["ACCEPT", "LONG", "REJECT", "RESYNC_CONFIRM", "RESYNC_WINDOW", "WAIT", "HeaderJudge"]

REJECT, ACCEPT, WAIT, LONG = range(4)
RESYNC_WINDOW = 1 << 16  # a candidate frame up to this size is confirmed by the headers after it
RESYNC_CONFIRM = 3  # plausible headers in a row before the decoder locks onto the first
LONG_CONFIRM = 6  # ... and to be preferred to a frame too long to confirm (see find)


@functools.lru_cache(maxsize=16)
def _plausible(
    client: bool, allowed_rsv: int, deflate: bool, zeros: int
) -> tuple[frozenset[int], re.Pattern[bytes]]:
    """First bytes a sane header can start with, and a regex matching the start of one.

    `search(buf, i)` finds the next candidate at or after i (no lookahead: a plain pattern lets
    `re` skip on its first-byte set at C speed). A 64-bit length must also start with `zeros`
    zero bytes (it is no larger than the sane bound), so that runs such as 82 7f 82 7f ... are
    skipped by `re` and not judged one by one in Python.
    """
    first: set[int] = set()
    for b0 in range(256):
        op, rsv, fin = b0 & 0x0F, b0 & 0x70, b0 & 0x80
        if op not in KNOWN_OPCODES or rsv & ~allowed_rsv:
            continue
        if op >= 8 and not fin:  # §5.5: control frames are not fragmented
            continue
        if deflate and rsv & 0x40 and op not in (1, 2):  # RFC 7692 §6.1
            continue
        first.add(b0)
    mask = 0x80 if client else 0x00  # §5.1

    def cls(values: list[int]) -> bytes:
        return b"[" + b"".join(re.escape(bytes([v])) for v in values) + b"]"

    cont_first = sorted(b for b in first if b & 0x0F == 0)
    data_first = sorted(b for b in first if 0 < b & 0x0F < 8)
    ctrl_first = sorted(b for b in first if b & 0x0F >= 8)
    short = list(range(mask, mask + 126))  # §5.2: a 7-bit length, 0..125
    # ... or 126 (a 16-bit length follows) or 127 (a 64-bit one, its high bytes zero: <= sane)
    longer = cls([mask + 126]) + b"|" + cls([mask + 127]) + re.escape(bytes(zeros))
    cont_second = b"(?:" + cls(short[1:]) + b"|" + longer + b")"  # no empty continuations
    data_second = b"(?:" + cls(short) + b"|" + longer + b")"
    ctrl_second = cls(short)  # §5.5: control payload <= 125
    pattern = (
        b"(?:"
        + cls(cont_first)
        + cont_second
        + b"|"
        + cls(data_first)
        + data_second
        + b"|"
        + cls(ctrl_first)
        + ctrl_second
        + b")"
    )
    return frozenset(first), re.compile(pattern, re.DOTALL)


class HeaderJudge:
    """Plausible headers of one sender (see the module docstring)."""

    __slots__ = ("cand", "client", "first_ok", "sane", "tail")

    def __init__(self, client: bool, allowed_rsv: int, deflate: bool, sane: int) -> None:
        self.client = client
        self.sane = sane  # the largest payload length taken as plausible
        zeros = max(0, 64 - sane.bit_length()) // 8  # high bytes of a 64-bit length <= sane
        self.first_ok, self.cand = _plausible(client, allowed_rsv, deflate, zeros)
        self.tail = 1 + zeros  # bytes at the end of a buffer that may start a header not matched yet

    def header_at(self, buf: bytearray, j: int) -> tuple[int, int] | int:
        """(header length, payload length) of a plausible header at j, or REJECT / WAIT."""
        n = len(buf)
        if n - j < 2:
            return WAIT
        b0 = buf[j]
        b1 = buf[j + 1]
        if b0 not in self.first_ok or bool(b1 & 0x80) != self.client:
            return REJECT
        len7 = b1 & 0x7F
        if b0 & 0x0F >= 8 and len7 > 125:
            return REJECT
        hlen = 2 if len7 < 126 else (4 if len7 == 126 else 10)
        if b1 & 0x80:
            hlen += 4
        if n - j < hlen:
            return WAIT
        if len7 < 126:
            plen = len7
        elif len7 == 126:
            plen = U16.unpack_from(buf, j + 2)[0]
            if plen < 126:
                return REJECT
        else:
            plen = U64.unpack_from(buf, j + 2)[0]
            if plen < 0x10000:
                return REJECT
        if plen > self.sane:
            return REJECT
        if plen == 0 and b0 & 0x0F == 0:
            # Empty continuations are legal but rare, and runs of zero bytes look just like them.
            return REJECT
        return hlen, plen

    def judge(self, buf: bytearray, j: int, final: bool, links: int = RESYNC_CONFIRM) -> int:
        """ACCEPT a header at j whose successors chain (`links` in a row, each where the previous
        frame ends, in an order a sender may use: §5.4, no new message inside a fragmented one,
        no continuation outside one), REJECT it, WAIT for more bytes, or LONG: its frame is too
        long to wait for the next header. `final`: no more bytes will come."""
        pos = j
        open_msg: bool | None = None  # a fragmented message is open (None: not known yet)
        for k in range(links):
            head = self.header_at(buf, pos)
            if isinstance(head, int):
                if k == 0:
                    return REJECT if final else head
                if head == WAIT and not final:
                    return WAIT
                if head == WAIT and (pos <= len(buf) or k >= RESYNC_CONFIRM - 1):
                    # the chain runs to the end of the stream; a frame past it (cut by the end of
                    # the capture) only after headers enough to believe in it
                    return ACCEPT
                return REJECT
            b0 = buf[pos]
            op, fin = b0 & 0x0F, b0 & 0x80
            if op in (1, 2):
                if open_msg:
                    return REJECT
                open_msg = not fin
            elif op == 0:
                if open_msg is False:
                    return REJECT
                open_msg = not fin
            hlen, plen = head
            if hlen + plen > RESYNC_WINDOW:
                return LONG if k == 0 else ACCEPT  # too long to wait for its successor
            pos += hlen + plen
        return ACCEPT

    def find(self, buf: bytearray, final: bool) -> tuple[int, int]:
        """(offset of the first header to lock onto, or -1; how many bytes at the start of `buf`
        can be dropped as judged: none of them starts one).

        A frame too long to see the header after it is only taken once no better chain (of
        LONG_CONFIRM headers) starts within RESYNC_WINDOW bytes after it: 126 or 127 in a
        length byte make any two bytes of random payload announce a long frame."""
        i = 0
        tentative = -1
        while True:
            m = self.cand.search(buf, i)
            if m is None or (tentative >= 0 and m.start() - tentative >= RESYNC_WINDOW):
                if tentative >= 0 and (final or len(buf) - tentative >= RESYNC_WINDOW):
                    return tentative, tentative
                if tentative >= 0:
                    return -1, tentative
                # Nothing starts in buf[i:] (its last `tail` bytes may still start a header).
                return -1, len(buf) if final else max(i, len(buf) - self.tail)
            j = m.start()
            verdict = self.judge(buf, j, final, RESYNC_CONFIRM if tentative < 0 else LONG_CONFIRM)
            if verdict == ACCEPT:
                return j, j
            if verdict == WAIT:
                return -1, tentative if tentative >= 0 else j
            if verdict == LONG and tentative < 0:
                tentative = j
            i = j + 1
