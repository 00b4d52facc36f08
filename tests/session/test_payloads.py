"""PayloadStore: what goes in comes back equal, from the buffer or from the file."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.session import payloads
from analyzer.session.payloads import PayloadStore


@given(st.lists(st.one_of(st.binary(max_size=3000), st.text(max_size=1000)), max_size=40))
def test_every_payload_comes_back_equal(items: list[str | bytes]) -> None:
    store = PayloadStore()
    refs = [store.put(x) for x in items]
    assert [store.get(r) for r in refs] == items
    store.close()


def test_lone_surrogates_and_payloads_past_the_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payloads, "_FLUSH_AT", 64)
    store = PayloadStore()
    items: list[str | bytes] = ["\ud800 lone", os.urandom(100), "é" * 50, b"", "x" * 10]
    refs = [store.put(x) for x in items]
    assert store._file.size > 0  # some went to the file
    assert [store.get(r) for r in reversed(refs)] == list(reversed(items))
    store.close()
