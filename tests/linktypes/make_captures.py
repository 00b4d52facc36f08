"""Write the link-type, tunnel and proxy test captures of this folder (README.md says how).

    python -m tests.linktypes.make_captures [--check]

Each capture re-wraps the IP packets of captures/sio-python-polling-upgrade.pcap (one Socket.IO
session, polling then WebSocket, recorded on loopback) in another link layer, tunnel or proxy,
header by header after the specification named beside each builder; one packet in, one packet
out, same timestamps, so that `socketscope analyze --events` must print the same events with
the same packet numbers. Some captures get a few packets more at their end (an encrypted Wi-Fi
frame, a beacon). Deterministic: running it again writes the same bytes (`--check` compares).
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SOURCE = ROOT / "captures" / "sio-python-polling-upgrade.pcap"
Packet = tuple[float, bytes]

MAC_CLIENT = bytes.fromhex("020000000001")
MAC_SERVER = bytes.fromhex("020000000002")
MAC_AP = bytes.fromhex("0200000000aa")
MAC_OUTER_A = bytes.fromhex("0200000000c1")
MAC_OUTER_B = bytes.fromhex("0200000000c2")
CLIENT_PORT = 39452


def source_ip_packets() -> list[Packet]:
    """The IP packets (Ethernet header removed) of the source capture, with their timestamps."""
    from analyzer.capture.pcapfile import open_capture

    return [(p.ts, p.data[14:]) for p in open_capture(str(SOURCE))]


def c2s(ip: bytes) -> bool:
    """Sent by the client (its port is the source port)."""
    ihl = (ip[0] & 0x0F) * 4
    return struct.unpack_from("!H", ip, ihl)[0] == CLIENT_PORT


# ----------------------------------------------------------------------------- files


def pcap(packets: list[Packet], linktype: int) -> bytes:
    """pcap (draft-ietf-opsawg-pcap §4, §5): `linktype` may carry the FCS bits in its top nibble."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for ts, data in packets:
        sec = int(ts)
        usec = round((ts - sec) * 1e6)
        out.append(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    return b"".join(out)


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def pcapng(packets: list[Packet], linktype: int, fcslen: int | None = None) -> bytes:
    """pcapng (draft-ietf-opsawg-pcapng §4.1-4.3); `fcslen`: the IDB's if_fcslen option (13)."""
    opts = b""
    if fcslen is not None:
        opts = struct.pack("<HH", 13, 1) + bytes([fcslen]) + b"\0\0\0" + struct.pack("<HH", 0, 0)
    out = [
        _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
        _block(1, struct.pack("<HHI", linktype, 0, 0) + opts),
    ]
    for ts, data in packets:
        t = round(ts * 1e6)
        out.append(_block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(data), len(data)) + data))
    return b"".join(out)


# ----------------------------------------------------------------------------- headers


def ether(ip: bytes, etype: int = 0x0800, src: bytes = MAC_CLIENT, dst: bytes = MAC_SERVER) -> bytes:
    return dst + src + struct.pack("!H", etype) + ip


def eth_for(ip: bytes, etype: int = 0x0800) -> bytes:
    return ether(ip, etype, *((MAC_CLIENT, MAC_SERVER) if c2s(ip) else (MAC_SERVER, MAC_CLIENT)))


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(payload: bytes, proto: int, src: str = "10.0.0.1", dst: str = "10.0.0.2", ident: int = 0) -> bytes:
    """An IPv4 header (RFC 791 §3.1) with its checksum."""
    import ipaddress

    hdr = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        ident & 0xFFFF,
        0x4000,
        64,
        proto,
        0,
        ipaddress.ip_address(src).packed,
        ipaddress.ip_address(dst).packed,
    )
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + payload


def ipv6(payload: bytes, nxt: int, src: str = "2001:db8::1", dst: str = "2001:db8::2") -> bytes:
    """An IPv6 header (RFC 8200 §3)."""
    import ipaddress

    return (
        struct.pack("!IHBB", 0x60000000, len(payload), nxt, 64)
        + ipaddress.ip_address(src).packed
        + ipaddress.ip_address(dst).packed
        + payload
    )


def outer_ipv4(ip: bytes, proto: int, payload: bytes, i: int) -> bytes:
    """The outer IPv4 header of a tunnel, addresses following the inner packet's direction."""
    a, b = ("10.0.0.1", "10.0.0.2") if c2s(ip) else ("10.0.0.2", "10.0.0.1")
    return ipv4(payload, proto, a, b, i)


def udp(payload: bytes, sport: int, dport: int) -> bytes:
    """UDP (RFC 768), checksum 0 (none, allowed over IPv4)."""
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


