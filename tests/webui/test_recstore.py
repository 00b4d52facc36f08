"""The web UI's disk-backed records: RecordStore, StoredList, iter_elements, json_pieces."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.model.spill import JsonSpill, dumps, iter_elements
from webui import recstore
from webui.recstore import RecordStore, StoredList, json_pieces

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(text[last:p])
        last = p
    out.append(text[last:])
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(_json, max_size=12), st.lists(st.integers(min_value=0), max_size=12))
def test_iter_elements_splits_any_chunking(values: list[Any], cuts: list[int]) -> None:
    text = ",".join(dumps(v) for v in values)
    got = list(iter_elements(_split(text, cuts)))
    assert [v for _, v in got] == values
    assert [json.loads(raw) for raw, _ in got] == values


def test_iter_elements_numbers_cut_between_pieces() -> None:
    assert [v for _, v in iter_elements(["12", "34,5", "6"])] == [1234, 56]
    assert [v for _, v in iter_elements(["tr", "ue,nu", "ll"])] == [True, None]


def test_iter_elements_a_value_bigger_than_the_read_size() -> None:
    big = {"data_hex": "ab" * (3 << 20)}
    text = dumps({"a": 1}) + "," + dumps(big) + "," + dumps([2])
    pieces = [text[i : i + 1000] for i in range(0, len(text), 1000)]
    assert [v for _, v in iter_elements(pieces)] == [{"a": 1}, big, [2]]


def test_iter_elements_reads_a_spill_file() -> None:
    spill = JsonSpill()
    records = [{"n": i, "text": "x\udc80y" if i == 3 else "é" * (i * 7000)} for i in range(60)]
    for r in records:
        spill.add(r)
    assert [v for _, v in iter_elements(spill.pieces())] == records
    spill.close()


def test_store_reads_records_across_blocks_and_the_pending_buffer(monkeypatch: Any) -> None:
    monkeypatch.setattr(recstore, "_BLOCK", 64)
    monkeypatch.setattr(recstore, "_CACHED_BLOCKS", 2)
    monkeypatch.setattr(recstore, "_WRITE", 100)
    monkeypatch.setattr(recstore, "_CHUNK", 150)
    store = RecordStore()
    values = [{"i": i, "s": "\u00e9\U0001f600" * (i % 13), "lone": "\udcff"} for i in range(200)]
    for v in values:
        store.add_value(v)
    assert len(store) == 200
    for i in (0, 199, 57, 58, 3, 150, 0):  # out of order, with blocks evicted
        assert store.get(i) == values[i]
    lst = StoredList(store, 10, 100)
    assert len(lst) == 100 and lst[0] == values[10] and lst[-1] == values[109]
    assert list(lst) == values[10:110]
    assert lst[5:8] == values[15:18] and lst[::50] == [values[10], values[60]]
    assert [json.loads(r) for r in lst.raw_items()] == values[10:110]
    try:
        lst[100]
    except IndexError:
        pass
    else:
        raise AssertionError("no IndexError")
    store.close()


def test_json_pieces_copies_stored_lists() -> None:
    store = RecordStore()
    items = [{"a": i, "t": '\u2028"q"'} for i in range(5)]
    for v in items:
        store.add_value(v)
    doc = {"x": 1, "inner": {"frames": StoredList(store, 0, 5), "n": None}, "lst": [StoredList(store, 1, 2)]}
    text = "".join(json_pieces(doc))
    assert json.loads(text) == {"x": 1, "inner": {"frames": items, "n": None}, "lst": [items[1:3]]}
    assert "".join(json_pieces({"plain": [1, 2]})) == dumps({"plain": [1, 2]})
    store.close()


def test_scan_flags_records_that_may_hold_a_needle(monkeypatch: Any) -> None:
    monkeypatch.setattr(recstore, "_CHUNK", 64)
    store = RecordStore()
    texts = ["no", "xHELLOx", "hel", "lo", "straße", "a" * 200, "hello" + "b" * 100, "HeLlO", "zz"]
    for t in texts:
        store.add(t)
    flags = store.scan(b"hello")
    # 2: "hel" + "lo" across two records (a spare candidate, checked in full); 4: non-ASCII
    assert [i for i, f in enumerate(flags) if f] == [1, 2, 4, 6, 7]
    assert list(store.scan(b"zz")) == [0, 0, 0, 0, 1, 0, 0, 0, 1]
    store.close()


def test_lazy_docs_read_dicts_back_with_their_stored_lists(monkeypatch: Any) -> None:
    monkeypatch.setattr(recstore.LazyDocs, "CACHED", 3)
    store = RecordStore()
    first = len(store)
    for i in range(4):
        store.add_value({"f": i})
    docs = [{"id": k, "frames": StoredList(store, first, k), "t": "\udcff"} for k in range(5)]
    numbers = [store.add(recstore.dumps_with_stored(d)) for d in docs]
    lazy = recstore.LazyDocs(store, numbers)
    assert len(lazy) == 5 and lazy[-1]["id"] == 4
    for k, d in enumerate(lazy):
        assert d["id"] == k and list(d["frames"]) == [{"f": i} for i in range(k)] and d["t"] == "\udcff"
    assert [d["id"] for d in lazy[1:3]] == [1, 2]
    assert len(lazy._cache) == 3
    assert json.loads("".join(json_pieces({"c": lazy})))["c"][3]["frames"] == [{"f": 0}, {"f": 1}, {"f": 2}]
    store.close()
