"""Mutation fuzzer for the whole pipeline, in process.

Seeds are real captures (captures/ and tests/corpus, read in place). Each input is a seed
with a few structured mutations: mostly inside TCP payloads (HTTP heads and bodies, WebSocket
frame headers, deflate data, Engine.IO / Socket.IO text and binary), with the IP length fixed
and the sequence numbers of the packets that follow shifted, so that the deep layers are
reached; also TCP seq/ack/flags/offset, IP lengths and fragments, packet order, pcap record
headers and the file bytes themselves. Everything is drawn from one `random.Random(seed)`, so a
run is reproducible.

Each input goes through what a user runs (`socketscope analyze FILE --format json`, the text
summary with --messages --events, `analyze_file` and the model's `to_dict`) and, for a sample,
through every exporter. A finding is any exception, a run longer than the time limit, output
that is not JSON or not valid against analyzer/schema/analysis.schema.json, an anomaly code that
is not registered, or a streamed document that differs from the in-memory one (the invariant
tests/tcp/test_streaming.py keeps on the bundled captures).

    nice -n 10 python scripts/fuzz.py --seconds 300 --seed 1 [--out DIR] [--seeds FILE ...]
    python scripts/fuzz.py --replay DIR_OR_FILE ...      # re-run saved findings
    python scripts/fuzz.py --atheris --corpus DIR --seconds 300   # coverage-guided (pip install atheris)

A share of the inputs is not mutated from a seed but generated to hit the bounds of
docs/bounds.md (issue #16): Socket.IO placeholders repeated, inflate bombs (WebSocket
permessage-deflate and gzip HTTP bodies) with a small `--inflate-budget-mb`, floods of new flows
(SYN, RST, bare ACK) amid a seed's traffic with a small connection table, and giant records (a
seed packet grown to megabytes, a record header claiming more than the file holds). For those the
document written must also stay within a few dozen times the input (a finding otherwise).

The plain loop needs nothing beyond the test extras; it keeps the inputs that showed an anomaly
code no earlier input showed and mutates them further (a cheap stand-in for coverage). Findings
go to --out (default $TMPDIR/socketscope-fuzz): the input and its traceback, one per signature.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import random
import re
import resource
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "analyzer" / "schema" / "analysis.schema.json"

# --------------------------------------------------------------------------------------------
# captures as packet lists


@dataclass
class Pkt:
    ts: float
    linktype: int
    data: bytes
    orig_len: int


@dataclass
class Capture:
    packets: list[Pkt]
    fmt: str = "pcap"  # "pcap" | "pcapng" | "pcap-ns"


def load_seed(path: str | Path) -> Capture:
    from analyzer.capture.pcapfile import open_capture

    reader = open_capture(str(path))
    pkts = [Pkt(p.ts, p.linktype, p.data, p.orig_len) for p in reader]
    return Capture(pkts, "pcapng" if reader.format == "pcapng" else "pcap")


def default_seeds() -> list[Path]:
    corpus = ROOT / "tests" / "corpus"
    found = sorted((ROOT / "captures").glob("*.pcap*"))
    found += sorted(p for p in corpus.rglob("*") if p.suffix in (".pcap", ".pcapng") and p.is_file())
    return [p for p in found if p.suffix in (".pcap", ".pcapng")]


def _ts_parts(ts: float, scale: int) -> tuple[int, int]:
    t = max(0, round(ts * scale))
    sec, frac = divmod(t, scale)
    return sec & 0xFFFFFFFF, frac


def to_bytes(cap: Capture) -> bytes:
    """pcap (µs or ns) or pcapng with one interface per link type; per-packet original lengths."""
    pkts = cap.packets
    if cap.fmt in ("pcap", "pcap-ns"):
        nanos = cap.fmt == "pcap-ns"
        lt = pkts[0].linktype if pkts else 1
        out = [struct.pack("<IHHiIII", 0xA1B23C4D if nanos else 0xA1B2C3D4, 2, 4, 0, 0, 262144, lt)]
        scale = 10**9 if nanos else 10**6
        for p in pkts:
            sec, frac = _ts_parts(p.ts, scale)
            out.append(struct.pack("<IIII", sec, frac, len(p.data), p.orig_len & 0xFFFFFFFF) + p.data)
        return b"".join(out)

    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    ifaces: dict[int, int] = {}
    for p in pkts:
        if p.linktype not in ifaces:
            ifaces[p.linktype] = len(ifaces)
            tsresol = struct.pack("<HH", 9, 1) + b"\x09\0\0\0" + struct.pack("<HH", 0, 0)  # ns
            out.append(block(1, struct.pack("<HHI", p.linktype, 0, 0) + tsresol))
        t = max(0, round(p.ts * 1e9))
        hdr = struct.pack(
            "<IIIII",
            ifaces[p.linktype],
            (t >> 32) & 0xFFFFFFFF,
            t & 0xFFFFFFFF,
            len(p.data),
            p.orig_len & 0xFFFFFFFF,
        )
        out.append(block(6, hdr + p.data))
    return b"".join(out)


# --------------------------------------------------------------------------------------------
# where the layers are in a packet


@dataclass
class Layers:
    ip: int  # offset of the IP header
    ipv: int
    tcp: int  # offset of the TCP header
    payload: int  # offset of the TCP payload
    end: int  # end of the IP packet (payload end)

    def key(self, data: bytes) -> tuple[bytes, int, bytes, int]:
        if self.ipv == 4:
            src, dst = data[self.ip + 12 : self.ip + 16], data[self.ip + 16 : self.ip + 20]
        else:
            src, dst = data[self.ip + 8 : self.ip + 24], data[self.ip + 24 : self.ip + 40]
        sport, dport = struct.unpack_from("!HH", data, self.tcp)
        return src, sport, dst, dport


def _link_offset(lt: int, data: bytes) -> int | None:
    if lt == 1:
        if len(data) < 14:
            return None
        off, etype = 14, (data[12] << 8) | data[13]
        while etype in (0x8100, 0x88A8, 0x9100) and len(data) >= off + 4:
            etype, off = (data[off + 2] << 8) | data[off + 3], off + 4
        return off
    return {113: 16, 276: 20, 0: 4, 108: 4, 101: 0, 12: 0, 14: 0, 228: 0, 229: 0}.get(lt)


def layers(p: Pkt) -> Layers | None:
    d = p.data
    off = _link_offset(p.linktype, d)
    if off is None or len(d) < off + 40:
        return None
    ipv = d[off] >> 4
    if ipv == 4:
        ihl = (d[off] & 15) * 4
        total = (d[off + 2] << 8) | d[off + 3]
        if d[off + 9] != 6 or ihl < 20:
            return None
        tcp, end = off + ihl, min(len(d), off + total) if total else len(d)
    elif ipv == 6:
        if d[off + 6] != 6:
            return None
        plen = (d[off + 4] << 8) | d[off + 5]
        tcp, end = off + 40, min(len(d), off + 40 + plen) if plen else len(d)
    else:
        return None
    if tcp + 20 > end:
        return None
    thl = (d[tcp + 12] >> 4) * 4
    if thl < 20 or tcp + thl > end:
        return None
    return Layers(off, ipv, tcp, tcp + thl, end)


def with_payload(p: Pkt, lay: Layers, payload: bytes) -> Pkt:
    """The packet with another TCP payload and a consistent IP length (trailer dropped)."""
    d = bytearray(p.data[: lay.payload] + payload)
    if lay.ipv == 4:
        total = len(d) - lay.ip
        if total <= 0xFFFF:
            struct.pack_into("!H", d, lay.ip + 2, total)
        else:
            struct.pack_into("!H", d, lay.ip + 2, 0)  # TSO style: runs to the end
    else:
        plen = len(d) - lay.ip - 40
        struct.pack_into("!H", d, lay.ip + 4, plen if plen <= 0xFFFF else 0)
    cut = p.orig_len - len(p.data)  # keep a snapshot-length cut as it was
    return Pkt(p.ts, p.linktype, bytes(d), len(d) + max(cut, 0))


def shift_flow(cap: Capture, index: int, lay: Layers, delta: int) -> None:
    """After a payload of packet `index` changed length by `delta`: later packets of the same
    direction get their seq shifted, and of the other direction their ack."""
    if not delta:
        return
    key = lay.key(cap.packets[index].data)
    rkey = (key[2], key[3], key[0], key[1])
    for j in range(index + 1, len(cap.packets)):
        q = cap.packets[j]
        ql = layers(q)
        if ql is None:
            continue
        k = ql.key(q.data)
        if k == key:
            pos = ql.tcp + 4
        elif k == rkey:
            pos = ql.tcp + 8
        else:
            continue
        d = bytearray(q.data)
        v = struct.unpack_from("!I", d, pos)[0]
        struct.pack_into("!I", d, pos, (v + delta) & 0xFFFFFFFF)
        cap.packets[j] = Pkt(q.ts, q.linktype, bytes(d), q.orig_len)


# --------------------------------------------------------------------------------------------
# mutations

TOKENS = [
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"HTTP/1.1 101 Switching Protocols\r\n",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.0 ",
    b"GET / HTTP/1.1\r\n",
    b"Content-Length: ",
    b"Content-Length: 99999999999999999999\r\n",
    b"Content-Length: -1\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Content-Encoding: gzip\r\n",
    b"Content-Encoding: deflate\r\n",
    b"Upgrade: websocket\r\n",
    b"Connection: Upgrade\r\n",
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=8; server_no_context_takeover\r\n",
    b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15\r\n",
    b"Sec-WebSocket-Protocol: a, b\r\n",
    b"Sec-WebSocket-Version: 13\r\n",
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
    b"0\r\n\r\n",
    b"ffffffffffffffff\r\n",
    b"7;ext=1\r\n",
    b"/socket.io/?EIO=4&transport=polling&sid=",
    b"/socket.io/?EIO=3&transport=websocket&sid=",
    b"&b64=1",
    b"&j=0",
    b'___eio[0]("',
    b'");',
    b"d=",
    b"\\n",
    b"Content-Type: application/octet-stream\r\n",
    b"Content-Type: text/plain; charset=UTF-8\r\n",
    b"Content-Type: application/x-www-form-urlencoded\r\n",
    b"Content-Type: text/javascript\r\n",
    b"\x1e",
    b"b4",
    b"b",
    b":",
    b"0{",
    b'0{"sid":"AAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1}',
    b"2probe",
    b"3probe",
    b"5",
    b"6",
    b"40",
    b"42",
    b'42["a",',
    b"43",
    b"451-",
    b"461-/nsp,",
    b"99999999999999999999-",
    b'{"_placeholder":true,"num":',
    b'{"_placeholder":true,"num":999999}',
    b"\x00\x01\xff",
    b"\x01\xff",
    b"\xff",
    b"\x00",
    b"\x80",
    b"\x7e\xff\xff",
    b"\x7f\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x7f\x00\x00\x00\x00\x00\x00\x00\x01",
    b"\x89\x00",
    b"\x8a\x00",
    b"\x88\x02\x03\xe8",
    b"\x88\x01\x03",
    b"\x00\x00\xff\xff",
    b"\xc1",
    b"\x81",
    b"\x01",
    b"\x80\x00",
    b"\x82\x7e",
    b"\xdd\xff\xff\xff\xff",  # msgpack array32 of 4G elements
    b"\xdf\xff\xff\xff\xff",  # msgpack map32
    b"\xdb\xff\xff\xff\xff",  # msgpack str32
    b"\xc6\xff\xff\xff\xff",  # msgpack bin32
    b"\x85\xa4type\x02\xa4data\x91\xa1a\xa3nsp\xa1/\xa2id\x01\xabattachments\xcd\xff\xff",
    b"\\ud800",
    b'"\\ud800"',
    b"\xed\xa0\x80",
    b"\xf0\x9f\x98\x80",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"1e999999",
    b"NaN",
    b"-0",
]
NUMBERS = [
    b"0",
    b"1",
    b"-1",
    b"00",
    b"125",
    b"126",
    b"127",
    b"255",
    b"65535",
    b"65536",
    b"2147483647",
    b"2147483648",
    b"4294967296",
    b"9223372036854775808",
    b"18446744073709551616",
    b"1" * 40,
    b"9" * 4400,  # beyond Python's int/str digit limit
    b"1e5",
    b" 5",
    b"+5",
    b"0x10",
]
HEX_NUMBERS = [b"0", b"1", b"7fffffff", b"ffffffffffffffff", b"1" * 40, b"-1", b"0x5", b"f" * 5000]
INTERESTING_BYTES = [
    0,
    1,
    0x7E,
    0x7F,
    0x80,
    0x81,
    0x82,
    0x88,
    0x89,
    0x8A,
    0xC1,
    0xFE,
    0xFF,
    0x0D,
    0x0A,
    0x1E,
    0x3A,
]

_DEC = re.compile(rb"-?\d+")
_HEX = re.compile(rb"(?<=\n)[0-9a-fA-F]+(?=\r?\n)")


def mutate_bytes(rng: random.Random, b: bytes, others: Callable[[], bytes]) -> bytes:
    """One byte-level mutation of `b` (which may be empty)."""
    n = len(b)
    choice = rng.randrange(14)
    if n == 0 and choice < 9:
        return bytes(rng.choice(TOKENS))
    if choice == 0:  # flip a bit
        i = rng.randrange(n)
        return b[:i] + bytes([b[i] ^ (1 << rng.randrange(8))]) + b[i + 1 :]
    if choice == 1:  # an interesting byte
        i = rng.randrange(n)
        return b[:i] + bytes([rng.choice(INTERESTING_BYTES)]) + b[i + 1 :]
    if choice == 2:  # the frame-header region: one of the first 14 bytes
        i = rng.randrange(min(n, 14))
        v = rng.choice([rng.randrange(256), rng.choice(INTERESTING_BYTES), b[i] ^ (1 << rng.randrange(8))])
        return b[:i] + bytes([v]) + b[i + 1 :]
    if choice == 3:  # delete a range
        i = rng.randrange(n)
        j = min(n, i + rng.choice([1, 1, 2, 4, 16, rng.randrange(1, n + 1)]))
        return b[:i] + b[j:]
    if choice == 4:  # duplicate a range
        i = rng.randrange(n)
        j = min(n, i + rng.randrange(1, 64))
        return b[:j] + b[i:j] * rng.choice([1, 1, 2, 8]) + b[j:]
    if choice == 5:  # truncate
        return b[: rng.randrange(n)]
    if choice == 6 or choice == 7:  # a decimal number
        nums = list(_DEC.finditer(b))
        if nums:
            m = rng.choice(nums)
            return b[: m.start()] + rng.choice(NUMBERS) + b[m.end() :]
        return b
    if choice == 8:  # a chunk size
        nums = list(_HEX.finditer(b))
        if nums:
            m = rng.choice(nums)
            return b[: m.start()] + rng.choice(HEX_NUMBERS) + b[m.end() :]
        i = rng.randrange(n + 1)
        return b[:i] + bytes([rng.randrange(256)]) + b[i:]
    if choice in (9, 10):  # insert or overwrite with a token
        tok = rng.choice(TOKENS)
        i = rng.randrange(n + 1)
        if choice == 9:
            return b[:i] + tok + b[i:]
        return b[:i] + tok + b[i + len(tok) :]
    if choice == 11:  # splice in bytes of another payload
        o = others()
        if not o:
            return b
        i = rng.randrange(len(o))
        piece = o[i : i + rng.randrange(1, 200)]
        k = rng.randrange(n + 1)
        return b[:k] + piece + b[k:]
    if choice == 12:  # random bytes
        i = rng.randrange(n + 1)
        return b[:i] + rng.randbytes(rng.randrange(1, 9)) + b[i:]
    return b + b  # 13: the payload twice


class Mutator:
    def __init__(self, rng: random.Random, seeds: list[Capture]) -> None:
        self.rng = rng
        self.seeds = seeds

    def _other_payload(self) -> bytes:
        cap = self.rng.choice(self.seeds)
        for _ in range(8):
            if not cap.packets:
                return b""
            p = self.rng.choice(cap.packets)
            lay = layers(p)
            if lay is not None and lay.end > lay.payload:
                return p.data[lay.payload : lay.end]
        return b""

    def _payload_packets(self, cap: Capture) -> list[int]:
        out = []
        for i, p in enumerate(cap.packets):
            lay = layers(p)
            if lay is not None and lay.end > lay.payload:
                out.append(i)
        return out

    def mutate(self, cap: Capture) -> tuple[Capture, list[str]]:
        rng = self.rng
        cap = Capture(list(cap.packets), cap.fmt)
        done: list[str] = []
        rounds = rng.choice([1, 1, 1, 2, 2, 3, 4, 6])
        for _ in range(rounds):
            r = rng.random()
            if r < 0.62:
                done.append(self.payload(cap))
            elif r < 0.72:
                done.append(self.tcp_header(cap))
            elif r < 0.78:
                done.append(self.ip_header(cap))
            elif r < 0.88:
                done.append(self.packet_list(cap))
            elif r < 0.94:
                done.append(self.record(cap))
            else:
                done.append(self.resegment(cap))
        if rng.random() < 0.08:
            cap.fmt = rng.choice(["pcap", "pcap-ns", "pcapng"])
        return cap, done

    def payload(self, cap: Capture) -> str:
        rng = self.rng
        idx = self._payload_packets(cap)
        if not idx:
            return "payload:none"
        # early packets hold the handshakes: favour them a little
        i = idx[min(int(rng.expovariate(1 / 6)), len(idx) - 1)] if rng.random() < 0.4 else rng.choice(idx)
        p = cap.packets[i]
        lay = layers(p)
        assert lay is not None
        old = p.data[lay.payload : lay.end]
        new = old
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            new = mutate_bytes(rng, new, self._other_payload)
        new = new[:70000]
        cap.packets[i] = with_payload(p, lay, new)
        if rng.random() < 0.85:
            shift_flow(cap, i, lay, len(new) - len(old))
        return f"payload@{i}"

    def tcp_header(self, cap: Capture) -> str:
        rng = self.rng
        cands = [i for i, p in enumerate(cap.packets) if layers(p) is not None]
        if not cands:
            return "tcp:none"
        i = rng.choice(cands)
        p = cap.packets[i]
        lay = layers(p)
        assert lay is not None
        d = bytearray(p.data)
        t = lay.tcp
        what = rng.randrange(7)
        if what == 0:  # seq
            v = struct.unpack_from("!I", d, t + 4)[0]
            v = rng.choice(
                [v + rng.randrange(-3000, 3000), rng.getrandbits(32), v - 1, v + 1, v ^ 0x80000000]
            )
            struct.pack_into("!I", d, t + 4, v & 0xFFFFFFFF)
        elif what == 1:  # ack
            v = struct.unpack_from("!I", d, t + 8)[0]
            struct.pack_into("!I", d, t + 8, rng.choice([v + 1, v - 1, rng.getrandbits(32), 0]) & 0xFFFFFFFF)
        elif what == 2:  # flags
            d[t + 13] = rng.choice(
                [d[t + 13] ^ (1 << rng.randrange(8)), rng.randrange(256), 0x02, 0x12, 0x11, 0x04, 0x14, 0x01]
            )
        elif what == 3:  # data offset
            d[t + 12] = (rng.randrange(16) << 4) | (d[t + 12] & 15)
        elif what == 4:  # ports
            struct.pack_into(
                "!H", d, t + rng.choice([0, 2]), rng.choice([0, 80, 443, 5000, 65535, rng.randrange(65536)])
            )
        elif what == 5:  # options: random bytes in place of the option area
            thl = lay.payload - lay.tcp
            if thl > 20:
                for k in range(t + 20, t + thl):
                    if rng.random() < 0.3:
                        d[k] = rng.choice([0, 1, 2, 3, 4, 8, 255, rng.randrange(256)])
        else:  # window
            struct.pack_into("!H", d, t + 14, rng.randrange(65536))
        cap.packets[i] = Pkt(p.ts, p.linktype, bytes(d), p.orig_len)
        return f"tcp{what}@{i}"

    def ip_header(self, cap: Capture) -> str:
        rng = self.rng
        cands = [i for i, p in enumerate(cap.packets) if layers(p) is not None]
        if not cands:
            return "ip:none"
        i = rng.choice(cands)
        p = cap.packets[i]
        lay = layers(p)
        assert lay is not None
        d = bytearray(p.data)
        o = lay.ip
        what = rng.randrange(6)
        if lay.ipv == 4:
            if what == 0:  # total length
                v = struct.unpack_from("!H", d, o + 2)[0]
                struct.pack_into("!H", d, o + 2, rng.choice([0, 1, 19, 20, 40, v - 1, v + 1, 65535]) & 0xFFFF)
            elif what == 1:  # fragment: MF or offset
                struct.pack_into("!H", d, o + 6, rng.choice([0x2000, 0x0001, 0x2001, 0x4000, 0x1FFF]))
            elif what == 2:  # IHL
                d[o] = 0x40 | rng.randrange(16)
            elif what == 3:  # version
                d[o] = (rng.choice([0, 5, 6, 15]) << 4) | (d[o] & 15)
            elif what == 4:  # protocol
                d[o + 9] = rng.choice([17, 1, 0, 255])
            else:  # addresses
                d[o + 12 + rng.randrange(8)] ^= 1
        else:
            if what == 0:
                v = struct.unpack_from("!H", d, o + 4)[0]
                struct.pack_into("!H", d, o + 4, rng.choice([0, 1, 19, 20, v - 1, v + 1, 65535]) & 0xFFFF)
            elif what == 1:  # a fragment header or another extension header in front of TCP
                nh = rng.choice([44, 0, 60, 51, 43])
                ext = bytes([6, rng.choice([0, 1, 255])]) + rng.choice(
                    [b"\0" * 6, b"\0\x09" + b"\0" * 4, rng.randbytes(6)]
                )
                d[o + 6] = nh
                d[o + 40 : o + 40] = ext
                plen = struct.unpack_from("!H", d, o + 4)[0]
                struct.pack_into("!H", d, o + 4, (plen + 8) & 0xFFFF)
            elif what == 2:
                d[o + 6] = rng.choice([0, 17, 59, 255])
            else:
                d[o + 8 + rng.randrange(32)] ^= 1
        cap.packets[i] = Pkt(p.ts, p.linktype, bytes(d), len(d) + max(0, p.orig_len - len(p.data)))
        return f"ip{lay.ipv}.{what}@{i}"

    def packet_list(self, cap: Capture) -> str:
        rng = self.rng
        pk = cap.packets
        if not pk:
            return "list:none"
        what = rng.randrange(6)
        i = rng.randrange(len(pk))
        if what == 0:
            del pk[i]
        elif what == 1:
            pk.insert(i, pk[i])
        elif what == 2 and i + 1 < len(pk):
            pk[i], pk[i + 1] = pk[i + 1], pk[i]
        elif what == 3:  # move a packet a long way
            p = pk.pop(i)
            pk.insert(rng.randrange(len(pk) + 1), p)
        elif what == 4:  # cut the capture
            del pk[i:]
        else:  # a packet from another seed
            other = rng.choice(self.seeds)
            if other.packets:
                q = rng.choice(other.packets)
                pk.insert(
                    i,
                    Pkt(
                        pk[i - 1].ts if i else q.ts, pk[0].linktype if pk else q.linktype, q.data, q.orig_len
                    ),
                )
        return f"list{what}@{i}"

    def record(self, cap: Capture) -> str:
        rng = self.rng
        pk = cap.packets
        if not pk:
            return "rec:none"
        i = rng.randrange(len(pk))
        p = pk[i]
        what = rng.randrange(5)
        if what == 0:  # snapshot-length cut
            k = rng.randrange(len(p.data) + 1)
            pk[i] = Pkt(p.ts, p.linktype, p.data[:k], len(p.data))
        elif what == 1:  # original length
            pk[i] = Pkt(p.ts, p.linktype, p.data, rng.choice([0, len(p.data) + 1, 0xFFFFFFFF]))
        elif what == 2:  # time goes back or jumps
            pk[i] = Pkt(
                rng.choice([0.0, p.ts - 1000, p.ts + 10**6, p.ts + 130]), p.linktype, p.data, p.orig_len
            )
        elif what == 3:  # everything after is much later (sessions expire, connections linger out)
            for j in range(i, len(pk)):
                q = pk[j]
                pk[j] = Pkt(q.ts + 600, q.linktype, q.data, q.orig_len)
        else:  # link type
            lt = rng.choice([0, 1, 101, 108, 113, 276, 228, 229, 147])
            for j in range(len(pk)):
                q = pk[j]
                pk[j] = Pkt(q.ts, lt, q.data, q.orig_len)
        return f"rec{what}@{i}"

    def resegment(self, cap: Capture) -> str:
        """Split a payload over two packets, or change its segment boundaries."""
        rng = self.rng
        idx = self._payload_packets(cap)
        if not idx:
            return "reseg:none"
        i = rng.choice(idx)
        p = cap.packets[i]
        lay = layers(p)
        assert lay is not None
        pay = p.data[lay.payload : lay.end]
        if len(pay) < 2:
            return "reseg:short"
        k = rng.randrange(1, len(pay))
        first = with_payload(p, lay, pay[:k])
        second = with_payload(p, lay, pay[k:])
        d = bytearray(second.data)
        seq = struct.unpack_from("!I", d, lay.tcp + 4)[0]
        struct.pack_into("!I", d, lay.tcp + 4, (seq + k) & 0xFFFFFFFF)
        second = Pkt(p.ts, p.linktype, bytes(d), second.orig_len)
        if rng.random() < 0.3:  # out of order
            first, second = second, first
        cap.packets[i : i + 1] = [first, second]
        return f"reseg@{i}"

    def file_bytes(self, data: bytes) -> bytes:
        """Damage the file itself (headers, record lengths, truncation)."""
        rng = self.rng
        if not data:
            return data
        what = rng.randrange(4)
        if what == 0:
            return data[: rng.randrange(len(data))]
        if what == 1:
            i = rng.randrange(min(len(data), 64))
            return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
        if what == 2:
            i = rng.randrange(len(data))
            return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
        i = rng.randrange(len(data))
        return data[:i] + rng.randbytes(4) + data[i + 4 :]


# --------------------------------------------------------------------------------------------
# generated inputs: the bounds of docs/bounds.md (issue #16)


@dataclass
class Bounds:
    """How a generated input is run: `--inflate-budget-mb`, the connection table (patched into
    analyzer.tcp.tracker.MAX_CONNECTIONS: no command-line option), and whether the size of the
    document written is checked against the input's."""

    inflate_budget_mb: int | None = None
    max_connections: int | None = None
    check_output: bool = False
    max_frame_records: int | None = None  # --max-frame-records
    decode_as: int | None = None  # a server port the input must be decoded --decode-as WebSocket

    def args(self) -> list[str]:
        out = [] if self.inflate_budget_mb is None else ["--inflate-budget-mb", str(self.inflate_budget_mb)]
        if self.max_frame_records is not None:
            out += ["--max-frame-records", str(self.max_frame_records)]
        return out

    def options(self, decode_as: dict[int, str]) -> Any:
        from analyzer.pipeline import Options

        opts = Options(decode_as=decode_as, max_connections=self.max_connections)
        if self.inflate_budget_mb is not None:
            opts.inflate_budget_bytes = self.inflate_budget_mb << 20
        if self.max_frame_records is not None:
            opts.max_frame_records = self.max_frame_records
        return opts

    @contextlib.contextmanager
    def table(self) -> Iterator[None]:
        from analyzer.tcp import tracker

        old = tracker.MAX_CONNECTIONS
        if self.max_connections is not None:
            tracker.MAX_CONNECTIONS = self.max_connections
        try:
            yield
        finally:
            tracker.MAX_CONNECTIONS = old

    def text(self) -> str:
        check = int(self.check_output)
        return f"{self.inflate_budget_mb} {self.max_connections} {check} {self.max_frame_records}"

    @classmethod
    def parse(cls, text: str) -> Bounds:
        mb, table, check, *more = text.split()
        frames = more[0] if more else "None"

        def num(x: str) -> int | None:
            return None if x == "None" else int(x)

        return cls(num(mb), num(table), check == "1", num(frames))


