"""permessage-deflate (RFC 7692): extension header parsing, parameter negotiation, bounded inflater.

Sans-IO: strings and bytes in, values out; nothing here raises on what the peer sent.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from analyzer.model.codes import websocket as codes

__all__ = [
    "INFLATE_CAPTURE_BUDGET",
    "INFLATE_CONNECTION_BUDGET",
    "INFLATE_RATIO",
    "PERMESSAGE_DEFLATE",
    "DeflateParams",
    "ExtensionParams",
    "InflateBudget",
    "InflateResult",
    "Inflater",
    "negotiate_deflate",
    "parse_extensions",
]

PERMESSAGE_DEFLATE = "permessage-deflate"

ExtensionParams = list[tuple[str, str | None]]

# RFC 7692 §7.1.2: window bits are "a decimal integer value without leading zeros between 8 to 15".
_WINDOW_BITS = re.compile(r"(?:[89]|1[0-5])")
_KNOWN = frozenset(
    (
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    )
)
# RFC 7692 §7.2.2: the sender removed this tail of a sync flush; the receiver puts it back.
_TAIL = b"\x00\x00\xff\xff"


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """The agreed permessage-deflate parameters, as the server's response stated them."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None

    def no_context_takeover(self, sender_is_client: bool) -> bool:
        """Whether messages sent by that side each start from an empty window (RFC 7692 §7.1.1)."""
        return self.client_no_context_takeover if sender_is_client else self.server_no_context_takeover

    def to_dict(self) -> dict[str, object]:
        return {
            "server_no_context_takeover": self.server_no_context_takeover,
            "client_no_context_takeover": self.client_no_context_takeover,
            "server_max_window_bits": self.server_max_window_bits,
            "client_max_window_bits": self.client_max_window_bits,
        }


# --- Sec-WebSocket-Extensions grammar ------------------------------------------------------------------
# RFC 6455 §9.1:
#   Sec-WebSocket-Extensions = extension-list
#   extension-list = 1#extension                      ; comma-separated, may span header lines
#   extension      = extension-token *( ";" extension-param )
#   extension-param = token [ "=" (token | quoted-string) ]
# A quoted-string value is unescaped (it must then be a token, which negotiate_deflate checks
# for the parameters it knows). Empty list elements are allowed by the #rule and skipped.


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside quoted strings (RFC 9110 §5.6.4 quoting, backslash escapes)."""
    if '"' not in text:
        return text.split(sep)
    parts: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_extensions(header_values: Iterable[str]) -> list[tuple[str, ExtensionParams]]:
    """Every extension of every Sec-WebSocket-Extensions line, in order: (name, [(param, value)]).

    Names and parameter names are lowercased; a parameter without "=" has the value None.
    """
    out: list[tuple[str, ExtensionParams]] = []
    for value in header_values:
        for element in _split(value, ","):
            parts = _split(element, ";")
            name = parts[0].strip().lower()
            if not name:
                continue
            params: ExtensionParams = []
            for part in parts[1:]:
                key, eq, val = part.partition("=")
                key = key.strip().lower()
                if not key:
                    continue
                params.append((key, _unquote(val.strip()) if eq else None))
            out.append((name, params))
    return out


# --- negotiation ----------------------------------------------------------------------------------------


def _check_params(params: ExtensionParams, where: str, is_offer: bool) -> list[tuple[str, str]]:
    """Syntax of one permessage-deflate element (RFC 7692 §7, §7.1.1-§7.1.2)."""
    issues: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, val in params:
        if key in seen:
            # RFC 7692 §7: each parameter may appear once.
            issues.append((codes.HANDSHAKE_BAD_DEFLATE, f"{where}: duplicate parameter {key}"))
            continue
        seen.add(key)
        if key not in _KNOWN:
            # RFC 7692 §7.1: unknown parameters make the offer/response invalid.
            issues.append((codes.HANDSHAKE_BAD_DEFLATE, f"{where}: unknown parameter {key}"))
        elif key.endswith("_no_context_takeover"):
            if val is not None:
                # RFC 7692 §7.1.1.1, §7.1.1.2: these parameters have no value.
                issues.append((codes.HANDSHAKE_BAD_DEFLATE, f"{where}: {key} must have no value"))
        elif val is None:
            # RFC 7692 §7.1.2.2: only an offer may carry client_max_window_bits without a value.
            if not (is_offer and key == "client_max_window_bits"):
                issues.append((codes.HANDSHAKE_BAD_DEFLATE, f"{where}: {key} needs a value 8-15"))
        elif _WINDOW_BITS.fullmatch(val) is None:
            # RFC 7692 §7.1.2.1, §7.1.2.2: 8-15, decimal, no leading zero.
            issues.append((codes.HANDSHAKE_BAD_DEFLATE, f"{where}: {key}={val!r} is not 8-15"))
    return issues


def _bits(params: ExtensionParams, key: str) -> int | None:
    for k, v in params:
        if k == key:
            return int(v) if v is not None and _WINDOW_BITS.fullmatch(v) else None
    return None


def _mismatch(offer: ExtensionParams, response: ExtensionParams) -> list[str]:
    """Why `response` cannot be the server's acceptance of `offer` (empty list: it can)."""
    okeys = {k for k, _ in offer}
    rkeys = {k for k, _ in response}
    why: list[str] = []
    if "client_max_window_bits" in rkeys and "client_max_window_bits" not in okeys:
        # RFC 7692 §7.1.2.2: not offered => the response MUST NOT include it.
        why.append("client_max_window_bits in the response but not offered")
    if "server_max_window_bits" in okeys:
        offered = _bits(offer, "server_max_window_bits")
        answered = _bits(response, "server_max_window_bits")
        # RFC 7692 §7.1.2.1: accepted by answering the same or a smaller value.
        if answered is None or (offered is not None and answered > offered):
            why.append(f"server_max_window_bits={offered} offered but answered with {answered}")
    if "server_no_context_takeover" in okeys and "server_no_context_takeover" not in rkeys:
        # RFC 7692 §7.1.1.1: accepted by including server_no_context_takeover.
        why.append("server_no_context_takeover offered but not in the response")
    return why


