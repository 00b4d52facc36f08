"""The connection table is bounded (analyzer/tcp/tracker.py MAX_CONNECTIONS, docs/bounds.md): a
flood of new flows costs the memory of the bound, not of the flood (issue #16)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from analyzer import analyze_file
from analyzer.capture.pcapfile import open_capture
from analyzer.model.analysis import CaptureInfo
from analyzer.pipeline import Options, Pipeline
from analyzer.tcp.tracker import MAX_CONNECTIONS
from tests.crafted_captures import syn_flood, tcp_table_full


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_syn_flood_keeps_the_table_at_its_bound(tmp_path: Path) -> None:
    path = _write(tmp_path, "flood.pcap", syn_flood(300).pcap())
    a = analyze_file(path, Options(max_connections=100))
    assert len(a.connections) == 100
    assert [c.id for c in a.connections] == list(range(200, 300))  # the newest stay
    full = [x for x in a.anomalies if x.code == "tcp.table-full"]
    assert len(full) == 1 and "200 idle connections" in full[0].message
    assert full[0].frames == (101,)
    assert a.layer_stats["evicted_connections"] == 200


def test_the_default_bound_and_no_eviction_below_it(tmp_path: Path) -> None:
    assert Options().max_connections is None and MAX_CONNECTIONS == 16384  # None: MAX_CONNECTIONS
    a = analyze_file(_write(tmp_path, "small.pcap", syn_flood(50).pcap()))
    assert len(a.connections) == 50
    assert "evicted_connections" not in a.layer_stats
    assert not [x for x in a.anomalies if x.code == "tcp.table-full"]


def test_bare_resets_of_unknown_flows_are_counted_not_connections(tmp_path: Path) -> None:
    a = analyze_file(_write(tmp_path, "rst.pcap", syn_flood(40, rst=True).pcap()))
    assert a.connections == []
    assert a.layer_stats["stray_resets"] == 40


def test_data_connections_are_kept_and_finished_ones_closed_early(tmp_path: Path) -> None:
    a = analyze_file(_write(tmp_path, "mixed.pcap", tcp_table_full().pcap()), Options(max_connections=8))
    by_id = {c.id: c for c in a.connections}
    keep, done = by_id[0], by_id[1]
    assert len(keep.http) == 2 and all(x.response is not None for x in keep.http)  # whole
    assert keep.tcp["end"] == "fin" and keep.tcp["handshake"]["complete"]
    assert len(done.http) == 1 and done.tcp["end"] == "fin"
    # the finished one closed early, then at most 8 in the table at the end: the kept one and the 7
    # newest half-open flows; the 23 others were evicted
    assert len(a.connections) == 9 and a.layer_stats["evicted_connections"] == 23
    assert a.layer_stats["stray_resets"] == 3
    (full,) = [x for x in a.anomalies if x.code == "tcp.table-full"]
    assert "finished ones closed before their linger time" in full.message


def test_memory_follows_the_bound_not_the_flood(tmp_path: Path) -> None:
    """Before the bound, every half-open flow held about 6 KB until the end of the capture."""
    path = _write(tmp_path, "flood.pcap", syn_flood(4000).pcap())

    def peak(options: Options) -> int:
        pipe = Pipeline(CaptureInfo(path, "pcap"), options)  # no sink: records are not kept
        tracemalloc.start()
        try:
            pipe.feed_all(open_capture(path))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    bounded = peak(Options(max_connections=64))
    unbounded = peak(Options(max_connections=1 << 30))
    assert unbounded > 4000 * 4000, unbounded  # about 6 KB a flow
    assert bounded < 8 << 20 and bounded * 4 < unbounded, (bounded, unbounded)
