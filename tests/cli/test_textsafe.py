"""terminal_text: hostile captured text made safe for a terminal line, looking at its head only."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.model.text import terminal_text

_HOSTILE = st.sampled_from(list("ab é\r\n\t\x00\x07\x1b\x7f\x85\u2028\u202e\ud800"))


def _reference(text: str, limit: int, escape_whitespace: bool) -> str:
    """The obvious way: escape all of it, then cut."""
    if escape_whitespace:
        text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=_HOSTILE, max_size=80) | st.text(max_size=80), st.integers(1, 60), st.booleans())
def test_same_as_escaping_everything_then_cutting(text: str, limit: int, escape_whitespace: bool) -> None:
    assert terminal_text(text, limit, escape_whitespace) == _reference(text, limit, escape_whitespace)


def test_no_control_character_gets_through() -> None:
    out = terminal_text("\x1b[2J\x1b]0;pwned\x07ok\r\n", 100)
    assert out == "\\x1b[2J\\x1b]0;pwned\\x07ok\\r\\n"
    assert out.isprintable()
    assert terminal_text("x" * 5_000_000 + "\x1b", 10) == "x" * 9 + "…"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, 3))
def test_invalid_utf8_text_messages_are_previewed_from_their_head(data: bytes, cut: int) -> None:
    """The --messages log decodes only the first bytes of a text message that is not UTF-8."""
    from types import SimpleNamespace

    from analyzer.export.text.websocket import PREVIEW, ws_message_lines

    # characters of 4 bytes (the most a preview character can take) right up to the cut and past it
    data = "😀".encode()[cut:] + "😀".encode() * (PREVIEW - 1 + cut) + data
    c = SimpleNamespace(id=1, websocket=SimpleNamespace(url="ws://x/"))
    m = {"direction": "c2s", "ts": 0.0, "frame": 1, "opcode": "text", "compressed": False, "frames": 1}
    m |= {"length": len(data), "text": None, "data_hex": data.hex()}
    line = list(ws_message_lines(c, [m]))[1]
    whole = terminal_text(data.decode("utf-8", "replace"), PREVIEW)
    assert line.endswith(" " + whole + "\n")


def test_event_arguments_and_anomaly_values_are_json_never_a_repr() -> None:
    """`--events` shows a packet's data as JSON whatever it holds (cli_sessions._args)."""
    from analyzer.export.text.sessions import _args
    from analyzer.model.text import json_text

    assert _args([{"message": "not authorized"}, b"\x01\xff", ("a",), None]) == (
        '[{"message":"not authorized"},{"$hex":"01ff"},["a"],null]'
    )
    assert json_text({"k": "é" * 100}, 20) == '{"k":"' + "é" * 13 + "…"
    nested: list[object] = []
    nested.append(nested)
    assert "[" not in json_text(nested)
