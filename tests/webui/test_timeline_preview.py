"""The timeline's range-slider preview (issue #18): every answer carries the rows per time bin
of the whole capture, whatever window it is for, and the counts add up to the capture's rows."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.webui.conftest import capture_id, rows
from webui.timelane import DENSITY_BINS


def _timeline(client: FlaskClient, cid: str, **q: Any) -> dict[str, Any]:
    r = client.get(f"/api/captures/{cid}/timeline", query_string={k: str(v) for k, v in q.items()})
    assert r.status_code == 200, r.get_data(as_text=True)
    return dict(r.get_json())


def test_preview_counts_every_row_of_the_whole_capture(real: FlaskClient) -> None:
    cid = capture_id(real, "sio-node-v4-default.pcap")
    items = rows(real, cid)
    whole = _timeline(real, cid)
    d = whole["density"]
    assert len(d["x"]) == len(d["y"]) == DENSITY_BINS
    assert sum(d["y"]) == len(items) == whole["meta"]["rows"]
    assert d["x"] == sorted(d["x"]) and d["x"][0] > 0 and d["x"][-1] < whole["span"][1]
    # each row is counted in the bin that holds its time
    width = whole["span"][1] / DENSITY_BINS
    t = items[len(items) // 2]["t"]
    k = min(int(t / width), DENSITY_BINS - 1)
    assert d["y"][k] >= 1
    assert abs(d["x"][k] - (k + 0.5) * width) < 1e-5
    # a narrow window's answer still previews the whole capture
    narrow = _timeline(real, cid, t0=t - 0.001, t1=t + 0.001)
    assert narrow["density"] == d and narrow["meta"]["rows"] < whole["meta"]["rows"]
