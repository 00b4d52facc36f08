"""Every shared capture: TCP connections, endpoints, handshake frames and RTT agree with tshark."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer import analyze_file
from tests.conftest import bundled_captures, corpus_captures, corpus_id
from tests.oracle.tshark_tcp import tshark_streams

ALL = corpus_captures() + bundled_captures()


@pytest.mark.tshark
@pytest.mark.parametrize("capture", ALL, ids=lambda p: corpus_id(p) if "corpus" in p.parts else p.name)
def test_tcp_connections_match_tshark(capture: Path, tshark: str) -> None:
    expected = tshark_streams(tshark, capture)
    analysis = analyze_file(str(capture))
    got = analysis.connections
    assert len(got) == len(expected), "number of TCP connections differs from tshark's tcp.stream count"
    for rec, sid in zip(got, sorted(expected), strict=True):
        ts = expected[sid]
        eps = {(rec.client["ip"], rec.client["port"]), (rec.server["ip"], rec.server["port"])}
        assert eps == ts.endpoints, f"stream {sid}: endpoints"
        assert rec.tcp["first_frame"] == ts.first_frame, f"stream {sid}: first packet"
        assert rec.tcp["packets"]["c2s"] + rec.tcp["packets"]["s2c"] == ts.packets, f"stream {sid}: packets"
        hs = rec.tcp["handshake"]
        assert hs["syn_frame"] == (ts.syn[0] if ts.syn else None), f"stream {sid}: SYN frame"
        assert hs["synack_frame"] == ts.synack, f"stream {sid}: SYN-ACK frame"
        assert hs["ack_frame"] == ts.ack, f"stream {sid}: handshake ACK frame"
        if ts.syn:
            # the client is the side that sent the SYN (ANALYSIS_JSON.md)
            assert (rec.client["ip"], rec.client["port"]) == ts.syn[1:], f"stream {sid}: client role"
        if ts.initial_rtt is not None and hs["rtt_ms"] is not None:
            assert hs["rtt_ms"] == pytest.approx(ts.initial_rtt * 1000, abs=1e-3), f"stream {sid}: RTT"
        elif ts.syn and ts.ack:
            # tshark 4.0 leaves tcp.analysis.initial_rtt empty when the SYN is at time 0 (the synthetic
            # zeek/oversized-close-frame.pcapng): compare with its frame times instead.
            want = (ts.times[ts.ack] - ts.times[ts.syn[0]]) * 1000
            assert hs["rtt_ms"] == pytest.approx(want, abs=1e-3), f"stream {sid}: RTT from frame times"
        else:
            assert hs["rtt_ms"] is None, f"stream {sid}: no handshake, no RTT"
