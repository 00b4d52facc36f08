"""OffsetMap.where (analyzer/tcp/offsets.py): the one-lookup answer that the pipeline asks for
every WebSocket frame, with its remembered entry, equals the three separate lookups whatever the
order of additions, lookups and discards."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.tcp.offsets import OffsetMap

steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 40)),
        st.tuples(st.just("where"), st.integers(-5, 400), st.integers(-3, 60)),
        st.tuples(st.just("discard"), st.integers(0, 400)),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_where_equals_the_separate_lookups(ops: list[tuple[int | str, ...]]) -> None:
    om, offset, frame = OffsetMap(), 0, 0
    for op in ops:
        if op[0] == "add":
            frame += 1
            om.add(offset, frame, frame / 10, frame * 100)
            offset += int(op[1]) + 1
        elif op[0] == "where":
            start, length = int(op[1]), int(op[2])
            end = start + length
            last = max(end - 1, start)
            want = (om.frame_at(last), om.ts_at(last), om.frames_between(start, last + 1))
            assert om.where(start, end) == want
        else:
            om.discard_before(int(op[1]))


def test_many_frames_in_one_segment_then_the_next() -> None:
    om = OffsetMap()
    om.add(0, 7, 1.0, 1)
    assert [om.where(i, i + 2) for i in range(0, 10, 2)] == [(7, 1.0, (7,))] * 5
    om.add(10, 8, 2.0, 2)  # the remembered entry is no longer the last one
    assert om.where(8, 12) == (8, 2.0, (7, 8))
    assert om.where(2, 4) == (7, 1.0, (7,))
    assert om.where(12, 14) == (8, 2.0, (8,))
