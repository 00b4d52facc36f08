"""Opening handshake (RFC 6455 §4): vectors 9-10 of PROTOCOLS.md, H1, H2, H3, H5."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.model.codes import websocket as codes
from analyzer.model.records import Headers
from analyzer.protocols.deflate import DeflateParams
from analyzer.protocols.handshake import HandshakeResult, accept_for, check_handshake, is_websocket_upgrade

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

REQUEST: Headers = (
    ("Host", "server.example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Origin", "http://example.com"),
    ("Sec-WebSocket-Protocol", "chat, superchat"),
    ("Sec-WebSocket-Version", "13"),
)
RESPONSE: Headers = (
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Accept", ACCEPT),
    ("Sec-WebSocket-Protocol", "chat"),
)


def replace(headers: Headers, name: str, value: str | None) -> Headers:
    """Drop every `name` line and, unless value is None, add one with `value`."""
    kept = tuple((k, v) for k, v in headers if k.lower() != name.lower())
    return kept if value is None else (*kept, (name, value))


def check(
    req: Headers = REQUEST,
    resp: Headers | None = RESPONSE,
    method: str = "GET",
    version: str = "HTTP/1.1",
    status: int = 101,
) -> HandshakeResult:
    return check_handshake(method, version, req, status, "HTTP/1.1", resp)


def issue_codes(req: Headers = REQUEST, resp: Headers | None = RESPONSE, **kw: Any) -> list[str]:
    return [c for c, _ in check(req, resp, **kw).anomalies]


# --- vectors -------------------------------------------------------------------------------------------


def test_vector9_accept() -> None:
    assert accept_for(KEY) == ACCEPT
    assert accept_for(f"  {KEY} ") == ACCEPT  # the trimmed header text


def test_vector10_key_from_nonce() -> None:
    key = base64.b64encode(bytes(range(1, 17))).decode()
    assert key == "AQIDBAUGBwgJCgsMDQ4PEA=="
    assert issue_codes(replace(REQUEST, "Sec-WebSocket-Key", key), None) == []


def test_rfc_example_is_clean() -> None:
    r = check()
    assert r.anomalies == []
    assert (r.succeeded, r.key, r.accept, r.accept_valid, r.subprotocol) == (True, KEY, ACCEPT, True, "chat")
    assert (r.extensions, r.deflate, r.extensions_negotiated) == (None, None, False)


def test_to_dict_matches_contract() -> None:
    resp = (*RESPONSE, ("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover"))
    req = (*REQUEST, ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"))
    d = check(req, resp).to_dict(4, 6)
    assert d == {
        "request_frame": 4,
        "response_frame": 6,
        "key": KEY,
        "accept": ACCEPT,
        "accept_valid": True,
        "subprotocol": "chat",
        "extensions": "permessage-deflate; server_no_context_takeover",
        "permessage_deflate": {
            "server_no_context_takeover": True,
            "client_no_context_takeover": False,
            "server_max_window_bits": None,
            "client_max_window_bits": None,
        },
    }


# --- is_websocket_upgrade ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((("Upgrade", "websocket"),), True),
        ((("upgrade", "WebSocket"),), True),
        ((("Upgrade", "h2c, websocket"),), True),
        ((("Upgrade", "h2c"),), False),
        ((), False),
    ],
)
def test_is_websocket_upgrade(headers: Headers, expected: bool) -> None:
    assert is_websocket_upgrade(headers) is expected


# --- H1 ------------------------------------------------------------------------------------------------


def test_h1_bad_accept() -> None:
    r = check(resp=replace(RESPONSE, "Sec-WebSocket-Accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
    assert [c for c, _ in r.anomalies] == [codes.BAD_ACCEPT] and r.accept_valid is False
    assert ACCEPT in r.anomalies[0][1]


def test_h1_missing_accept() -> None:
    assert issue_codes(resp=replace(RESPONSE, "Sec-WebSocket-Accept", None)) == [codes.BAD_ACCEPT]


# --- H2 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "version"), [("POST", "HTTP/1.1"), ("GET", "HTTP/1.0"), ("get", "HTTP/1.1")]
)
def test_h2_bad_request_line(method: str, version: str) -> None:
    assert issue_codes(method=method, version=version) == [codes.HANDSHAKE_BAD_REQUEST]


def test_h2_http2_version_is_fine() -> None:
    assert issue_codes(version="HTTP/2.0") == []


@pytest.mark.parametrize(
    ("name", "value"), [("Host", None), ("Upgrade", None), ("Upgrade", "h2c"), ("Connection", "keep-alive")]
)
def test_h2_missing_header(name: str, value: str | None) -> None:
    assert issue_codes(replace(REQUEST, name, value)) == [codes.HANDSHAKE_MISSING_HEADER]


def test_h2_connection_token_list() -> None:
    assert issue_codes(replace(REQUEST, "Connection", "keep-alive, Upgrade")) == []


def test_h2_response_missing_upgrade() -> None:
    assert issue_codes(resp=replace(RESPONSE, "Upgrade", None)) == [codes.HANDSHAKE_MISSING_HEADER]


@pytest.mark.parametrize("key", [None, "short", "AQIDBAUGBwgJCgsMDQ4P", "!!!!AUGBwgJCgsMDQ4PEA=="])
def test_h2_bad_key(key: str | None) -> None:
    got = issue_codes(replace(REQUEST, "Sec-WebSocket-Key", key))
    assert got[0] == codes.HANDSHAKE_BAD_KEY
    assert set(got) <= {codes.HANDSHAKE_BAD_KEY, codes.BAD_ACCEPT}


@pytest.mark.parametrize("version", [None, "8", "13, 8"])
def test_h2_bad_version(version: str | None) -> None:
    assert issue_codes(replace(REQUEST, "Sec-WebSocket-Version", version)) == [codes.HANDSHAKE_BAD_VERSION]


# --- H3 ------------------------------------------------------------------------------------------------


def test_h3_unoffered_subprotocol() -> None:
    r = check(resp=replace(RESPONSE, "Sec-WebSocket-Protocol", "mqtt"))
    assert [c for c, _ in r.anomalies] == [codes.HANDSHAKE_BAD_SUBPROTOCOL] and r.subprotocol == "mqtt"


def test_h3_no_subprotocol_chosen_is_fine() -> None:
    r = check(resp=replace(RESPONSE, "Sec-WebSocket-Protocol", None))
    assert r.anomalies == [] and r.subprotocol is None


@pytest.mark.parametrize("value", ["", "chat, superchat"])
def test_h3_empty_or_several_subprotocols(value: str) -> None:
    assert codes.HANDSHAKE_BAD_SUBPROTOCOL in issue_codes(
        resp=replace(RESPONSE, "Sec-WebSocket-Protocol", value)
    )


def test_h3_empty_offer() -> None:
    req = replace(REQUEST, "Sec-WebSocket-Protocol", "chat, ")
    assert issue_codes(req) == [codes.HANDSHAKE_BAD_SUBPROTOCOL]


def test_h3_unoffered_extension() -> None:
    resp = (*RESPONSE, ("Sec-WebSocket-Extensions", "permessage-deflate"))
    r = check(resp=resp)
    assert [c for c, _ in r.anomalies] == [codes.HANDSHAKE_UNOFFERED_EXTENSION]
    # the server compresses anyway, so frames must still be inflated
    assert r.deflate == DeflateParams() and r.extensions_negotiated


def test_extensions_over_several_lines() -> None:
    req = (
        *REQUEST,
        ("Sec-WebSocket-Extensions", "x-foo"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
    )
    resp = (
        *RESPONSE,
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ("Sec-WebSocket-Extensions", "x-foo"),
    )
    r = check(req, resp)
    assert r.anomalies == []
    assert r.extensions == "permessage-deflate, x-foo" and r.deflate == DeflateParams()


def test_unknown_extension_negotiated_without_deflate() -> None:
    req = (*REQUEST, ("Sec-WebSocket-Extensions", "x-webkit-deflate-frame"))
    resp = (*RESPONSE, ("Sec-WebSocket-Extensions", "x-webkit-deflate-frame"))
    r = check(req, resp)
    assert (r.deflate, r.extensions_negotiated, r.anomalies) == (None, True, [])


# --- H5 ------------------------------------------------------------------------------------------------


def test_h5_through_the_handshake() -> None:
    req = (*REQUEST, ("Sec-WebSocket-Extensions", "permessage-deflate"))
    resp = (*RESPONSE, ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits=10"))
    r = check(req, resp)
    assert [c for c, _ in r.anomalies] == [codes.HANDSHAKE_BAD_DEFLATE]
    assert r.deflate == DeflateParams(client_max_window_bits=10)


# --- refusals and missing responses --------------------------------------------------------------------


def test_non_101_is_not_an_anomaly() -> None:
    r = check(resp=(("Sec-WebSocket-Version", "13"),), status=426)
    assert (r.succeeded, r.anomalies, r.accept, r.accept_valid) == (False, [], None, False)


def test_no_response_checks_request_only() -> None:
    r = check(replace(REQUEST, "Host", None), None)
    assert not r.succeeded and [c for c, _ in r.anomalies] == [codes.HANDSHAKE_MISSING_HEADER]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Host",
                    "Upgrade",
                    "Connection",
                    "Sec-WebSocket-Key",
                    "Sec-WebSocket-Version",
                    "Sec-WebSocket-Protocol",
                    "Sec-WebSocket-Extensions",
                    "Sec-WebSocket-Accept",
                ]
            ),
            st.text(max_size=30),
        ),
        max_size=8,
    ),
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Upgrade",
                    "Connection",
                    "Sec-WebSocket-Accept",
                    "Sec-WebSocket-Protocol",
                    "Sec-WebSocket-Extensions",
                ]
            ),
            st.text(max_size=30),
        ),
        max_size=6,
    ),
    st.text(max_size=8),
    st.text(max_size=10),
)
def test_never_raises(
    req: list[tuple[str, str]], resp: list[tuple[str, str]], method: str, version: str
) -> None:
    r = check_handshake(method, version, tuple(req), 101, version, tuple(resp))
    r.to_dict(1, 2)
    assert all(code.startswith("ws.") for code, _ in r.anomalies)