SNAP_IP = bytes.fromhex("aaaa03000000") + b"\x08\x00"  # LLC/SNAP, RFC 1042


def wifi_frame(ip: bytes, i: int, form: int | None = None) -> bytes:
    """An IEEE 802.11 data frame (802.11-2020 §9.3.2.1) carrying `ip` behind LLC/SNAP: by turns a
    plain data frame, a QoS data frame and a 4-address QoS data frame with an HT Control field."""
    up = c2s(ip)
    sta, srv = (MAC_CLIENT, MAC_SERVER) if up else (MAC_SERVER, MAC_CLIENT)
    seqctl = struct.pack("<H", (i << 4) & 0xFFF0)
    form = i % 3 if form is None else form
    if form == 0:  # Data, To DS (client to AP) or From DS (AP to client)
        addrs = (MAC_AP + sta + srv) if up else (srv + MAC_AP + sta)
        return bytes([0x08, 0x01 if up else 0x02]) + b"\0\0" + addrs + seqctl + SNAP_IP + ip
    if form == 1:  # QoS Data, QoS Control TID 5
        addrs = (MAC_AP + sta + srv) if up else (srv + MAC_AP + sta)
        return bytes([0x88, 0x01 if up else 0x02]) + b"\0\0" + addrs + seqctl + b"\x05\x00" + SNAP_IP + ip
    # QoS Data, To DS and From DS (4 addresses: a mesh or WDS link), Order bit: +HTC (§9.2.4.6)
    hdr = bytes([0x88, 0x83]) + b"\0\0" + MAC_AP + MAC_AP + srv + seqctl + sta
    return hdr + b"\x05\x00" + b"\0\0\0\0" + SNAP_IP + ip


def wifi_amsdu(ips: list[bytes], i: int) -> bytes:
    """A QoS data frame whose body is an A-MSDU (802.11-2020 §9.3.2.2.2) of the given packets."""
    up = c2s(ips[0])
    sta, srv = (MAC_CLIENT, MAC_SERVER) if up else (MAC_SERVER, MAC_CLIENT)
    addrs = (MAC_AP + sta + srv) if up else (srv + MAC_AP + sta)
    body = b""
    for k, ip in enumerate(ips):
        msdu = SNAP_IP + ip
        sub = srv + sta + struct.pack("!H", len(msdu)) + msdu
        if k < len(ips) - 1:
            sub += b"\0" * (-len(sub) % 4)
        body += sub
    seqctl = struct.pack("<H", (i << 4) & 0xFFF0)
    return bytes([0x88, 0x01 if up else 0x02]) + b"\0\0" + addrs + seqctl + b"\x85\x00" + body


def fcs(frame: bytes) -> bytes:
    """The frame followed by its FCS (CRC-32, IEEE 802.3 §3.2.9, little-endian on the wire)."""
    return frame + struct.pack("<I", zlib.crc32(frame))


def radiotap(frame: bytes) -> bytes:
    """radiotap (radiotap.org): two present words (Ext), TSFT (8-byte aligned) and Flags with
    0x10: the frame ends with its FCS."""
    present = struct.pack("<II", 0x80000003, 0)
    hdr = b"\0\0" + b"\0\0" + present + struct.pack("<Q", 1234567) + b"\x10"
    hdr = hdr[:2] + struct.pack("<H", len(hdr)) + hdr[4:]
    return hdr + fcs(frame)


def ppi(frame: bytes) -> bytes:
    """PPI 1.0.10: header (version 0, flags 0, length, DLT 105) and an 802.11-Common field
    (type 2, 20 bytes) whose flags say the frame ends with its FCS (0x0001)."""
    common = struct.pack("<QHHHHBBbb", 1234567, 0x0001, 108, 2437, 0x00A0, 0, 0, -40, -90)
    field = struct.pack("<HH", 2, len(common)) + common
    return struct.pack("<BBHI", 0, 0, 8 + len(field), 105) + field + fcs(frame)


def avs(frame: bytes) -> bytes:
    """The AVS (wlan-ng) capture header, version 1, 64 bytes, big-endian."""
    hdr = struct.pack(">IIQQIIIIIIiiII", 0x80211001, 64, 0, 0, 4, 6, 110, 0, 0, 2, -40, -90, 0, 0)
    return hdr + frame


def prism(frame: bytes) -> bytes:
    """The Prism monitor header: message code, length 144, device name, ten DID items."""
    dids = b"".join(struct.pack("<IHHI", 0x41 + k, 0, 4, 0) for k in range(10))
    return struct.pack("<II", 0x41, 144) + b"wlan0".ljust(16, b"\0") + dids + frame


