#!/usr/bin/env python3
"""Small hostile captures that once cost a big machine (issue #16), for measuring the bounds.

    python benchmarks/hostile.py [--out benchmarks/out/hostile] [--syns 1000000]
    /usr/bin/time -v socketscope analyze benchmarks/out/hostile/syn-1000000.pcap -q > /dev/null

Writes (never commit them; benchmarks/out/ is git-ignored):

* ``sio-placeholders.pcap`` (about 1 MB): a Socket.IO BINARY_EVENT whose one 1 MiB attachment is
  named by 200 placeholders;
* ``ws-inflate.pcap`` (about 330 KB): 20 permessage-deflate messages of one connection, each
  inflating to the 16 MiB per-message bound;
* ``http-gzip.pcap``: 40 gzip responses on one connection, each inflating to 8 MiB;
* ``ws-tiny-frames.pcap`` (about 1 MB): one WebSocket message of 500 000 empty continuation
  frames of 2 bytes each (``00 00``), the most frame records per byte;
* ``syn-N.pcap``: N SYNs, each of a new flow (distinct address and port), and ``rst-N.pcap``:
  N RSTs the same way; written packet by packet, so N = 1 000 000 needs no memory.

The builders are tests/crafted_captures.py's (real protocol bytes); docs/benchmarks.md ("Hostile
captures") has the measurements and docs/bounds.md the bounds they hit.
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.crafted_captures import (  # noqa: E402
    ACK,
    RST,
    SERVER,
    SYN,
    T0,
    ethernet,
    http_gzip_bomb,
    ipv4,
    sio_placeholders,
    tcp_header,
    ws_inflate_bomb,
    ws_tiny_frames,
)


def write_flood(path: Path, n: int, rst: bool = False) -> None:
    """N packets, each the first of a new flow, streamed to a classic pcap (pcap-savefile(5))."""
    flags = RST | ACK if rst else SYN
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i in range(n):
            src = (bytes([10, (i >> 24) & 0x3F | 0x40, (i >> 16) & 0xFF, (i >> 8) & 0xFF]), 1024 + (i & 0xFF))
            seg = tcp_header(src, SERVER, 1000 + i, 0, flags, b"" if rst else b"\x02\x04\x05\xb4")
            data = ethernet(ipv4(src[0], SERVER[0], seg))
            ts = T0 + i * 1e-5
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, round((ts - sec) * 1e6) % 1_000_000, len(data), len(data)))
            f.write(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "hostile")
    ap.add_argument("--syns", type=int, action="append", help="flows of the SYN/RST floods (repeatable)")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "sio-placeholders.pcap").write_bytes(sio_placeholders(200, 1 << 20))
    (out / "ws-inflate.pcap").write_bytes(ws_inflate_bomb(20, 16 << 20))
    (out / "http-gzip.pcap").write_bytes(http_gzip_bomb(40, 8 << 20))
    (out / "ws-tiny-frames.pcap").write_bytes(ws_tiny_frames(500_000))
    for n in args.syns or [100_000, 1_000_000]:
        write_flood(out / f"syn-{n}.pcap", n)
        write_flood(out / f"rst-{n}.pcap", n, rst=True)
    for p in sorted(out.glob("*.pcap")):
        print(f"{p}  {p.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