def negotiate_deflate(
    offer_values: Iterable[str], response_values: Iterable[str]
) -> tuple[DeflateParams | None, list[tuple[str, str]]]:
    """Agreed permessage-deflate parameters (None: not agreed) and H5 findings as (code, message).

    Offers and responses are the raw Sec-WebSocket-Extensions header values. The
    parameters come from the response even when it is faulty, so that frames still
    decode; an answer to an extension that was never offered is the handshake's
    H3 check (ws.handshake-unoffered-extension), not reported here.
    """
    offers = [p for name, p in parse_extensions(offer_values) if name == PERMESSAGE_DEFLATE]
    answers = [p for name, p in parse_extensions(response_values) if name == PERMESSAGE_DEFLATE]
    issues: list[tuple[str, str]] = []
    for i, offer in enumerate(offers):
        issues += _check_params(offer, f"offer {i + 1}", is_offer=True)
    if not answers:
        return None, issues
    if len(answers) > 1:
        # RFC 7692 §5: the server accepts at most one offer.
        issues.append((codes.HANDSHAKE_BAD_DEFLATE, "response accepts permessage-deflate more than once"))
    response = answers[0]
    issues += _check_params(response, "response", is_offer=False)
    if offers and all(_mismatch(o, response) for o in offers):
        reasons = "; ".join(_mismatch(offers[0], response))
        issues.append((codes.HANDSHAKE_BAD_DEFLATE, f"response matches no offer: {reasons}"))
    keys = {k for k, _ in response}
    params = DeflateParams(
        server_no_context_takeover="server_no_context_takeover" in keys,
        client_no_context_takeover="client_no_context_takeover" in keys,
        server_max_window_bits=_bits(response, "server_max_window_bits"),
        client_max_window_bits=_bits(response, "client_max_window_bits"),
    )
    return params, issues


# --- the inflate budget ----------------------------------------------------------------------------------
# What inflated data (WebSocket messages, gzip/deflate HTTP bodies) may be kept, on top of the bound of
# each message or body (docs/bounds.md): per capture INFLATE_CAPTURE_BUDGET and per connection
# INFLATE_CONNECTION_BUDGET, each plus INFLATE_RATIO bytes per compressed byte inflated through it.
# Real traffic rarely compresses better than 10:1; a zip bomb does about 1000:1, so the bomb's
# output runs out of budget while ordinary compressed traffic, however much, does not.
INFLATE_CAPTURE_BUDGET = 256 << 20
INFLATE_CONNECTION_BUDGET = 16 << 20
INFLATE_RATIO = 32


