"""The HTTP/2 step's bounds on a whole capture (docs/bounds.md "HTTP/2"), and a whole pipeline fed
random frames after a real preface never raising."""

from __future__ import annotations

from pathlib import Path

import pytest
from hpack import Encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer import analyze_file
from analyzer.pipeline import h2_step
from tests.crafted_h2 import frame, h2_pcap, request, response


def _run(tmp: Path, data: bytes) -> tuple[list[str], list[object]]:
    path = tmp / "h2.pcap"
    path.write_bytes(data)
    a = analyze_file(str(path))
    return [x.code for x in a.anomalies], a.connections[0].http


def test_body_bytes_kept_per_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h2_step, "MAX_KEPT", 10_000)
    ce, se = Encoder(), Encoder()
    client = b"".join(request(ce, sid, f"/{sid}") for sid in (1, 3, 5))
    server = b"".join(response(se, sid, b"x" * 4000) for sid in (1, 3, 5))
    codes, http = _run(tmp_path, h2_pcap(client, server))
    assert codes.count("h2.limit") == 1
    bodies = [(len(x.response.body), x.response.body_truncated) for x in http if x.response is not None]
    assert bodies == [(4000, False), (4000, False), (0, True)]


def test_streams_assembled_at_one_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h2_step, "MAX_OPEN", 2)
    ce, se = Encoder(), Encoder()
    client = b"".join(request(ce, sid, f"/{sid}") for sid in (1, 3, 5, 7))
    server = response(se, 1, b"a") + response(se, 3, b"b") + response(se, 5, b"c")
    codes, http = _run(tmp_path, h2_pcap(client, server))
    assert codes.count("h2.limit") == 1
    assert [x.request.target for x in http if x.request is not None] == ["/1", "/3"]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            st.booleans(), st.integers(0, 10), st.integers(0, 255), st.integers(0, 9), st.binary(max_size=40)
        ),
        max_size=12,
    )
)
def test_pipeline_never_raises(tmp_path: Path, items: list[tuple[bool, int, int, int, bytes]]) -> None:
    client = b"".join(frame(t, f, sid, body) for c, t, f, sid, body in items if c)
    server = b"".join(frame(t, f, sid, body) for c, t, f, sid, body in items if not c)
    path = tmp_path / "fuzz.pcap"
    path.write_bytes(h2_pcap(client, server))
    analyze_file(str(path)).to_dict()


def test_status_that_is_not_three_ascii_digits(tmp_path: Path) -> None:
    """RFC 9113 §8.3.2: latin-1 digits such as "²" are digits to str.isdigit, not to HTTP."""
    ce, se = Encoder(), Encoder()
    server = frame(1, 5, 1, se.encode([(b":status", b"2\xb2\xb3")]))
    _, http = _run(tmp_path, h2_pcap(request(ce, 1, "/"), server))
    assert [x.response.status for x in http if x.response is not None] == [0]


_NAMES = [b":status", b":method", b":path", b":scheme", b":authority", b":protocol", b"content-encoding"]
_NAMES += [b"content-length", b"sec-websocket-extensions", b"sec-websocket-protocol", b"host", b"X-Odd"]
_FIELD = st.tuples(st.sampled_from(_NAMES), st.binary(max_size=12))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(st.lists(_FIELD, max_size=6), st.lists(_FIELD, max_size=6), st.binary(max_size=30)),
        max_size=4,
    ),
    st.booleans(),
)
def test_pipeline_never_raises_on_hostile_fields(
    tmp_path: Path,
    streams: list[tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]], bytes]],
    enable: bool,
) -> None:
    """Any decoded field values (HPACK carries any bytes) through the exchanges, the RFC 8441
    tunnel, the session builder and every serializer."""
    ce, se = Encoder(), Encoder()
    client, server = b"", frame(4, 0, 0, b"\0\x08\0\0\0\x01") if enable else b""
    for i, (req, resp, body) in enumerate(streams):
        sid = 2 * i + 1
        client += frame(1, 4, sid, ce.encode(req)) + frame(0, 1, sid, body)
        server += frame(1, 4, sid, se.encode(resp)) + frame(0, 1, sid, body)
    path = tmp_path / "fields.pcap"
    path.write_bytes(h2_pcap(client, server))
    a = analyze_file(str(path))
    a.to_dict()
    for c in a.connections:
        if c.websocket is not None:
            c.websocket.to_dict()
