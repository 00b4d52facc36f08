"""Tunnels inside an IP packet: IP in IP, GRE (with ERSPAN types I to III and PPTP's enhanced
GRE), MPLS in IP, and over UDP VXLAN, Geneve and GTP-U. `decap` names the header the tunnel
carries, for `analyzer.decode.link.walk` to go on from."""

from __future__ import annotations

from analyzer.decode.walk import (
    BE16,
    ETHER,
    ETYPE,
    HDLC,
    IP,
    MALFORMED,
    MAX_STEPS,
    MPLS,
    NOT_TCP,
    UNDECODED,
    Next,
    Walk,
)

__all__ = ["TUNNEL_PROTOCOLS", "UDP_TUNNEL_PORTS", "decap"]

# IP protocol numbers (IANA) that carry a tunnel: IPv4 (RFC 2003), IPv6 (RFC 2473), GRE
# (RFC 2784), MPLS (RFC 4023); UDP for the ports below
TUNNEL_PROTOCOLS = frozenset((4, 41, 47, 137, 17))
VXLAN, GENEVE, GTP_U = 4789, 6081, 2152  # IANA ports: RFC 7348 §5, RFC 8926 §3.3, 3GPP TS 29.281 §4.4.2
UDP_TUNNEL_PORTS = frozenset((VXLAN, GENEVE, GTP_U))


def decap(w: Walk, proto: int, off: int) -> Next:
    """The header inside the IP payload at `off` (IP protocol `proto`), or a stop."""
    if proto in (4, 41):
        return IP, 0, off
    if proto == 137:
        return MPLS, 0, off
    if proto == 47:
        return _gre(w, off)
    return _udp(w, off)


def _gre(w: Walk, off: int) -> Next:
    """GRE (RFC 2784 §2, key and sequence number RFC 2890 §2; version 1: PPTP, RFC 2637 §4.1)."""
    data, end = w.data, w.end
    if end - off < 4:
        return w.halt(MALFORMED, "GRE header cut short")
    flags, ptype = BE16(data, off)[0], BE16(data, off + 2)[0]
    version = flags & 7
    w.add("gre")
    if version == 0:
        if flags & 0x4000:  # Routing Present (RFC 1701 §2.1): deprecated by RFC 2784
            return w.halt(UNDECODED, "GRE with source routing (RFC 1701)")
        hl = 4 + 4 * (bool(flags & 0x8000) + bool(flags & 0x2000) + bool(flags & 0x1000))
    elif version == 1:  # Key present always, Sequence and Acknowledgment number optional
        hl = 8 + 4 * (bool(flags & 0x1000) + bool(flags & 0x0080))
    else:
        return w.halt(UNDECODED, f"GRE version {version}")
    if end - off < hl:
        return w.halt(MALFORMED, "GRE header cut short")
    p = off + hl
    if ptype == 0x88BE:
        # ERSPAN: type I has no header and no sequence number; type II an 8-byte header, version 1
        if not flags & 0x1000:
            w.add("erspan")
            return ETHER, 0, p
        return _erspan(w, p, 8, 1)
    if ptype == 0x22EB:  # ERSPAN type III: 12-byte header, version 2
        return _erspan(w, p, 12, 2)
    if ptype == 0x880B and version == 1:
        return HDLC, 9, p
    if ptype in (0x0800, 0x86DD, 0x6558, 0x8847, 0x8848, 0x8100, 0x88A8):
        return ETYPE, ptype, p
    return w.halt(UNDECODED, f"GRE carrying protocol 0x{ptype:04x}")


