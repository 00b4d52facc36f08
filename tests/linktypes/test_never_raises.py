"""Hostile link headers, tunnels and proxy handshakes never raise: truncated headers, length
fields pointing past the end, nesting without end. The decoder counts them (malformed, not
decoded and why) and goes on; the proxy parser gives up on the connection."""

from __future__ import annotations

import json
import struct
from functools import cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.capture.pcapfile import RawPacket, open_capture
from analyzer.decode.link import LINK_TYPES
from analyzer.decode.packet import MAX_TUNNELS, PacketDecoder
from analyzer.decode.walk import MAX_AMSDU, MAX_STEPS
from analyzer.model.common import Direction
from analyzer.protocols.proxy import ProxyHandshake, detect
from tests.linktypes.make_captures import eth_for, ipv4, source_ip_packets
from tests.linktypes.proxies import FORMS

HERE = Path(__file__).resolve().parent
LINK_TYPES_TRIED = [*sorted(LINK_TYPES), 147, 0xFFFF]


@cache
def seeds() -> list[RawPacket]:
    """From each capture of this folder, its first packet with TCP payload (every header kind)."""
    out = []
    for path in sorted(HERE.glob("*.pcap*")):
        pkts = list(open_capture(str(path)))
        out.append(pkts[3] if len(pkts) > 3 else pkts[0])
    return out


def decode(lt: int, data: bytes) -> PacketDecoder:
    dec = PacketDecoder()
    dec.decode(RawPacket(1, 0.0, lt, data, len(data), 0, 0))
    st_ = dec.stats
    assert st_.packets == 1
    json.dumps(st_.to_dict())
    return dec


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(LINK_TYPES_TRIED), st.binary(max_size=200))
def test_random_bytes_never_raise(lt: int, data: bytes) -> None:
    decode(lt, data)


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_mutated_headers_never_raise(data: st.DataObject) -> None:
    pkt = data.draw(st.sampled_from(seeds()))
    raw = bytearray(pkt.data)
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, min(len(raw), 200) - 1))] = data.draw(st.integers(0, 255))
    decode(pkt.linktype, bytes(raw[: data.draw(st.integers(0, len(raw)))]))


def test_every_truncation_never_raises() -> None:
    for pkt in seeds():
        for cut in range(len(pkt.data)):
            decode(pkt.linktype, pkt.data[:cut])


def tcp_ip() -> bytes:
    return source_ip_packets()[3][1]


def test_tunnels_nested_without_end_stop_at_the_bound() -> None:
    ip = tcp_ip()
    for _ in range(40):  # GRE in IPv4, 40 deep
        ip = ipv4(struct.pack("!HH", 0, 0x0800) + ip, 47)
    dec = decode(1, eth_for(ip))
    assert dec.stats.undecoded == {f"more than {MAX_TUNNELS} tunnels nested": 1}
    assert dec.stats.tcp_packets == 0 and dec.stats.non_tcp == 1


def test_headers_nested_without_end_stop_at_the_bound() -> None:
    vlan = eth_for(struct.pack("!HH", 1, 0x8100) * 200 + struct.pack("!HH", 1, 0x0800) + tcp_ip(), 0x8100)
    mpls = eth_for(struct.pack("!I", 100 << 12) * 200 + tcp_ip(), 0x8847)  # no bottom of stack
    for frame in (vlan, mpls):
        dec = decode(1, frame)
        assert dec.stats.undecoded == {f"more than {MAX_STEPS} nested headers": 1}


def test_an_amsdu_of_many_subframes_is_bounded() -> None:
    sub = b"\0" * 12 + struct.pack("!H", 6) + b"\x42\x42\x03\0\0\0"  # 20 bytes each, LLC but not IP
    hdr = bytes([0x88, 0x01]) + b"\0" * 22 + b"\x80\x00"
    dec = decode(105, hdr + sub * 1000)
    assert dec.stats.non_ip == MAX_AMSDU and not dec.more


def test_lengths_past_the_end_are_malformed() -> None:
    cases = [
        (127, b"\0\0\xff\x00" + b"\0" * 20),  # radiotap length 255
        (127, b"\0\0\x20\x00" + b"\xff\xff\xff\xff" * 7),  # present bitmaps extended to the end
        (192, b"\0\0\xff\x00\x69\0\0\0" + b"\0" * 8),  # PPI length 255
        (163, struct.pack(">II", 0x80211001, 4096) + b"\0" * 8),
        (119, struct.pack("<II", 0x41, 4096) + b"\0" * 8),
        (258, struct.pack("<III", 4096, 1, 1) + b"\0" * 100),
        (239, b"\x02\x00\x00\x00" + struct.pack("<HH", 400, 9) + b"\x45"),  # NFLOG TLV past the end
        (1, eth_for(ipv4(udp_gtp(), 17))),
    ]
    for lt, data in cases:
        dec = decode(lt, data)
        assert dec.stats.malformed == 1, (lt, dec.stats)


def udp_gtp() -> bytes:
    """GTP-U whose extension header chain points past the end."""
    gtp = struct.pack("!BBHI", 0x34, 0xFF, 8, 1) + struct.pack("!HBB", 0, 0, 0x85) + b"\x09\x00\x00\x85"
    return struct.pack("!HHHH", 2152, 2152, 8 + len(gtp), 0) + gtp


def test_pktap_inside_pktap_is_not_followed() -> None:
    inner = struct.pack("<III", 108, 1, 258).ljust(108, b"\0")
    outer = struct.pack("<III", 108, 1, 258).ljust(108, b"\0") + inner + tcp_ip()
    dec = decode(258, outer)
    assert dec.stats.undecoded == {"PKTAP inside PKTAP": 1}


# -- proxy handshakes ---------------------------------------------------------------------------


@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from(
        [
            b"",
            b"\x05\x02\x00\x02",
            b"\x04\x01\x00\x50\x00\x00\x00\x01",
            b"PROXY ",
            FORMS["proxy-v2.pcap"][0][:16],
        ]
    ),
    st.lists(st.tuples(st.booleans(), st.binary(max_size=80)), max_size=8),
)
def test_proxy_handshakes_never_raise(start: bytes, chunks: list[tuple[bool, bytes]]) -> None:
    first = start + (chunks[0][1] if chunks else b"")
    kind = detect(first) or "socks5"
    hs = ProxyHandshake(kind)
    for up, chunk in [(True, first), *chunks[1:]]:
        d = Direction.C2S if up else Direction.S2C
        used = hs.feed(d, chunk)
        assert 0 <= used <= len(chunk)
    json.dumps(hs.to_dict())


def test_proxy_handshakes_of_the_captures_cut_anywhere() -> None:
    for client, server, _port in FORMS.values():
        kind = detect(client)
        if kind is None:
            continue  # HTTP CONNECT: the HTTP parser's
        for cut in range(len(client)):
            hs = ProxyHandshake(kind)
            assert hs.feed(Direction.C2S, client[:cut]) == cut and not hs.done[Direction.C2S]
            hs.gap(Direction.C2S)
            assert hs.failed
        hs = ProxyHandshake(kind)
        assert hs.feed(Direction.C2S, client + b"GET /") == len(client)
        assert hs.feed(Direction.S2C, server + b"HTTP/1.1") == (len(server) if server else 0)
        assert hs.finished and not hs.failed and "s3cr3t" not in json.dumps(hs.to_dict())
