"""The state of a walk through a packet's link headers (analyzer/decode/link.py, wifi.py,
tunnel.py): what the next header is, the names of the headers passed, and why a walk stopped."""

from __future__ import annotations

import struct

from analyzer.capture.pcapfile import LINKTYPE_NAMES

__all__ = [
    "BE16",
    "BE32",
    "DLT",
    "ETHER",
    "ETYPE",
    "HDLC",
    "IP",
    "LE16",
    "LE32",
    "LLC",
    "MALFORMED",
    "MAX_AMSDU",
    "MAX_STEPS",
    "MPLS",
    "NOT_IP",
    "NOT_TCP",
    "PPP",
    "STOP",
    "UNDECODED",
    "WIFI",
    "Next",
    "Walk",
    "linktype_text",
]

# what the next header is (the walk's state): a kind and, for ETYPE and DLT, a number
STOP, IP, ETHER, ETYPE, LLC, PPP, HDLC, MPLS, DLT, WIFI = range(-1, 9)
MAX_STEPS = 24  # headers walked in one packet (VLAN tags and MPLS labels count one each)
MAX_AMSDU = 64  # A-MSDU subframes decoded in one 802.11 frame
NOT_IP, NOT_TCP, UNDECODED, MALFORMED = "non-ip", "non-tcp", "undecoded", "malformed"

LE16 = struct.Struct("<H").unpack_from
LE32 = struct.Struct("<I").unpack_from
BE16 = struct.Struct(">H").unpack_from
BE32 = struct.Struct(">I").unpack_from
Next = tuple[int, int, int]  # kind, value, offset


def linktype_text(lt: int) -> str:
    """`147 (USER0)`: a link type's number and its tcpdump.org name."""
    return f"{lt} ({LINKTYPE_NAMES.get(lt, 'unknown')})"


class Walk:
    """One packet's walk through its link headers."""

    __slots__ = ("data", "datapad", "end", "fcs", "more", "more_path", "path", "process", "steps", "stop")

    def __init__(self, data: bytes, end: int, path: tuple[str, ...] = ()) -> None:
        self.data = data
        self.end = end  # the meaningful bytes end here (FCS and trailers cut off)
        self.path = path  # headers passed, outermost first
        self.process: tuple[str, int] | None = None  # PKTAP: the process that sent or received it
        self.stop: tuple[str, str] | None = None  # (NOT_IP | UNDECODED | MALFORMED, why)
        self.steps = 0
        self.fcs = False  # the radio header says the 802.11 frame ends with its FCS
        self.datapad = False  # radiotap: padding between the 802.11 header and its body
        self.more: list[tuple[int, int]] = []  # further A-MSDU subframes: (LLC offset, end)
        self.more_path: tuple[str, ...] = ()  # the headers in front of those subframes

    def halt(self, how: str, why: str) -> Next:
        self.stop = (how, why)
        return STOP, 0, 0

    def add(self, name: str) -> None:
        self.path = (*self.path, name)