class InflateBudget:
    """The inflated bytes one connection (with `parent`: its capture's budget) may still keep.

    `fed(n)` counts compressed bytes inflated, `take(n)` asks to keep n inflated bytes: None when
    they fit (and are counted here and in the parent), else the name of the budget that refused
    ("connection" or "capture"); a refused payload is dropped by the caller. `first(code)` is True
    once per code, so that each kind of drop is reported once per connection.
    """

    __slots__ = ("_reported", "compressed", "floor", "kept", "name", "parent", "ratio", "refused")

    def __init__(
        self,
        floor: int,
        ratio: int = INFLATE_RATIO,
        parent: InflateBudget | None = None,
        name: str = "capture",
    ) -> None:
        self.floor = max(0, floor)
        self.ratio = max(0, ratio)
        self.parent = parent
        self.name = name
        self.compressed = 0
        self.kept = 0
        self.refused = 0  # payloads dropped
        self._reported: set[str] = set()

    def child(self, floor: int, name: str = "connection") -> InflateBudget:
        return InflateBudget(floor, self.ratio, self, name)

    @property
    def limit(self) -> int:
        return self.floor + self.ratio * self.compressed

    def fed(self, n: int) -> None:
        b: InflateBudget | None = self
        while b is not None:
            b.compressed += n
            b = b.parent

    def take(self, n: int) -> str | None:
        b: InflateBudget | None = self
        while b is not None:
            if b.kept + n > b.limit:
                self.refused += 1
                return b.name
            b = b.parent
        b = self
        while b is not None:
            b.kept += n
            b = b.parent
        return None

    def describe(self, name: str) -> str:
        """The budget called `name` (this one or a parent), in words."""
        b: InflateBudget | None = self
        while b is not None and b.name != name:
            b = b.parent
        b = b or self
        return f"{b.floor / (1 << 20):g} MiB plus {b.ratio} bytes per compressed byte, {b.kept} bytes kept"

    def first(self, code: str) -> bool:
        if code in self._reported:
            return False
        self._reported.add(code)
        return True


# --- inflating ------------------------------------------------------------------------------------------


@dataclass(slots=True)  # not frozen: one per compressed message (a frozen __init__ is slower)
class InflateResult:
    """One message's inflated bytes.

    `length` counts every byte inflated (when the bound stopped inflating, it is the
    bound: a lower limit of the real size); `data` is cut at the keep bound;
    `truncated` is true whenever `data` is not the whole message; `error` says why
    inflating stopped early (corrupt data or the bound), None when it did not; `dropped` names
    the InflateBudget that refused to keep the inflated bytes (`data` is then empty).
    """

    data: bytes
    length: int
    truncated: bool
    error: str | None
    dropped: str | None = None  # the budget ("connection" / "capture") that refused the inflated bytes


def _new() -> zlib._Decompress:
    # RFC 7692 §7.2.2: raw DEFLATE; window 15 reads data made with any smaller window.
    return zlib.decompressobj(-15)


# zlib is handed each message's compressed bytes in blocks at fixed offsets of the message,
# whatever pieces they arrived in, so results (the bytes made before an error, which of
# "corrupt" or "too big" is seen first) never depend on how the stream was split.
_BLOCK = 1 << 14