def pktap(inner: bytes, dlt: int) -> bytes:
    """Apple's PKTAP header (xnu bsd/net/pktap.h), 156 bytes, little-endian: PID 4242 and its
    command name, as macOS `tcpdump -k` records them."""
    name = b"python3.11".ljust(20, b"\0")
    hdr = struct.pack("<III", 156, 1, dlt) + b"en0".ljust(24, b"\0")
    hdr += struct.pack("<IIIIi", 0, 2, 14 if dlt == 1 else 4, 0, 4242) + name
    hdr += struct.pack("<IHHi", 0, 6, 0, 4242) + name
    return hdr.ljust(156, b"\0") + inner


def nflog(ip: bytes) -> bytes:
    """Linux NFLOG: family AF_INET, version 0, resource id 7 (big-endian), then TLVs in the
    capturing host's (little-endian) order: NFULA_PACKET_HDR, NFULA_PREFIX, NFULA_PAYLOAD."""

    def tlv(t: int, v: bytes) -> bytes:
        return struct.pack("<HH", 4 + len(v), t) + v + b"\0" * (-(4 + len(v)) % 4)

    return b"\x02\x00\x00\x07" + tlv(1, b"\x08\x00\x01\x00") + tlv(10, b"socketscope\0") + tlv(9, ip)


def ether_fcs(ip: bytes) -> bytes:
    """An Ethernet frame padded to the 60-byte minimum, then its FCS (IEEE 802.3 §3.2.9)."""
    frame = eth_for(ip)
    return fcs(frame + b"\0" * max(0, 60 - len(frame)))


def vlan_tags(ip: bytes) -> bytes:
    """IEEE 802.1ad S-tag (0x88A8, VLAN 100) then 802.1Q C-tag (0x8100, VLAN 200): QinQ."""
    return eth_for(struct.pack("!HHH", 100, 0x8100, 200) + struct.pack("!H", 0x0800) + ip, 0x88A8)


def mpls(ip: bytes) -> bytes:
    """Two MPLS labels (RFC 3032 §2.1), the second bottom of stack, then IPv4."""
    return eth_for(struct.pack("!II", (100 << 12) | 64, (200 << 12) | 0x100 | 64) + ip, 0x8847)


def pppoe(ip: bytes) -> bytes:
    """PPPoE session stage (RFC 2516 §5.5): version/type 0x11, code 0, session 0x0042, PPP IPv4."""
    ppp = b"\x00\x21" + ip
    return eth_for(struct.pack("!BBHH", 0x11, 0, 0x42, len(ppp)) + ppp, 0x8864)


def vxlan(ip: bytes, i: int) -> bytes:
    """VXLAN (RFC 7348 §5): flags I, VNI 42, then the inner Ethernet frame, over UDP 4789."""
    inner = eth_for(ip)
    return eth_for(
        outer_ipv4(ip, 17, udp(struct.pack("!II", 0x08000000, 42 << 8) + inner, 49152 + i % 64, 4789), i)
    )