def _erspan(w: Walk, p: int, hl: int, version: int) -> Next:
    """ERSPAN type II and III headers (draft-foschiano-erspan-03 §4.2, §4.3): version in the top
    nibble; type III: frame type (0: Ethernet, 2: IP) and the optional 8-byte platform subheader."""
    data, end = w.data, w.end
    if end - p < hl:
        return w.halt(MALFORMED, "ERSPAN header cut short")
    w.add("erspan")
    if data[p] >> 4 != version:
        return w.halt(UNDECODED, f"ERSPAN version {data[p] >> 4}")
    if version == 1:
        return ETHER, 0, p + hl
    frame_type = (data[p + 10] >> 2) & 0x1F
    if data[p + 11] & 1:  # O: the platform-specific subheader follows
        hl += 8
        if end - p < hl:
            return w.halt(MALFORMED, "ERSPAN platform subheader cut short")
    if frame_type == 0:
        return ETHER, 0, p + hl
    if frame_type == 2:
        return IP, 0, p + hl
    return w.halt(UNDECODED, f"ERSPAN frame type {frame_type}")


def _udp(w: Walk, off: int) -> Next:
    """UDP (RFC 768): the tunnels known by their destination port, else their source port."""
    data, end = w.data, w.end
    if end - off < 8:
        return w.halt(MALFORMED, "UDP header cut short")
    sport, dport, length = BE16(data, off)[0], BE16(data, off + 2)[0], BE16(data, off + 4)[0]
    port = dport if dport in UDP_TUNNEL_PORTS else sport
    if length >= 8:
        w.end = end = min(end, off + length)
    p = off + 8
    if port == VXLAN:  # RFC 7348 §5: flags (I: a valid VNI), 24 reserved bits, VNI, 8 reserved
        if end - p < 8:
            return w.halt(MALFORMED, "VXLAN header cut short")
        w.add("vxlan")
        return ETHER, 0, p + 8
    if port == GENEVE:  # RFC 8926 §3.4: version, option length in 4-byte words, protocol type
        if end - p < 8:
            return w.halt(MALFORMED, "Geneve header cut short")
        w.add("geneve")
        if data[p] >> 6:
            return w.halt(UNDECODED, f"Geneve version {data[p] >> 6}")
        hl = 8 + (data[p] & 0x3F) * 4
        if end - p < hl:
            return w.halt(MALFORMED, "Geneve options run past the packet")
        return ETYPE, BE16(data, p + 2)[0], p + hl
    if port == GTP_U:
        return _gtpu(w, p)
    return w.halt(NOT_TCP, "")


def _gtpu(w: Walk, p: int) -> Next:
    """GTP-U (3GPP TS 29.281 §5.1, §5.2): version 1, PT 1; a G-PDU (type 255) carries the user's
    IP packet after the 8-byte header, the optional sequence/N-PDU/next-extension word and the
    extension headers (length in 4-byte units, next type in their last byte)."""
    data, end = w.data, w.end
    if end - p < 8:
        return w.halt(MALFORMED, "GTP-U header cut short")
    flags, mtype, length = data[p], data[p + 1], BE16(data, p + 2)[0]
    w.add("gtp-u")
    if flags >> 5 != 1 or not flags & 0x10:
        return w.halt(UNDECODED, f"GTP version {flags >> 5}")
    if mtype != 0xFF:  # echo, error indication, end marker: no user data
        return w.halt(NOT_TCP, "")
    w.end = end = min(end, p + 8 + length)
    hl = 8
    if flags & 0x07:  # E, S or PN: the optional fields are all there
        hl = 12
        if end - p < hl:
            return w.halt(MALFORMED, "GTP-U optional fields cut short")
        nxt = data[p + 11]
        count = 0
        while nxt:
            count += 1
            if end - p < hl + 1 or count > MAX_STEPS:
                return w.halt(MALFORMED, "GTP-U extension headers cut short")
            elen = data[p + hl] * 4
            if not elen or end - p < hl + elen:
                return w.halt(MALFORMED, "GTP-U extension header length is invalid")
            nxt = data[p + hl + elen - 1]
            hl += elen
    if end - p <= hl:
        return w.halt(NOT_TCP, "")
    return IP, 0, p + hl
