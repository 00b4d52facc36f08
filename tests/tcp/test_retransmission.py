"""tcp.retransmission and tcp.port-reuse: what they flag, and the same packets as tshark.

A retransmission is a segment with data, SYN or FIN that starts below the highest sequence
number already seen in its direction, as tshark's `tcp.analysis.retransmission` (which
includes its spurious and fast retransmissions). One documented difference, expressed as a
rule below: tshark calls such a segment `out-of-order` instead when it comes within the
handshake RTT (3 ms without one) of the highest segment; socketscope does not decide from
timing, so it flags those too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from analyzer import analyze_file
from analyzer.model.common import Anomaly, Direction
from analyzer.tcp.reassembly import MAX_LISTED_RETRANSMISSIONS
from tests.conftest import bundled_captures, corpus_captures, corpus_file, corpus_id
from tests.crafted_captures import (
    ACK,
    CLIENT6,
    RST,
    SERVER6,
    SYN,
    Capture,
    Tcp,
    tcp_port_reuse,
    tcp_retransmissions,
)

C, S = Direction.C2S, Direction.S2C


def analyse(tmp_path: Path, cap: Capture, name: str = "x.pcap") -> tuple[Path, list[Anomaly], list[int]]:
    path = tmp_path / name
    path.write_bytes(cap.pcap())
    a = analyze_file(str(path))
    return path, a.anomalies, [c.tcp["retransmissions"] for c in a.connections]


def records(anomalies: list[Anomaly], code: str) -> list[Anomaly]:
    return [a for a in anomalies if a.code == code]


def test_every_kind_of_retransmission_is_flagged(tmp_path: Path) -> None:
    _, anomalies, counts = analyse(tmp_path, tcp_retransmissions())
    got = {(a.connection, a.direction): a for a in records(anomalies, "tcp.retransmission")}
    assert set(got) == {(0, C), (0, S)}  # one record per connection and direction
    # SYN again, duplicate, partial overlap, into a hole, FIN again; not the keep-alive (13)
    assert got[0, C].frames == (2, 7, 8, 10, 15)
    assert got[0, S].frames == (4, 12)  # SYN-ACK again, into a hole
    assert got[0, C].message == (
        "5 segments retransmitted: 2 with bytes already received, 1 into a hole behind later data "
        "(lost before the capture point, or reordered), 2 SYN, SYN-ACK or FIN sent again"
    )
    assert counts == [7]  # the JSON's tcp.retransmissions counts the same segments


def test_no_retransmission_no_record(tmp_path: Path) -> None:
    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    tcp.data("c", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 200)  # several segments, in order
    tcp.send("c", b"\x00", seq=tcp.nxt["c"] - 1, flags=ACK)  # a keep-alive
    tcp.close()
    _, anomalies, counts = analyse(tmp_path, cap)
    assert records(anomalies, "tcp.retransmission") == [] and counts == [0]


def test_the_listed_packets_are_bounded(tmp_path: Path) -> None:
    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    first = tcp.send("c", b"GET / HTTP/1.1\r\n")
    n = MAX_LISTED_RETRANSMISSIONS + 20
    for _ in range(n):
        tcp.send("c", b"GET / HTTP/1.1\r\n", seq=1001)
    tcp.close()
    _, anomalies, counts = analyse(tmp_path, cap)
    [rec] = records(anomalies, "tcp.retransmission")
    assert rec.frames == tuple(range(first + 1, first + 1 + MAX_LISTED_RETRANSMISSIONS))
    assert rec.message.startswith(f"{n} segments retransmitted: {n} with bytes already received")
    assert rec.message.endswith(f"; the first {MAX_LISTED_RETRANSMISSIONS} listed")
    assert counts == [n]


def test_duplicated_capture_matches_tshark_count() -> None:
    """The issue's capture: every packet of one connection captured twice (two interfaces of a
    Docker bridge). tshark flags 16: 12 data segments, the SYN, the SYN-ACK and both FINs."""
    a = analyze_file(str(corpus_file("evsetool", "cap.pcapng")))
    recs = records(a.anomalies, "tcp.retransmission")
    assert sorted(f for r in recs for f in r.frames) == [
        5,
        7,
        13,
        17,
        24,
        26,
        30,
        32,
        36,
        38,
        42,
        44,
        51,
        53,
        57,
        64,
    ]
    assert sum(c.tcp["retransmissions"] for c in a.connections) == 16


# --- tshark ----------------------------------------------------------------------------------------
FLAGS = ("tcp.analysis.retransmission", "tcp.analysis.out_of_order", "tcp.analysis.reused_ports")


def tshark_flags(tshark: str, capture: Path) -> dict[str, set[int]]:
    """The frames tshark flags with each of FLAGS."""
    cmd = [tshark, "-n", "-r", str(capture), "-Y", " or ".join(FLAGS), "-T", "fields", "-e", "frame.number"]
    for f in FLAGS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    found: dict[str, set[int]] = {f: set() for f in FLAGS}
    for line in out.splitlines():
        frame, *values = line.split("\t")
        for f, v in zip(FLAGS, values, strict=True):
            if v:
                found[f].add(int(frame))
    return found


def check_against_tshark(tshark: str, capture: Path) -> dict[str, set[int]]:
    a = analyze_file(str(capture))
    theirs = tshark_flags(tshark, capture)
    ours = [f for r in records(a.anomalies, "tcp.retransmission") for f in r.frames]
    assert len(ours) == sum(c.tcp["retransmissions"] for c in a.connections), "every one listed"
    retx, ooo = theirs["tcp.analysis.retransmission"], theirs["tcp.analysis.out_of_order"]
    assert retx <= set(ours), f"tshark flags {sorted(retx - set(ours))}, socketscope does not"
    # the one difference: below the highest sequence number but soon after it (tshark's timing)
    extra = set(ours) - retx
    assert extra <= ooo, f"flagged by socketscope only, not out-of-order in tshark: {sorted(extra - ooo)}"
    reuse = {f for r in records(a.anomalies, "tcp.port-reuse") for f in r.frames}
    assert reuse == theirs["tcp.analysis.reused_ports"]
    return theirs


def crafted_files(tmp: Path) -> list[Path]:
    paths = []
    for name, cap in (
        ("retransmissions.pcap", tcp_retransmissions()),
        ("retransmissions-ipv6.pcap", tcp_retransmissions(CLIENT6, SERVER6)),
        ("reuse-fin.pcap", tcp_port_reuse()),
        ("reuse-rst.pcap", tcp_port_reuse(end="rst")),
        ("reuse-after-linger.pcap", tcp_port_reuse(gap=120.0)),
    ):
        paths.append(tmp / name)
        paths[-1].write_bytes(cap.pcap())
    return paths


def _id(p: Path) -> str:
    return corpus_id(p) if "corpus" in p.parts else p.name


@pytest.mark.tshark
@pytest.mark.parametrize("capture", corpus_captures() + bundled_captures(), ids=_id)
def test_retransmissions_and_port_reuse_match_tshark(capture: Path, tshark: str) -> None:
    check_against_tshark(tshark, capture)


@pytest.mark.tshark
def test_crafted_captures_match_tshark(tmp_path: Path, tshark: str) -> None:
    retx, retx6, *reuses = crafted_files(tmp_path)
    for path in (retx, retx6):
        theirs = check_against_tshark(tshark, path)
        # the rule is not vacuous here: both kinds of tshark flag occur
        assert theirs["tcp.analysis.retransmission"] == {2, 4, 7, 8, 10, 15}
        assert theirs["tcp.analysis.out_of_order"] == {12}
    for path in reuses:
        assert len(check_against_tshark(tshark, path)["tcp.analysis.reused_ports"]) == 1


# --- port reuse ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("end", "gap", "how"),
    [
        ("fin", 1.0, "finished, FIN at packet 6"),
        ("rst", 1.0, "reset at packet 6"),
        ("fin", 120.0, "closed"),  # the first one was closed (lingering over) before the SYN came
    ],
)
def test_port_reuse_is_reported_on_the_new_connection(tmp_path: Path, end: str, gap: float, how: str) -> None:
    path, anomalies, _ = analyse(tmp_path, tcp_port_reuse(gap=gap, end=end))
    a = analyze_file(str(path))
    assert [x.request.target for c in a.connections for x in c.http if x.request] == ["/one", "/two"]
    [rec] = records(anomalies, "tcp.port-reuse")
    syn = a.connections[1].tcp["handshake"]["syn_frame"]
    assert (rec.connection, rec.direction, rec.frames) == (1, C, (syn,))
    assert (
        rec.message
        == f"the SYN reuses the addresses and ports of connection 0 ({how}); a new connection starts"
    )


def test_a_retransmitted_syn_is_not_a_port_reuse(tmp_path: Path) -> None:
    cap = Capture()
    tcp = Tcp(cap)
    tcp.send("c", flags=SYN)
    tcp.send("c", flags=SYN, seq=1000, dt=1.0)
    tcp.send("s", flags=SYN | ACK)
    tcp.send("c", flags=ACK)
    tcp.send("c", flags=RST | ACK)
    _, anomalies, _ = analyse(tmp_path, cap)
    assert records(anomalies, "tcp.port-reuse") == []
    [rec] = records(anomalies, "tcp.retransmission")
    assert rec.frames == (2,)
