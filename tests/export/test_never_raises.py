"""Hostile traffic never makes an exporter raise, and every output stays readable (all the
sinks over one reading of the capture)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer import analyze_file
from analyzer.export.csv_stream import CsvSink
from analyzer.export.har_stream import HarSink
from analyzer.export.jsonl import LAYERS
from analyzer.export.jsonl_stream import JsonlSink
from analyzer.export.pcapslice import PcapSliceSink
from analyzer.export.run import export_capture
from analyzer.export.select import Selection
from tests.export.craft import sio_over_ws

any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates included
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
events = st.lists(
    st.tuples(st.sampled_from(["c2s", "s2c"]), st.lists(json_values, min_size=1, max_size=3)), max_size=4
)
raw = st.lists(
    st.tuples(st.sampled_from(["c2s", "s2c"]), st.binary(max_size=300), st.sampled_from([1, 2])), max_size=4
)
selections = st.builds(
    Selection.of,
    connections=st.lists(st.integers(0, 2), max_size=1),
    sids=st.lists(st.sampled_from(["craftedSID0000000001", "x"]), max_size=1),
    namespaces=st.lists(st.sampled_from(["/", "/x"]), max_size=1),
    events=st.lists(st.sampled_from(["", "a", "=x"]), max_size=1),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=events, raw=raw, selection=selections)
def test_exporters_never_raise(events: list, raw: list, selection: Selection) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        cap = Path(tmp) / "h.pcap"
        cap.write_bytes(sio_over_ws(events, raw))
        a = analyze_file(str(cap))
        for k, sel in enumerate((Selection(), selection)):
            texts = [io.StringIO() for _ in range(len(LAYERS) + 1)]
            pcap = io.BytesIO()
            layers = [JsonlSink(texts[i], sel, layer) for i, layer in enumerate(LAYERS)]
            har = HarSink(texts[-1], sel)
            csv_dir = Path(tmp) / f"csv{k}"
            sliced = PcapSliceSink(pcap, sel)
            export_capture(str(cap), *layers, har, CsvSink(str(csv_dir), sel), sliced)
            for buf in texts[:-1]:
                buf.getvalue().encode("utf-8")
                for line in buf.getvalue().split("\n")[:-1]:
                    json.loads(line)
            json.loads(texts[-1].getvalue().encode("utf-8"))
            for f in csv_dir.iterdir():
                with f.open(encoding="utf-8", newline="") as fh:
                    list(csv.reader(fh))
            assert sliced.result is not None
            assert sliced.result.packets == (a.capture.packets if sliced.selected_connections else 0)
