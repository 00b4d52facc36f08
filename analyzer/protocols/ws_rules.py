"""The rules one WebSocket frame header must keep by itself (RFC 6455 §5.1-§5.5, RFC 7692 §6.1),
checked by the decoder (analyzer/protocols/ws_decoder.py) when a frame begins, sans-IO."""

from __future__ import annotations

from analyzer.model.codes import websocket as codes
from analyzer.model.common import ParserAnomaly
from analyzer.protocols.ws_frame import KNOWN_OPCODES, LENGTH_FORMS

__all__ = ["header_rules"]


def header_rules(
    start: int,
    b0: int,
    masked: bool,
    client: bool,
    plen: int,
    form: int,
    minimal: bool,
    allowed_rsv: int,
    deflate: bool,
) -> tuple[list[ParserAnomaly], bool]:
    """The anomalies of the header at stream offset `start`, and whether it starts a compressed
    message (`deflate`: permessage-deflate is in use, RSV1 marks compressed messages)."""
    anoms: list[ParserAnomaly] = []
    fin = b0 & 0x80
    op = b0 & 0x0F
    rsv = b0 & 0x70
    control = op >= 8
    # §5.1: the client masks every frame, the server none.
    if client and not masked:
        anoms.append(ParserAnomaly(codes.CLIENT_FRAME_UNMASKED, "client frame without MASK", start))
    elif not client and masked:
        anoms.append(ParserAnomaly(codes.SERVER_FRAME_MASKED, "server frame with MASK", start))
    if not minimal:
        # §5.2: "the minimal number of bytes MUST be used to encode the length".
        why = f"payload length {plen} sent in the {LENGTH_FORMS[form]} form"
        anoms.append(ParserAnomaly(codes.NON_MINIMAL_LENGTH, why, start))
    if op not in KNOWN_OPCODES:
        # §5.2: opcodes 3-7 and 11-15 are reserved.
        anoms.append(ParserAnomaly(codes.RESERVED_OPCODE, f"reserved opcode {op}", start))
    if control:
        # §5.5: control frames have at most 125 bytes of payload and are not fragmented.
        if plen > 125:
            anoms.append(ParserAnomaly(codes.CONTROL_FRAME_TOO_LONG, f"control frame of {plen} bytes", start))
        if not fin:
            anoms.append(ParserAnomaly(codes.CONTROL_FRAME_FRAGMENTED, "control frame with FIN = 0", start))
    compressed = False
    if rsv:
        bad = rsv & ~allowed_rsv
        if bad:
            # RFC 6455 §5.2 (and RFC 7692 §6: permessage-deflate defines RSV1 only).
            names = "/".join(n for bit, n in ((0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3")) if bad & bit)
            why = f"{names} set with no extension defining it"
            anoms.append(ParserAnomaly(codes.RSV_WITHOUT_EXTENSION, why, start))
        if rsv & 0x40 and deflate:
            # RFC 7692 §6.1: RSV1 marks the first frame of a compressed message only.
            if op == 0:
                anoms.append(ParserAnomaly(codes.RSV1_ON_CONTINUATION, "RSV1 on a continuation frame", start))
            elif control:
                anoms.append(ParserAnomaly(codes.RSV1_ON_CONTROL, "RSV1 on a control frame", start))
            elif op in (1, 2):
                compressed = True
    return anoms, compressed