class Inflater:
    """Inflates one direction's compressed messages, keeping the LZ77 window between them.

    Feed each compressed message's unmasked payload in pieces with `feed`, then call
    `finish` to get the message. Output is bounded by `max_output` (zip bombs: nothing
    is inflated past it) and kept up to `max_keep`. Corrupt data or the bound make the
    message fail and reset the window so the next messages can still decode.
    """

    __slots__ = (
        "_budget",
        "_chunks",
        "_compressed",
        "_d",
        "_error",
        "_in",
        "_in_n",
        "_kept",
        "_length",
        "_max_keep",
        "_max_output",
        "_no_ctx",
        "_stop",
    )

    def __init__(
        self,
        no_context_takeover: bool = False,
        *,
        max_output: int = 16 << 20,
        max_keep: int | None = None,
        budget: InflateBudget | None = None,
    ) -> None:
        self._no_ctx = no_context_takeover
        self._budget = budget
        self._compressed = 0  # compressed bytes of the current message
        self._max_output = max(0, max_output)
        self._max_keep = self._max_output if max_keep is None else max(0, min(max_keep, self._max_output))
        self._d = _new()
        self._in: list[bytes] = []  # compressed pieces short of a whole block, not copied yet
        self._in_n = 0  # their length
        self._chunks: list[bytes] = []
        self._kept = 0
        self._length = 0
        self._error: str | None = None
        self._stop = False  # error, or the stream ended (BFINAL) inside this message

    @property
    def budget(self) -> InflateBudget | None:
        return self._budget

    def reset(self) -> None:
        """Forget the window (after lost bytes or an error) and any message in progress."""
        self._d = _new()
        self._in = []
        self._in_n = 0
        self._chunks = []
        self._kept = 0
        self._length = 0
        self._error = None
        self._stop = False
        self._compressed = 0

    def _inflate(self, data: bytes | memoryview) -> None:
        budget = self._max_output - self._length
        try:
            # One byte over the budget tells "exactly at the bound" from "past it".
            out = self._d.decompress(data, budget + 1)
        except zlib.error as exc:
            self._fail(f"corrupt DEFLATE data ({exc})")
            return
        if len(out) > budget:
            self._take(out[:budget])
            # RFC 7692 §7.2.2 + house rule: never inflate past the bound (zip bomb).
            self._fail(f"inflates past the bound of {self._max_output} bytes")
            return
        self._take(out)
        if self._d.eof:
            # RFC 7692 §7.2.3.4: a BFINAL block ends this DEFLATE stream; whatever follows it in
            # the message (normally an empty stored block) is ignored, and the next message
            # starts a new stream.
            self._stop = True

    def _take(self, out: bytes) -> None:
        self._length += len(out)
        room = self._max_keep - self._kept
        if room > 0 and out:
            piece = out if len(out) <= room else out[:room]
            self._chunks.append(piece)
            self._kept += len(piece)

    def _fail(self, why: str) -> None:
        self._error = why
        self._stop = True
        self._d = _new()

    def feed(self, chunk: bytes) -> None:
        """Next piece of the current message's compressed payload (unmasked, concatenated fragments)."""
        if not chunk:
            return
        self._compressed += len(chunk)
        if self._stop:
            return
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)  # held without copying below: must not change under us
        held = self._in_n + len(chunk)
        if held < _BLOCK:
            self._in.append(chunk)
            self._in_n = held
            return
        if self._in:
            self._in.append(chunk)
            chunk = b"".join(self._in)
        self._in = []
        self._in_n = 0
        n = len(chunk)
        pos = 0
        with memoryview(chunk) as mv:
            while n - pos >= _BLOCK and not self._stop:
                self._inflate(mv[pos : pos + _BLOCK])
                pos += _BLOCK
        if pos < n and not self._stop:
            self._in.append(chunk[pos:])
            self._in_n = n - pos

    def finish(self) -> InflateResult:
        """End of the current message: append the 00 00 ff ff tail and hand back its bytes."""
        if self._in and not self._stop:
            held = self._in
            self._inflate(held[0] if len(held) == 1 else b"".join(held))
        self._in = []
        self._in_n = 0
        if not self._stop:
            self._inflate(_TAIL)
        data = b"".join(self._chunks)
        error = self._error
        length = self._length
        ended = self._d.eof
        dropped = None
        budget = self._budget
        if budget is not None:
            budget.fed(self._compressed)
            if data:
                dropped = budget.take(len(data))
                if dropped is not None:
                    data = b""
        result = InflateResult(data, length, error is not None or len(data) < length, error, dropped)
        self._chunks = []
        self._kept = 0
        self._length = 0
        self._error = None
        self._stop = False
        self._compressed = 0
        # RFC 7692 §7.1.1: no context takeover => every message starts from an empty window.
        if self._no_ctx or ended:
            self._d = _new()
        return result

    def inflate(self, payload: bytes) -> InflateResult:
        """A whole message's compressed payload at once."""
        self.feed(payload)
        return self.finish()