def from_pcap(data: bytes) -> Capture:
    """The packets of a classic pcap (as tests/crafted_captures.py writes them)."""
    pkts = []
    pos = 24
    lt = struct.unpack_from("<I", data, 20)[0]
    while pos + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, pos)
        pkts.append(Pkt(sec + usec / 1e6, lt, data[pos + 16 : pos + 16 + incl], orig))
        pos += 16 + incl
    return Capture(pkts)


def gen_placeholders(rng: random.Random, seeds: list[Capture]) -> tuple[Capture, Bounds]:
    from tests.crafted_captures import sio_placeholders

    repeats = rng.choice([2, 3, 40, 500, 3000])
    size = rng.choice([1, 100, 4096, 65536, 300_000])
    attachments = rng.choice([1, 1, 2, 3])
    return from_pcap(sio_placeholders(repeats, size, attachments)), Bounds(check_output=True)


def gen_inflate(rng: random.Random, seeds: list[Capture]) -> tuple[Capture, Bounds]:
    from tests.crafted_captures import http_gzip_bomb, ws_inflate_bomb

    budget = rng.choice([0, 1, 2, 16])
    if rng.random() < 0.3:
        size = rng.choice([64 << 10, 1 << 20, 8 << 20, (8 << 20) + 1])
        data = http_gzip_bomb(rng.randint(1, max(1, (24 << 20) // size)), size)
    else:
        size = rng.choice([64 << 10, 1 << 20, 4 << 20, 16 << 20, (16 << 20) + 1])
        conns = rng.choice([1, 1, 2, 3])
        data = ws_inflate_bomb(rng.randint(1, max(1, (48 << 20) // size // conns)), size, conns)
    return from_pcap(data), Bounds(inflate_budget_mb=budget, check_output=True)


def gen_flood(rng: random.Random, seeds: list[Capture]) -> tuple[Capture, Bounds]:
    """New flows (SYN, RST or bare ACK, each of its own addresses and ports) spread over a seed's
    packets, and a connection table small enough for them to fill it."""
    from tests.crafted_captures import ACK, RST, SERVER, SYN, ethernet, ipv4, tcp_header

    base = rng.choice(seeds)
    pkts = list(base.packets)
    lt = pkts[0].linktype if pkts else 1
    n = rng.choice([100, 1000, 4000]) if lt == 1 else 0  # Ethernet frames fit an Ethernet capture
    at = sorted(rng.randrange(len(pkts) + 1) for _ in range(n))  # the seed's order is kept
    merged: list[Pkt] = []
    k = 0
    for i in range(n):
        flags = rng.choice([SYN, SYN, SYN, RST | ACK, ACK, SYN | ACK])
        src = (bytes([10, 200, (i >> 8) & 0xFF, i & 0xFF]), 1024 + i % 60000)
        seg = tcp_header(src, SERVER, rng.getrandbits(32), rng.getrandbits(32), flags)
        frame = ethernet(ipv4(src[0], SERVER[0], seg))
        merged += pkts[k : at[i]]
        k = at[i]
        ts = merged[-1].ts if merged else pkts[0].ts if pkts else 1.7e9
        merged.append(Pkt(ts, lt, frame, len(frame)))
    merged += pkts[k:]
    return Capture(merged, base.fmt), Bounds(max_connections=rng.choice([4, 64, 1000]), check_output=True)


def gen_giant(rng: random.Random, seeds: list[Capture]) -> tuple[Capture, Bounds]:
    """A seed packet whose payload grows to megabytes (IPv4 total length 0, as TSO segments on the
    capturing host): a WebSocket frame or an HTTP body far longer than a record usually is."""
    base = rng.choice(seeds)
    pkts = list(base.packets)
    cands = [i for i, p in enumerate(pkts) if (lay := layers(p)) is not None and lay.end > lay.payload]
    if cands:
        i = rng.choice(cands)
        p = pkts[i]
        lay = layers(p)
        assert lay is not None
        old = p.data[lay.payload : lay.end]
        n = rng.choice([70_000, 300_000, 1 << 20, 4 << 20])
        grown = old + rng.choice([b"\x00", b"a", b"\xff", b"\x82\x7f"]) * (n - len(old))
        pkts[i] = with_payload(p, lay, grown)
    return Capture(pkts, rng.choice(["pcap", "pcapng"])), Bounds(check_output=True)


def gen_ws_frames(rng: random.Random, seeds: list[Capture]) -> tuple[Capture, Bounds]:
    """A message of many 2-byte frames (empty continuations): the most frame records per byte."""
    from tests.crafted_captures import ws_tiny_frames

    n = rng.choice([100, 5000, 60_000, 150_000])  # 150000 frames: past the default bound of 100000
    frames = rng.choice([None, None, 10, 1000])
    data = ws_tiny_frames(n, close=rng.random() < 0.7)
    return from_pcap(data), Bounds(check_output=True, max_frame_records=frames)


def _tunnel(rng: random.Random) -> Callable[[bytes], bytes | None]:
    """One encapsulation for every packet of a capture: an Ethernet frame carrying IPv4 in, the
    frame as a tunnel's traffic (or its IP packet behind more link headers) out."""
    from tests.crafted_captures import ETH_DST, ETH_SRC, ethernet, ipv4

    outer = (bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))

    def udp(port: int, body: bytes) -> bytes:
        return ethernet(ipv4(*outer, struct.pack("!HHHH", 50000, port, 8 + len(body), 0) + body, proto=17))

    kinds: dict[str, Callable[[bytes, bytes], bytes]] = {
        "vxlan": lambda eth, ip: udp(4789, b"\x08\x00\x00\x00" + struct.pack("!I", 42 << 8) + eth),
        "geneve": lambda eth, ip: udp(6081, struct.pack("!BBHI", 0, 0, 0x6558, 7 << 8) + eth),
        "gtpu": lambda eth, ip: udp(2152, struct.pack("!BBHI", 0x30, 0xFF, len(ip), 99) + ip),
        "gre-eth": lambda eth, ip: ethernet(ipv4(*outer, struct.pack("!HH", 0, 0x6558) + eth, proto=47)),
        "gre-ip": lambda eth, ip: ethernet(ipv4(*outer, struct.pack("!HH", 0, 0x0800) + ip, proto=47)),
        "ipip": lambda eth, ip: ethernet(ipv4(*outer, ip, proto=4)),
        "mpls": lambda eth, ip: ETH_DST + ETH_SRC + b"\x88\x47" + struct.pack("!I", 16 << 12 | 256 | 64) + ip,
        "qinq": lambda eth, ip: ETH_DST + ETH_SRC + b"\x88\xa8\x00\x0a\x81\x00\x00\x14\x08\x00" + ip,
        "pppoe": lambda eth, ip: (
            ETH_DST + ETH_SRC + b"\x88\x64" + struct.pack("!BBHH", 0x11, 0, 1, len(ip) + 2) + b"\x00\x21" + ip
        ),
    }
    kind = rng.choice(sorted(kinds))
    wrap = kinds[kind]

    def one(frame: bytes) -> bytes | None:
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            return None
        return wrap(frame, frame[14:])

    return one


def gen_tunnel(rng: random.Random, seeds: list[Capture]) -> tuple[Capture, Bounds]:
    """A seed's Ethernet/IPv4 packets inside one tunnel (VXLAN, Geneve, GTP-U, GRE, IP in IP, MPLS,
    QinQ, PPPoE), sometimes two deep; packets it cannot wrap are kept as they are."""
    base = rng.choice(seeds)
    wraps = [_tunnel(rng) for _ in range(rng.choice([1, 1, 1, 2]))]
    pkts = []
    for p in base.packets:
        data: bytes | None = p.data
        if p.linktype == 1:
            for w in wraps:
                data = w(data) if data is not None else None
        pkts.append(Pkt(p.ts, p.linktype, data, len(data)) if data is not None else p)
    return Capture(pkts, base.fmt), Bounds(check_output=True)


def gen_resync(rng: random.Random, seeds: list[Capture]) -> tuple[Capture, Bounds]:
    """A permessage-deflate WebSocket stream captured without its handshake (decoded --decode-as):
    compressed frames with RSV1, with or without context takeover, some cut or repeated, so the
    resynchronisation search meets compressed payload (issue #16 item 5)."""
    import zlib

    from tests.crafted_captures import SERVER, cframe, conversation, sframe

    takeover = rng.random() < 0.5
    comp = {d: zlib.compressobj(9, zlib.DEFLATED, -15) for d in "cs"}
    chunks: list[tuple[str, bytes]] = []
    for i in range(rng.choice([3, 20, 200])):
        side = rng.choice("cs")
        text = (f'42["event{i}",{{"n":{i},"pad":"' + "x" * rng.choice([1, 50, 3000]) + '"}]').encode()
        c = comp[side] if takeover else zlib.compressobj(9, zlib.DEFLATED, -15)
        body = (c.compress(text) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
        frame = (cframe if side == "c" else sframe)(body, rsv=0x40)
        if rng.random() < 0.1:
            frame = frame[: rng.randrange(1, len(frame))]  # a frame cut short: the next is a resync
        chunks.append((side, frame))
    cap = conversation(chunks, close=rng.random() < 0.5)
    if rng.random() < 0.5:  # the capture starts after the handshake and a few segments
        cap.packets = cap.packets[3 + rng.randrange(3) :]
    return from_pcap(cap.pcap()), Bounds(check_output=True, decode_as=SERVER[1])


GENERATORS: dict[str, Callable[[random.Random, list[Capture]], tuple[Capture, Bounds]]] = {
    "placeholders": gen_placeholders,
    "inflate": gen_inflate,
    "flood": gen_flood,
    "giant": gen_giant,
    "ws-frames": gen_ws_frames,
    "tunnel": gen_tunnel,
    "resync": gen_resync,
}
GENERATED_SHARE = 0.1  # of the inputs


def claim_giant_record(rng: random.Random, data: bytes) -> bytes:
    """A last pcap record whose header claims far more bytes than the file holds."""
    if data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return data
    claim = rng.choice([1 << 20, 1 << 28, 0x7FFFFFFF, 0xFFFFFFFF])
    return data + struct.pack("<IIII", 1_700_000_000, 0, claim, claim) + rng.randbytes(rng.randrange(64))


# --------------------------------------------------------------------------------------------
# running one input


MAX_POOL = 300
LAYER_NAMES = ("websocket", "engineio", "socketio")


class Hang(BaseException):  # the alarm: not an error of the code under test, so no Exception
    pass


WALL_FACTOR = 10  # the wall-clock backstop, in units of the CPU limit (a wait burns no CPU)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """At most `seconds` of this process's CPU time (user + system, ITIMER_PROF), so that the
    limit means the same on an idle machine and on one shared with other work; and at most
    WALL_FACTOR times as long by the clock, for a hang that waits instead of computing."""

    def fire_cpu(signum: int, frame: Any) -> None:
        raise Hang(f"more than {seconds} s of CPU time")

    def fire_wall(signum: int, frame: Any) -> None:
        raise Hang(f"more than {seconds * WALL_FACTOR} s by the clock")

    old_prof = signal.signal(signal.SIGPROF, fire_cpu)
    old_alrm = signal.signal(signal.SIGALRM, fire_wall)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, seconds * WALL_FACTOR)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, old_prof)
        signal.signal(signal.SIGALRM, old_alrm)


class Finding(Exception):
    """An input broke a contract (not raised by the code under test)."""


@dataclass
class Checker:
    workdir: Path
    exporters: bool = False
    features: set[str] = field(default_factory=set)  # anomaly codes of the last input
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    _validator: Any = field(default=None, init=False)

    def validator(self) -> Any:
        if self._validator is None:
            import jsonschema

            schema = json.loads(SCHEMA_PATH.read_text())
            self._validator = jsonschema.validators.validator_for(schema)(schema)
        return self._validator

    def check(
        self, capfile: Path, decode_as: list[str], exporters: bool, bounds: Bounds | None = None
    ) -> None:
        """Raise whatever the code under test raises, or Finding for a broken contract."""
        bounds = bounds or Bounds()
        with bounds.table():
            self._check(capfile, decode_as, exporters, bounds)

    def _check(self, capfile: Path, decode_as: list[str], exporters: bool, bounds: Bounds) -> None:
        from analyzer import analyze_file
        from analyzer.capture.pcapfile import CaptureError
        from analyzer.cli import main
        from analyzer.model.registry import lookup

        out = self.workdir / "out.json"
        if bounds.decode_as is not None and not decode_as:
            decode_as = [f"{bounds.decode_as}=websocket"]
        extra = [a for d in decode_as for a in ("--decode-as", d)] + bounds.args()
        with contextlib.redirect_stderr(io.StringIO()) as err:
            rc = main(["analyze", str(capfile), "--format", "json", "-o", str(out), "--no-progress", *extra])
        if rc == 3:
            return  # not a capture at all: one line on stderr, checked below
        if rc not in (0, 4):
            raise Finding(f"analyze --format json: exit {rc}: {err.getvalue()[:300]}")
        if rc == 4 and len(err.getvalue().strip().splitlines()) != 1:
            raise Finding(f"damaged capture: stderr is not one line: {err.getvalue()[:300]!r}")
        if bounds.check_output:  # docs/bounds.md: nothing the input controls multiplies it
            size, limit = out.stat().st_size, 64 * capfile.stat().st_size + (32 << 20)
            if size > limit:
                raise Finding(f"document of {size} bytes from a {capfile.stat().st_size}-byte input")
        text = out.read_bytes().decode("utf-8")  # Finding if not UTF-8
        try:
            streamed = json.loads(text)
        except ValueError as exc:
            raise Finding(f"analyze --format json: not JSON: {exc}") from None
        errors = sorted(self.validator().iter_errors(sampled(streamed)), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            raise Finding(f"schema: {e.message[:200]} at {'/'.join(map(str, e.path))}")
        self.features = {a["code"] for a in streamed["anomalies"]}
        for a in streamed["anomalies"]:
            d = lookup(a["code"])
            if (d.severity.value, d.layer.value) != (a["severity"], a["layer"]):
                raise Finding(f"anomaly {a['code']}: severity/layer differ from the registry")
        # the in-memory model and its to_dict: the same document (tests/tcp/test_streaming.py)
        opts = bounds.options({int(p): v for p, _, v in (x.partition("=") for x in decode_as)})
        try:
            whole = json.loads(json.dumps(analyze_file(str(capfile), opts).to_dict()))
        except CaptureError:
            raise Finding("analyze_file raised CaptureError where the CLI read the capture") from None
        streamed["connections"].sort(key=lambda c: c["id"])
        if streamed != whole:
            raise Finding("streamed document differs from the in-memory one: " + _first_diff(streamed, whole))
        # the text summary with the message and event logs
        txt = self.workdir / "out.txt"
        with contextlib.redirect_stderr(io.StringIO()):
            rc = main(
                ["analyze", str(capfile), "--messages", "--events", "-o", str(txt), "--no-progress", *extra]
            )
        if rc not in (0, 4):
            raise Finding(f"text summary: exit {rc}")
        txt.read_bytes().decode("utf-8")
        if exporters:
            self.check_exporters(capfile, extra + self.selection(streamed))

    def selection(self, doc: dict[str, Any]) -> list[str]:
        """Selection options for the exporters, drawn from what the document holds (or none)."""
        rng = self.rng
        args: list[str] = []
        conns = [c["id"] for c in doc["connections"]]
        sessions = doc["engineio_sessions"]
        if conns and rng.random() < 0.3:
            args += ["--connection", str(rng.choice(conns))]
        if sessions and rng.random() < 0.3:
            args += ["--sid", str(rng.choice(sessions)["sid"])]
        sio = [p for s in sessions if s.get("socketio") for p in s["socketio"]["packets"]]
        if sio and rng.random() < 0.3:
            p = rng.choice(sio)
            if isinstance(p.get("nsp"), str):
                args += ["--namespace", p["nsp"]]
            if isinstance(p.get("event"), str) and rng.random() < 0.5:
                args += ["--event", p["event"]]
        return args

    def check_exporters(self, capfile: Path, extra: list[str]) -> None:
        from analyzer.cli import main

        for fmt in ("har", "jsonl", "csv", "pcap"):
            args = list(extra)
            if fmt == "jsonl" and self.rng.random() < 0.5:
                args += ["--layer", self.rng.choice(LAYER_NAMES)]
            out = self.workdir / f"export.{fmt}"
            if fmt == "csv":
                out = self.workdir / "csvdir"
                out.mkdir(exist_ok=True)
            elif out.exists():
                out.unlink()
            with contextlib.redirect_stderr(io.StringIO()) as err:
                rc = main(["export", str(capfile), "--format", fmt, "-o", str(out), *args])
            if rc not in (0, 4):
                raise Finding(f"export {fmt}: exit {rc}: {err.getvalue()[:300]}")
            if fmt == "har":
                json.loads(out.read_bytes().decode("utf-8"))
            elif fmt == "jsonl":
                for line in out.read_bytes().decode("utf-8").splitlines():
                    json.loads(line)
            elif fmt == "csv":
                csv.field_size_limit(1 << 30)  # cells may hold whole messages (the default is 128 KiB)
                for f in out.iterdir():
                    with f.open(encoding="utf-8", newline="") as fh:
                        list(csv.reader(fh))
            else:
                from analyzer.capture.pcapfile import open_capture

                reader = open_capture(str(out))
                list(reader)
                if reader.error:
                    raise Finding(f"export pcap: the slice is damaged: {reader.error}")


SCHEMA_SAMPLE = 1000  # items of a long list validated: its first and last


def sampled(doc: Any) -> Any:
    """The document with every list longer than 2 x SCHEMA_SAMPLE cut to its first and last
    SCHEMA_SAMPLE items: every item of a list has the same schema, and validating 100000 frame
    records took the harness a minute (jsonschema), long after the analyzer had finished."""
    if isinstance(doc, dict):
        return {k: sampled(v) for k, v in doc.items()}
    if isinstance(doc, list):
        if len(doc) > 2 * SCHEMA_SAMPLE:
            doc = doc[:SCHEMA_SAMPLE] + doc[-SCHEMA_SAMPLE:]
        return [sampled(v) for v in doc]
    return doc


def _first_diff(a: Any, b: Any, path: str = "") -> str:
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}/{k}: missing on one side"
            if a[k] != b[k]:
                return _first_diff(a[k], b[k], f"{path}/{k}")
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_diff(x, y, f"{path}/{i}")
    return f"{path}: {str(a)[:80]!r} != {str(b)[:80]!r}"


def signature(exc: BaseException) -> str:
    """Exception type and the innermost frame in analyzer/ (or the message for a Finding)."""
    if isinstance(exc, Finding):
        return "Finding: " + re.sub(r"\d+", "N", str(exc))[:120]
    where = ""
    for fs in traceback.extract_tb(exc.__traceback__):
        if "/analyzer/" in fs.filename or "/webui/" in fs.filename:
            where = f"{Path(fs.filename).relative_to(ROOT)}:{fs.lineno}"
    return f"{type(exc).__name__} at {where or '?'}"


# --------------------------------------------------------------------------------------------
# the loop


@dataclass
class Stats:
    execs: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    slowest: float = 0.0
    peak_rss_mb: float = 0.0
    codes: set[str] = field(default_factory=set)  # distinct anomaly codes seen


def run_one(
    checker: Checker,
    data: bytes,
    decode_as: list[str],
    exporters: bool,
    timeout: float,
    bounds: Bounds | None = None,
) -> tuple[BaseException | None, float]:
    path = checker.workdir / "input.pcap"
    path.write_bytes(data)
    checker.features = set()
    t0 = time.monotonic()
    try:
        with time_limit(timeout):
            checker.check(path, decode_as, exporters, bounds)
    except (Exception, Hang) as exc:  # every escape is a finding
        return exc, time.monotonic() - t0
    return None, time.monotonic() - t0


def fuzz(
    seconds: float,
    seed: int,
    seed_files: list[Path] | None = None,
    out_dir: Path | None = None,
    timeout: float = 10.0,
    max_execs: int | None = None,
    exporters_every: int = 25,
    log: Callable[[str], None] | None = None,
) -> Stats:
    """Fuzz for `seconds` (or `max_execs` inputs); findings are saved in `out_dir` (one input per
    distinct signature, with its traceback) when given. Returns the counts."""
    rng = random.Random(seed)
    seeds = [load_seed(p) for p in (seed_files or default_seeds())]
    seeds = [s for s in seeds if s.packets]
    mut = Mutator(rng, seeds)
    stats = Stats()
    seen: set[str] = set()
    pool: list[Capture] = []  # inputs kept for a new feature (bounded)
    features: set[str] = set()
    start = time.monotonic()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory(prefix="socketscope-fuzz-") as tmp:
        checker = Checker(Path(tmp), rng=random.Random(seed))
        while time.monotonic() - start < seconds and (max_execs is None or stats.execs < max_execs):
            bounds = Bounds()
            generated = rng.random() < GENERATED_SHARE
            if generated:  # built to hit a bound (docs/bounds.md), sometimes mutated a little
                name = rng.choice(sorted(GENERATORS))
                cap, bounds = GENERATORS[name](rng, seeds)
                how = [f"gen:{name}"]
                if rng.random() < 0.3:
                    cap, more = mut.mutate(cap)
                    how += more
                data = to_bytes(cap)
                if name == "giant" and rng.random() < 0.5:
                    data = claim_giant_record(rng, data)
                    how.append("claim")
            else:
                # half the time an input that showed an anomaly code no input had shown before
                base = rng.choice(pool) if pool and rng.random() < 0.5 else rng.choice(seeds)
                cap, how = mut.mutate(base)
                data = to_bytes(cap)
            if rng.random() < 0.05:
                data = mut.file_bytes(data)
                how.append("file")
            decode_as: list[str] = []
            if rng.random() < 0.1:
                ports = [layers(p) for p in cap.packets[:8]]
                found = [
                    struct.unpack_from("!H", p.data, lay.tcp + 2)[0]
                    for p, lay in zip(cap.packets, ports, strict=False)
                    if lay
                ]
                if found and 0 < found[0] < 65536:
                    decode_as = [f"{found[0]}=websocket"]
            if bounds.decode_as is not None:
                decode_as = [f"{bounds.decode_as}=websocket"]
            exporters = exporters_every > 0 and stats.execs % exporters_every == 0
            exc, took = run_one(checker, data, decode_as, exporters, timeout, bounds)
            stats.execs += 1
            stats.slowest = max(stats.slowest, took)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            if rss > stats.peak_rss_mb:
                stats.peak_rss_mb = rss
                if rss - base_rss > 512 and exc is None:
                    exc = Finding(f"peak RSS grew to {rss:.0f} MB on a {len(data)}-byte input")
            if log and stats.execs % 500 == 0:
                log(
                    f"[{stats.execs}] {time.monotonic() - start:.0f}s, {len(seen)} distinct findings, "
                    f"{len(features)} anomaly codes, pool {len(pool)}"
                )
            if exc is None:
                new = checker.features - features
                if new and generated:
                    features |= new  # big inputs: not kept for mutation
                elif new:
                    features |= new
                    if len(pool) < MAX_POOL:
                        pool.append(cap)
                    else:
                        pool[rng.randrange(MAX_POOL)] = cap
                continue
            sig = signature(exc)
            stats.findings[sig] = stats.findings.get(sig, 0) + 1
            if sig not in seen:
                seen.add(sig)
                if log:
                    log(f"[{stats.execs}] NEW {sig} ({' '.join(how)}; {decode_as})")
                if out_dir is not None:
                    out_dir.mkdir(parents=True, exist_ok=True)
                    name = f"finding-{len(seen):03d}"
                    (out_dir / f"{name}.pcap").write_bytes(data)
                    tb = "".join(traceback.format_exception(exc))
                    meta = (
                        f"{sig}\nmutations: {' '.join(how)}\ndecode_as: {decode_as}\n"
                        f"bounds: {bounds.text()}\nseed: {seed}\n\n{tb}"
                    )
                    (out_dir / f"{name}.txt").write_text(meta)
            if isinstance(exc, Hang | MemoryError):
                break  # the process state is no longer trustworthy
    stats.seconds = time.monotonic() - start
    stats.codes = features
    return stats


def replay(paths: list[Path], timeout: float, exporters: bool) -> int:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.pcap")) if p.is_dir() else [p]
    bad = 0
    with tempfile.TemporaryDirectory(prefix="socketscope-replay-") as tmp:
        checker = Checker(Path(tmp))
        for f in files:
            meta = f.with_suffix(".txt")
            decode_as: list[str] = []
            bounds = Bounds()
            if meta.exists():
                text = meta.read_text()
                m = re.search(r"^decode_as: \[(.*)\]$", text, re.M)
                if m and m.group(1):
                    decode_as = [x.strip(" '") for x in m.group(1).split(",")]
                b = re.search(r"^bounds: (.*)$", text, re.M)
                if b:
                    bounds = Bounds.parse(b.group(1))
            exc, took = run_one(checker, f.read_bytes(), decode_as, exporters, timeout, bounds)
            if exc is None:
                print(f"ok    {f} ({took:.2f}s)")
            else:
                bad += 1
                print(f"FAIL  {f}: {signature(exc)}: {str(exc)[:200]}")
    return 1 if bad else 0


def fuzz_atheris(
    seconds: float,
    seed: int,
    seed_files: list[Path] | None,
    out_dir: Path,
    timeout: float,
    corpus: Path | None = None,
) -> None:
    """Coverage-guided mode (needs `pip install atheris`; not used by the tests): libFuzzer keeps
    the inputs that reach new code of analyzer/, and this module's Mutator makes the mutations
    (a quarter of them libFuzzer's own byte mutations of the file). A finding stops the run with
    libFuzzer's crash report and the input in `out_dir`."""
    import importlib
    import pkgutil

    import atheris

    with atheris.instrument_imports(include=["analyzer"]):
        import analyzer

        for m in pkgutil.walk_packages(analyzer.__path__, "analyzer."):
            if not m.name.startswith(("analyzer.capture.live", "analyzer.capture.tshark", "analyzer.cli")):
                importlib.import_module(m.name)
    seeds = [c for c in (load_seed(p) for p in (seed_files or default_seeds())) if c.packets]
    rng = random.Random(seed)
    mut = Mutator(rng, seeds)
    tmp = Path(tempfile.mkdtemp(prefix="socketscope-atheris-"))
    checker = Checker(tmp)
    parse_path = tmp / "parse.pcap"

    def parse(data: bytes) -> Capture | None:
        from analyzer.capture.pcapfile import CaptureError

        parse_path.write_bytes(data)
        try:
            cap = load_seed(parse_path)
        except CaptureError:
            return None
        return cap if cap.packets else None

    def custom_mutator(data: bytes, max_size: int, mseed: int) -> bytes:
        try:
            return mutate(data, max_size, mseed)
        except Exception:  # a bug of this harness: libFuzzer would hang on it, so say it and go on
            traceback.print_exc()
            return bytes(atheris.Mutate(data, max_size))

    def mutate(data: bytes, max_size: int, mseed: int) -> bytes:
        rng.seed(mseed)
        cap = parse(data)
        if cap is not None and rng.random() < 0.25:
            return bytes(atheris.Mutate(data, max_size))
        new, _ = mut.mutate(cap if cap is not None else rng.choice(seeds))
        out = to_bytes(new)
        if rng.random() < 0.05:
            out = mut.file_bytes(out)
        return out[:max_size]

    def test_one(data: bytes) -> None:
        exc, _took = run_one(checker, data, [], False, timeout)
        if exc is not None:
            print(signature(exc), file=sys.stderr)
            raise exc

    corpus = corpus or tmp / "corpus"  # libFuzzer's corpus: give one to resume from it later
    corpus.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.argv[0],
        str(corpus),
        "-max_len=400000",
        f"-timeout={int(timeout * 2)}",
        "-rss_limit_mb=3072",
        f"-seed={seed}",
        f"-max_total_time={int(seconds)}",
        f"-artifact_prefix={out_dir}/",
        "-print_final_stats=1",
    ]
    atheris.Setup(argv, test_one, custom_mutator=custom_mutator)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "socketscope-fuzz")
    ap.add_argument("--seeds", type=Path, nargs="*", help="seed captures (default: captures/ and the corpus)")
    ap.add_argument(
        "--timeout", type=float, default=10.0, help="CPU seconds one input may take (10x that by the clock)"
    )
    ap.add_argument("--exporters-every", type=int, default=25, help="run the exporters on every Nth input")
    ap.add_argument("--memory-mb", type=int, default=3072, help="address-space limit (MemoryError beyond)")
    ap.add_argument("--replay", type=Path, nargs="+", help="re-run saved inputs instead of fuzzing")
    ap.add_argument("--atheris", action="store_true", help="coverage-guided, with atheris (pip install)")
    ap.add_argument("--corpus", type=Path, help="--atheris: libFuzzer's corpus folder (kept between runs)")
    args = ap.parse_args(argv)
    sys.setrecursionlimit(3000)
    if args.memory_mb:
        limit = args.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if args.replay:
        return replay(args.replay, args.timeout, exporters=True)
    if args.atheris:
        fuzz_atheris(args.seconds, args.seed, args.seeds, args.out, args.timeout, args.corpus)
        return 0
    stats = fuzz(
        args.seconds,
        args.seed,
        args.seeds,
        args.out,
        args.timeout,
        exporters_every=args.exporters_every,
        log=lambda s: print(s, flush=True),
    )
    print(
        f"{stats.execs} inputs in {stats.seconds:.0f} s ({stats.execs / max(stats.seconds, 1e-9):.1f}/s), "
        f"slowest {stats.slowest:.2f} s, peak RSS {stats.peak_rss_mb:.0f} MB, "
        f"{len(stats.codes)} anomaly codes seen"
    )
    from analyzer.model.registry import REGISTRY

    print("codes never seen:", " ".join(sorted(set(REGISTRY) - stats.codes)))
    for sig, n in sorted(stats.findings.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {sig}")
    print(f"findings saved in {args.out}" if stats.findings else "no findings")
    return 1 if stats.findings else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
