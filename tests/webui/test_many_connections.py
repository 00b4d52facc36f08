"""Captures with many connections and sessions: the views stay bounded (lanes shared by the
quietest, histograms instead of one bar each, merged series, listed first N with a link to all)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.webui.manydoc import many_doc
from webui import create_app, figures, latencies, pagedata, pages
from webui.index import Index

N = 40


def _doc() -> dict[str, Any]:
    return many_doc(N)


def test_the_quietest_share_the_last_timeline_lane() -> None:
    ix = Index(_doc())
    labels, pos = figures.lanes(ix, limit=10)
    assert len(labels) == 11 and labels[-1] == f"{N - 10} other connections, {N} other sessions"
    kept = [k for k, lane in pos.items() if lane < 10]
    assert len(kept) == 10 and all(k[0] == "c" for k in kept)  # connections carry the most rows
    busiest = max(range(N), key=lambda k: (1 + (k % 7) * 3, -k))
    assert pos[("c", busiest)] < 10
    assert len(set(pos.values())) == 11


def test_timeline_figure_with_few_lanes(monkeypatch: Any) -> None:
    monkeypatch.setattr(figures, "MAX_LANES", 5)
    fig = figures.timeline_figure(Index(_doc()))
    assert len(fig["layout"]["yaxis"]["ticktext"]) == 6
    assert all(0 <= round(y) <= 5 for t in fig["data"] for y in t["y"])


def test_latency_figures_turn_into_histograms_and_merged_series(monkeypatch: Any) -> None:
    monkeypatch.setattr(latencies, "MAX_BARS", 10)
    monkeypatch.setattr(latencies, "MAX_TRACES", 5)
    figs = latencies.latency_figures(Index(_doc()))
    assert figs["tcp_handshake"]["data"][0]["type"] == "histogram"
    assert len(figs["tcp_handshake"]["data"][0]["x"]) == N
    beats = figs["heartbeat"]["data"]
    assert len(beats) == 1 and len(beats[0]["x"]) == N and beats[0]["name"] == f"{N} series"
    assert beats[0]["text"][0] == "EIO #0 ping s2c"
    monkeypatch.setattr(latencies, "MAX_BARS", 1000)
    monkeypatch.setattr(latencies, "MAX_TRACES", 1000)
    figs = latencies.latency_figures(Index(_doc()))
    assert figs["tcp_handshake"]["data"][0]["type"] == "bar" and len(figs["heartbeat"]["data"]) == N


@pytest.fixture()
def many(tmp_path: Any) -> tuple[FlaskClient, str]:
    app = create_app(
        folders=[],
        upload_dir=str(tmp_path),
        config={"TESTING": True, "ANALYZE": lambda path, job: Index(_doc())},
    )
    (tmp_path / "x.cap").write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(20))
    store = app.extensions["socketscope.store"]
    store.rescan_uploads()
    entry = store.entries()[0]
    store.index(entry, wait=30)
    return app.test_client(), entry.id


def test_overview_and_sequence_list_the_first_ones(many: tuple[FlaskClient, str], monkeypatch: Any) -> None:
    client, cid = many
    monkeypatch.setattr(pagedata, "LIST_PAGE", 7)
    monkeypatch.setattr(pages, "MAX_LISTED", 7)
    html = client.get(f"/c/{cid}/", headers={"Host": "127.0.0.1"}).get_data(as_text=True)
    assert html.count("TCP #") >= 7 and "TCP #8 " not in html
    assert (
        f"1\u20137 of {N}" in html
        and f"/c/{cid}/?conn_offset=7" in html
        and f"/c/{cid}/?sess_offset=7" in html
    )
    html = client.get(f"/c/{cid}/?conn_offset=7&sess_offset=14", headers={"Host": "127.0.0.1"}).get_data(
        as_text=True
    )
    assert (
        "TCP #7 " in html and "TCP #6 " not in html and "<td>#14</td>" in html and "<td>#13</td>" not in html
    )
    assert f"/c/{cid}/?sess_offset=14&amp;conn_offset=14" in html  # the other list stays where it was
    seq = client.get(f"/c/{cid}/sequence?connection=30", headers={"Host": "127.0.0.1"}).get_data(as_text=True)
    assert "TCP #30 " in seq and "TCP #20 " not in seq and "TCP #6 " in seq
