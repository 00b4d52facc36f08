"""Ask tshark for each TCP stream's endpoints and 3-way handshake, for comparison."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SYN, ACK = 0x02, 0x10


@dataclass
class TsharkStream:
    stream: int
    first_frame: int
    endpoints: set[tuple[str, int]] = field(default_factory=set)
    syn: tuple[int, str, int] | None = None  # frame, src ip, src port
    synack: int | None = None
    server_isn: int | None = None
    ack: int | None = None
    initial_rtt: float | None = None
    times: dict[int, float] = field(default_factory=dict)  # handshake frame -> epoch time
    packets: int = 0


def tshark_streams(tshark: str, capture: Path) -> dict[int, TsharkStream]:
    cmd = [
        tshark,
        "-n",
        "-r",
        str(capture),
        "-Y",
        "tcp",
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-e",
        "tcp.stream",
        "-e",
        "frame.number",
        "-e",
        "ip.src",
        "-e",
        "ipv6.src",
        "-e",
        "tcp.srcport",
        "-e",
        "ip.dst",
        "-e",
        "ipv6.dst",
        "-e",
        "tcp.dstport",
        "-e",
        "tcp.flags",
        "-e",
        "tcp.seq_raw",
        "-e",
        "tcp.ack_raw",
        "-e",
        "tcp.analysis.initial_rtt",
        "-e",
        "frame.time_epoch",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    streams: dict[int, TsharkStream] = {}
    for line in out.splitlines():
        f = line.split("\t")
        sid, frame = int(f[0]), int(f[1])
        src, dst = f[2] or f[3], f[5] or f[6]
        sport, dport = int(f[4]), int(f[7])
        flags, seq = int(f[8], 16), int(f[9])
        ack = int(f[10]) if f[10] else 0
        s = streams.setdefault(sid, TsharkStream(sid, frame))
        s.packets += 1
        s.endpoints |= {(src, sport), (dst, dport)}
        if flags & SYN and not flags & ACK and s.syn is None:
            s.syn = (frame, src, sport)
            s.times[frame] = float(f[12])
        elif flags & SYN and flags & ACK and s.synack is None:
            s.synack, s.server_isn = frame, seq
        elif (
            flags & ACK
            and not flags & SYN
            and s.ack is None
            and s.syn
            and s.server_isn is not None
            and (src, sport) == s.syn[1:]
            and ack == (s.server_isn + 1) & 0xFFFFFFFF
        ):
            s.ack = frame
            s.times[frame] = float(f[12])
        if f[11] and s.initial_rtt is None:
            s.initial_rtt = float(f[11])
    return streams
