"""The link layers in front of an IP header, walked one header at a time (off the hot path).

Plain Ethernet, Linux cooked, loopback and raw IP are decoded inline by `PacketDecoder.decode`;
everything else comes here: VLAN tags (802.1Q, 802.1ad QinQ), MPLS label stacks, PPPoE
sessions, PPP (with or without HDLC-like framing), Cisco HDLC, IEEE 802.11 data frames behind
radiotap, PPI, AVS or Prism headers, Apple PKTAP and Linux NFLOG. A `Walk` carries the packet,
where its meaningful bytes end (trailers and FCS cut off), the names of the headers passed
(`path`), the process a PKTAP header names, and, when the walk stops short of an IP header,
why. Every length field is checked against the bytes at hand and the number of headers
walked is bounded (MAX_STEPS), so hostile headers end the walk, never an exception.
"""

from __future__ import annotations

from analyzer.decode import wifi
from analyzer.decode.walk import (
    BE16,
    BE32,
    DLT,
    ETHER,
    ETYPE,
    HDLC,
    IP,
    LE32,
    LLC,
    MALFORMED,
    MAX_STEPS,
    MPLS,
    NOT_IP,
    PPP,
    STOP,
    UNDECODED,
    WIFI,
    Next,
    Walk,
    linktype_text,
)

__all__ = ["LINK_TYPES", "walk"]

_RAW_IP = frozenset((12, 14, 101, 228, 229))  # LINKTYPE_RAW and the DLT_RAW numbers of some systems
_AF_INET6 = frozenset((10, 24, 28, 30))  # AF_INET6 of Linux, BSDs, FreeBSD, macOS
# the link types walked here (tcpdump.org LINKTYPE_ values; 149 is PKTAP as Apple wrote it)
LINK_TYPES = frozenset(
    (0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 119, 127, 149, 163, 192, 228, 229, 239, 258, 276)
)


def walk(w: Walk, kind: int, value: int, off: int) -> int:
    """Walk from a header of `kind` at `off` to an IP header: its offset, or -1 (`w.stop` says why)."""
    while kind != STOP:
        if w.steps >= MAX_STEPS:
            w.halt(UNDECODED, f"more than {MAX_STEPS} nested headers")
            return -1
        w.steps += 1
        if kind == IP:
            if off < w.end and w.data[off] >> 4 in (4, 6):
                return off
            w.halt(MALFORMED, "the header in front says IP, the version nibble does not")
            return -1
        kind, value, off = _STEP[kind](w, value, off)
    return -1


def _ether(w: Walk, _v: int, off: int) -> Next:
    """IEEE 802.3 / Ethernet II: destination, source, then a type (>= 0x0600) or a length."""
    if w.end - off < 14:
        return w.halt(MALFORMED, "Ethernet header shorter than 14 bytes")
    w.add("ethernet")
    etype = BE16(w.data, off + 12)[0]
    if etype <= 1500:  # IEEE 802.3 length field: an LLC header follows (IEEE 802.3 §3.2.6)
        w.end = min(w.end, off + 14 + etype)
        return LLC, 0, off + 14
    return ETYPE, etype, off + 14


def _etype(w: Walk, etype: int, off: int) -> Next:
    data, end = w.data, w.end
    if etype in (0x0800, 0x86DD):
        return IP, 0, off
    if etype in (0x8100, 0x88A8, 0x9100):  # IEEE 802.1Q tag; 802.1ad S-tag (QinQ); pre-standard QinQ
        if end - off < 4:
            return w.halt(MALFORMED, "VLAN tag cut short")
        w.add("vlan" if etype == 0x8100 else "qinq")
        return ETYPE, BE16(data, off + 2)[0], off + 4
    if etype in (0x8847, 0x8848):  # MPLS unicast / multicast (RFC 3032 §5)
        return MPLS, 0, off
    if etype == 0x8864:  # PPPoE session stage (RFC 2516 §4, §5.5)
        if end - off < 8:
            return w.halt(MALFORMED, "PPPoE header cut short")
        if data[off] != 0x11 or data[off + 1] != 0:
            return w.halt(UNDECODED, f"PPPoE version/type 0x{data[off]:02x} code 0x{data[off + 1]:02x}")
        w.add("pppoe")
        w.end = min(end, off + 6 + BE16(data, off + 4)[0])  # LENGTH: the PPP payload (§4)
        return PPP, 0, off + 6
    if etype == 0x6558:  # transparent Ethernet bridging (GRE, Geneve: RFC 1701 §3, RFC 8926 §3.4)
        return ETHER, 0, off
    if etype == 0x880B:  # PPP (GRE of PPTP, RFC 2637 §4.1)
        return HDLC, 9, off
    return w.halt(NOT_IP, "")


def _llc(w: Walk, _v: int, off: int) -> Next:
    """IEEE 802.2 LLC; with SNAP (DSAP = SSAP = 0xAA, UI) the EtherType follows (RFC 1042)."""
    data = w.data
    if w.end - off < 3:
        return w.halt(MALFORMED, "LLC header cut short")
    if data[off] != 0xAA or data[off + 1] != 0xAA or data[off + 2] != 0x03:
        return w.halt(NOT_IP, "")  # e.g. spanning tree: not IP
    if w.end - off < 8:
        return w.halt(MALFORMED, "SNAP header cut short")
    w.add("llc")
    oui = data[off + 3 : off + 6]
    if oui not in (b"\0\0\0", b"\0\0\xf8"):  # RFC 1042 and 802.1H bridge tunnel encapsulation
        return w.halt(UNDECODED, f"LLC/SNAP with organization code {oui.hex()}")
    return ETYPE, BE16(data, off + 6)[0], off + 8