def geneve(ip: bytes, i: int) -> bytes:
    """Geneve (RFC 8926 §3.4): one 4-byte option (option length 2 words), protocol 0x6558."""
    option = struct.pack("!HBB", 0x0102, 0x80, 1) + b"\x01\x02\x03\x04"
    hdr = struct.pack("!BBHI", len(option) // 4, 0, 0x6558, 42 << 8) + option
    return eth_for(outer_ipv4(ip, 17, udp(hdr + eth_for(ip), 49152 + i % 64, 6081), i))


def gre(ip: bytes, i: int) -> bytes:
    """GRE (RFC 2784, RFC 2890): Key and Sequence Number present, protocol IPv4."""
    return eth_for(outer_ipv4(ip, 47, struct.pack("!HHII", 0x3000, 0x0800, 1234, i) + ip, i))


def erspan(ip: bytes, i: int, version: int) -> bytes:
    """ERSPAN in GRE (draft-foschiano-erspan-03): type I (no header, no sequence number), type II
    (sequence number, 8-byte header, version 1, session 7), type III (12-byte header, version 2,
    frame type Ethernet, with the optional 8-byte platform subheader)."""
    inner = eth_for(ip)
    if version == 1:
        body = struct.pack("!HH", 0, 0x88BE) + inner
    elif version == 2:
        body = struct.pack("!HHI", 0x1000, 0x88BE, i) + struct.pack("!HHI", 0x1000, 7, 0) + inner
    else:
        hdr3 = struct.pack("!HHIHBB", 0x2000, 7, i * 1000, 0, 0, 0x01)
        platform = struct.pack("!II", 3 << 26, 0)
        body = struct.pack("!HHI", 0x1000, 0x22EB, i) + hdr3 + platform + inner
    return eth_for(outer_ipv4(ip, 47, body, i))


def gtpu(ip: bytes, i: int) -> bytes:
    """GTP-U (3GPP TS 29.281 §5.1, §5.2): version 1, PT 1, E: the optional fields and a PDU
    Session Container extension header (type 0x85, TS 38.415), then the user's IP packet."""
    ext = b"\x01\x10\x09\x00"  # length 1 (4 bytes), PDU type UL, QFI 9, no next extension
    rest = struct.pack("!HBB", i, 0, 0x85) + ext + ip
    hdr = struct.pack("!BBHI", 0x34, 0xFF, len(rest), 0x1234)
    return eth_for(outer_ipv4(ip, 17, udp(hdr + rest, 2152, 2152), i))


def ipip(ip: bytes, i: int) -> bytes:
    """IPv4 in IPv4 (RFC 2003)."""
    return eth_for(outer_ipv4(ip, 4, ip, i))


def ip4in6(ip: bytes, i: int) -> bytes:
    """IPv4 in IPv6 (RFC 2473: next header 4)."""
    a, b = ("2001:db8::1", "2001:db8::2") if c2s(ip) else ("2001:db8::2", "2001:db8::1")
    return eth_for(ipv6(ip, 4, a, b), 0x86DD)


def as_ipv6(ip: bytes) -> bytes:
    """The same TCP segment over IPv6 (checksum recomputed): for IPv6 inside IPv4."""
    ihl = (ip[0] & 0x0F) * 4
    src, dst = ("fd00::1", "fd00::2") if c2s(ip) else ("fd00::2", "fd00::1")
    tcp = bytearray(ip[ihl : struct.unpack_from("!H", ip, 2)[0]])
    tcp[16:18] = b"\0\0"
    import ipaddress

    pseudo = ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
    pseudo += struct.pack("!IxxxB", len(tcp), 6)
    tcp[16:18] = struct.pack("!H", checksum(pseudo + bytes(tcp)))
    return ipv6(bytes(tcp), 6, src, dst)


def sixin4(ip: bytes, i: int) -> bytes:
    """IPv6 in IPv4 (RFC 4213 §3.5: protocol 41)."""
    return eth_for(outer_ipv4(ip, 41, as_ipv6(ip), i))


def nested(ip: bytes, i: int) -> bytes:
    """VXLAN inside GRE inside IPv4: two tunnels deep."""
    inner = vxlan(ip, i)[14:]  # outer IPv4/UDP/VXLAN/Ethernet/IP of the VXLAN capture
    return eth_for(outer_ipv4(ip, 47, struct.pack("!HH", 0, 0x0800) + inner, i))


# ----------------------------------------------------------------------------- captures


def wrap(each: Callable[[bytes], bytes]) -> Callable[[list[Packet]], list[Packet]]:
    return lambda pkts: [(ts, each(ip)) for ts, ip in pkts]


def wrap_i(each: Callable[[bytes, int], bytes]) -> Callable[[list[Packet]], list[Packet]]:
    return lambda pkts: [(ts, each(ip, i)) for i, (ts, ip) in enumerate(pkts)]


ENCRYPTED = bytes([0x88, 0x41]) + b"\0\0" + MAC_AP + MAC_CLIENT + MAC_SERVER + b"\x00\x01" + b"\x00\x00"
BEACON = bytes([0x80, 0x00]) + b"\0\0" + b"\xff" * 6 + MAC_AP + MAC_AP + b"\x10\x00" + b"\0" * 12


def with_wifi_extras(pkts: list[Packet], each: Callable[[bytes], bytes]) -> list[Packet]:
    """A beacon and three protected (CCMP) data frames after the session: counted, not decoded."""
    ts = pkts[-1][0]
    ccmp = ENCRYPTED + bytes.fromhex("0100002000000000") + bytes(range(64)) + b"\xa5" * 8
    return [*pkts, (ts + 0.01, each(BEACON)), *((ts + 0.02 + k / 100, each(ccmp)) for k in range(3))]


def amsdu(pkts: list[Packet]) -> list[Packet]:
    """Two packets in a row in the same direction travel in one A-MSDU frame."""
    out: list[Packet] = []
    k = 0
    while k < len(pkts):
        ts, ip = pkts[k]
        if k + 1 < len(pkts) and c2s(pkts[k + 1][1]) == c2s(ip):
            out.append((pkts[k + 1][0], wifi_amsdu([ip, pkts[k + 1][1]], k)))
            k += 2
        else:
            out.append((ts, wifi_amsdu([ip], k)))
            k += 1
    return out


def user0(pkts: list[Packet]) -> list[Packet]:
    return [(ts, b"\x00USER0 payload " + ip[:24]) for ts, ip in pkts[:12]]


# name -> (file name, link type, builder of the packets); each file is one capture
CAPTURES: dict[str, tuple[str, int, Callable[[list[Packet]], list[Packet]]]] = {
    "ieee802_11": ("ieee802_11.pcap", 105, lambda p: with_wifi_extras(wrap_i(wifi_frame)(p), lambda f: f)),
    "ieee802_11-amsdu": ("ieee802_11-amsdu.pcap", 105, amsdu),
    "radiotap": (
        "radiotap.pcap",
        127,
        lambda p: with_wifi_extras(wrap_i(lambda ip, i: radiotap(wifi_frame(ip, i)))(p), radiotap),
    ),
    "ppi": ("ppi.pcap", 192, wrap_i(lambda ip, i: ppi(wifi_frame(ip, i)))),
    "avs": ("avs.pcap", 163, wrap_i(lambda ip, i: avs(wifi_frame(ip, i)))),
    "prism": ("prism.pcap", 119, wrap_i(lambda ip, i: prism(wifi_frame(ip, i)))),
    "pktap": ("pktap.pcap", 258, wrap(lambda ip: pktap(eth_for(ip), 1))),
    "pktap-user2": ("pktap-user2.pcap", 149, wrap(lambda ip: pktap(b"\x02\x00\x00\x00" + ip, 0))),
    "nflog": ("nflog.pcap", 239, wrap(nflog)),
    "ppp": ("ppp.pcap", 9, wrap(lambda ip: b"\x00\x21" + ip)),
    "ppp_hdlc": ("ppp_hdlc.pcap", 50, wrap(lambda ip: b"\xff\x03\x00\x21" + ip)),
    "c_hdlc": ("c_hdlc.pcap", 104, wrap(lambda ip: b"\x0f\x00\x08\x00" + ip)),
    "pppoe": ("pppoe.pcap", 1, wrap(pppoe)),
    "ether-fcs": ("ether-fcs.pcap", 0x24000001, wrap(ether_fcs)),  # FCS length 2 words, P bit
    "ether-fcs-ng": ("ether-fcs.pcapng", 1, wrap(ether_fcs)),
    "qinq": ("qinq.pcap", 1, wrap(vlan_tags)),
    "mpls": ("mpls.pcap", 1, wrap(mpls)),
    "vxlan": ("vxlan.pcap", 1, wrap_i(vxlan)),
    "geneve": ("geneve.pcap", 1, wrap_i(geneve)),
    "gre": ("gre.pcap", 1, wrap_i(gre)),
    "erspan1": ("erspan1.pcap", 1, wrap_i(lambda ip, i: erspan(ip, i, 1))),
    "erspan2": ("erspan2.pcap", 1, wrap_i(lambda ip, i: erspan(ip, i, 2))),
    "erspan3": ("erspan3.pcap", 1, wrap_i(lambda ip, i: erspan(ip, i, 3))),
    "gtpu": ("gtpu.pcap", 1, wrap_i(gtpu)),
    "ipip": ("ipip.pcap", 1, wrap_i(ipip)),
    "ip4in6": ("ip4in6.pcap", 1, wrap_i(ip4in6)),
    "6in4": ("6in4.pcap", 1, wrap_i(sixin4)),
    "nested": ("gre-vxlan.pcap", 1, wrap_i(nested)),
    "user0": ("user0.pcap", 147, user0),
}


def build() -> Iterator[tuple[str, bytes]]:
    from tests.linktypes import proxies

    pkts = source_ip_packets()
    for fname, lt, make in CAPTURES.values():
        packets = make(pkts)
        yield fname, pcapng(packets, lt, 4) if fname.endswith(".pcapng") else pcap(packets, lt)
    for fname, packets in proxies.build(pkts):
        yield fname, pcap([(ts, eth_for(ip)) for ts, ip in packets], 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--check", action="store_true", help="compare with the files, write nothing")
    args = ap.parse_args(argv)
    bad = 0
    for fname, data in build():
        path = HERE / fname
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                print(f"differs: {fname}", file=sys.stderr)
                bad += 1
        else:
            path.write_bytes(data)
            print(f"wrote {fname} ({len(data):,} bytes)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