def _ppp(w: Walk, _v: int, off: int) -> Next:
    """A PPP protocol field, one byte when compressed (RFC 1661 §2, §6.5: the low bit ends it)."""
    data = w.data
    if off >= w.end:
        return w.halt(MALFORMED, "PPP header cut short")
    if data[off] & 1:
        proto, off = data[off], off + 1
    elif w.end - off < 2:
        return w.halt(MALFORMED, "PPP protocol field cut short")
    else:
        proto, off = BE16(data, off)[0], off + 2
    if "ppp" not in w.path[-1:]:
        w.add("ppp")
    if proto in (0x21, 0x57):  # IPv4 (RFC 1332), IPv6 (RFC 5072)
        return IP, 0, off
    if proto in (0x281, 0x283):  # MPLS (RFC 3032 §4.3)
        return MPLS, 0, off
    if proto in (0x2D, 0x2F):
        return w.halt(UNDECODED, "PPP Van Jacobson compressed TCP/IP (RFC 1144)")
    if proto in (0xFD, 0xFB, 0x3D):
        return w.halt(UNDECODED, f"PPP compressed or multilink datagrams (protocol 0x{proto:04x})")
    return w.halt(NOT_IP, "")  # LCP, IPCP, ...


def _hdlc(w: Walk, lt: int, off: int) -> Next:
    """PPP in HDLC-like framing (RFC 1662 §3.1: address 0xFF, control 0x03, both may be left out
    when negotiated, RFC 1661 §6.6) or Cisco HDLC (address 0x0F/0x8F, control 0, an EtherType)."""
    data, end = w.data, w.end
    if end - off >= 2 and data[off] == 0xFF and data[off + 1] == 0x03:
        w.add("ppp")
        return PPP, 0, off + 2
    if lt in (50, 104) and end - off >= 1 and data[off] in (0x0F, 0x8F):
        if end - off < 4:
            return w.halt(MALFORMED, "Cisco HDLC header cut short")
        w.add("cisco-hdlc")
        return ETYPE, BE16(data, off + 2)[0], off + 4
    if lt == 104:
        return w.halt(UNDECODED, f"Cisco HDLC address 0x{data[off]:02x}" if off < end else "empty frame")
    w.add("ppp")
    return PPP, 0, off


def _mpls(w: Walk, _v: int, off: int) -> Next:
    """An MPLS label stack (RFC 3032 §2.1), then IP, or an Ethernet pseudowire behind its
    control word (first nibble 0, RFC 4385 §3, RFC 4448 §3)."""
    data, end = w.data, w.end
    w.add("mpls")
    while True:
        if end - off < 4:
            return w.halt(MALFORMED, "MPLS label stack cut short")
        bottom = data[off + 2] & 1
        off += 4
        if bottom:
            break
        w.steps += 1
        if w.steps >= MAX_STEPS:
            return w.halt(UNDECODED, f"more than {MAX_STEPS} nested headers")
    if off >= end:
        return w.halt(MALFORMED, "MPLS payload missing")
    nibble = data[off] >> 4
    if nibble in (4, 6):
        return IP, 0, off
    if nibble == 0 and end - off >= 4:
        w.add("pw")
        return ETHER, 0, off + 4
    return w.halt(UNDECODED, "MPLS payload that is neither IP nor an Ethernet pseudowire")


def _dlt(w: Walk, lt: int, off: int) -> Next:
    """A whole frame of link type `lt` (tcpdump.org link-layer header types)."""
    data, end = w.data, w.end
    if lt == 1:
        return ETHER, 0, off
    if lt in _RAW_IP:
        w.add("raw")
        return IP, 0, off
    if lt in (0, 108):  # BSD loopback: AF_ value, host order (NULL) or network order (LOOP)
        if end - off < 4:
            return w.halt(MALFORMED, "loopback header shorter than 4 bytes")
        w.add("null" if lt == 0 else "loop")
        fam = BE32(data, off)[0] if lt == 108 else LE32(data, off)[0]
        if fam > 0xFFFF and lt == 0:
            fam = BE32(data, off)[0]
        return (IP, 0, off + 4) if fam == 2 or fam in _AF_INET6 else w.halt(NOT_IP, "")
    if lt == 113:  # Linux cooked v1: protocol type at 14
        if end - off < 16:
            return w.halt(MALFORMED, "Linux SLL header shorter than 16 bytes")
        w.add("linux-sll")
        return ETYPE, BE16(data, off + 14)[0], off + 16
    if lt == 276:  # Linux cooked v2: protocol type at 0
        if end - off < 20:
            return w.halt(MALFORMED, "Linux SLL2 header shorter than 20 bytes")
        w.add("linux-sll2")
        return ETYPE, BE16(data, off)[0], off + 20
    if lt in (9, 50, 104):  # PPP, PPP in HDLC-like framing, Cisco HDLC
        return HDLC, lt, off
    handler = _RADIO.get(lt)
    if handler is not None:
        return handler(w, lt, off)
    return w.halt(UNDECODED, f"link type {linktype_text(lt)}")


_RADIO = {
    105: wifi.bare,
    127: wifi.radiotap,
    192: wifi.ppi,
    163: wifi.avs,
    119: wifi.prism,
    149: wifi.pktap,
    258: wifi.pktap,
    239: wifi.nflog,
}
_STEP = {
    ETHER: _ether,
    ETYPE: _etype,
    LLC: _llc,
    PPP: _ppp,
    HDLC: _hdlc,
    MPLS: _mpls,
    DLT: _dlt,
    WIFI: wifi.frame,
}
