"""HTTP/1.x message heads: start lines, field lines, and the patterns used to find them.

Pure functions over bytes (RFC 9112 §2-§5). They never raise on captured
bytes: problems come back as `(code, message, offset)` issues, offsets being
positions in the caller's stream.
"""

from __future__ import annotations

import re
from itertools import accumulate

from analyzer.model.codes.http import HTTP_BAD_HEADER, HTTP_OBS_FOLD
from analyzer.model.records import Headers

__all__ = [
    "LEADING_EMPTY",
    "REQUEST_START",
    "RESPONSE_START",
    "Issue",
    "find_blank_line",
    "line_end",
    "parse_fields",
    "parse_plain_fields",
    "parse_request_line",
    "parse_request_line_lenient",
    "parse_status_line",
    "split_lines",
]

Issue = tuple[str, str, int]  # (anomaly code, message, stream offset)

# RFC 9110 §5.6.2: token = 1*tchar
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# RFC 9112 §3: request-line = method SP request-target SP HTTP-version. The target
# is any run of visible bytes (obs-text tolerated); HTTP-version is RFC 9112 §2.3.
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([^\x00-\x20\x7f]+) (HTTP/[0-9]\.[0-9])")
# RFC 9112 §3: "recipients MAY instead parse on whitespace-delimited word boundaries and, aside
# from the CRLF terminator, treat any form of whitespace as the SP separator while ignoring
# preceding or trailing whitespace; such whitespace includes one or more of the following
# octets: SP, HTAB, VT (%x0B), FF (%x0C), or bare CR". What tshark reads as a request too.
_WSP = rb"[ \t\x0b\x0c\r]"
_LENIENT_REQUEST_LINE = re.compile(
    rb"%b*+(%b)%b++([^\x00-\x20\x7f]+)%b++(HTTP/[0-9]\.[0-9])%b*+" % (_WSP, _TOKEN, _WSP, _WSP, _WSP)
)
# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ], with
# reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ). A missing SP before an empty
# reason is common and tolerated.
_STATUS_LINE = re.compile(rb"(HTTP/[0-9]\.[0-9]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
_TOKEN_RE = re.compile(_TOKEN)
# RFC 9112 §5: field-line = field-name ":" OWS field-value OWS (trailing OWS stripped
# after the match). CR and NUL are never allowed in a value (RFC 9110 §5.5); other
# controls are tolerated. Possessive quantifiers: no backtracking on hostile lines.
_FIELD_LINE = re.compile(rb"(" + _TOKEN + rb"+):[ \t]*+([^\x00\r]*+)")

# The same rule over a whole CRLF-only field section, decoded as latin-1 (field names are
# ASCII tokens, so latin-1 gives what ascii would): every line a plain field line, or no match.
_TOKEN_STR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]++"
_PLAIN_SECTION = re.compile(r"(?:" + _TOKEN_STR + r":[ \t]*+[^\x00\r\n]*+\r\n)*+")
_PLAIN_FIELD = re.compile(r"(" + _TOKEN_STR + r"):[ \t]*+([^\x00\r\n]*+)\r\n")

# RFC 9112 §2.2: a server SHOULD ignore empty lines received before a request line.
LEADING_EMPTY = re.compile(rb"[\r\n]*")

# What a resynchronising parser accepts as the start of the next message: a full
# request line with a well-known method (RFC 9110 §9.1; on whitespace, as above), or a
# status line prefix.
_KNOWN_METHODS = rb"(?:GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH)"
_REQUEST_START = rb"%b%b++[^\x00-\x20\x7f]++%b++HTTP/1\.[0-9]%b*+\n" % (_KNOWN_METHODS, _WSP, _WSP, _WSP)
_RESPONSE_START = rb"HTTP/1\.[0-9] [0-9]{3}[ \r\n]"
REQUEST_START = re.compile(_REQUEST_START)
RESPONSE_START = re.compile(_RESPONSE_START)


def find_blank_line(buf: bytes | bytearray, start: int, stop: int) -> tuple[int, int]:
    """Find the empty line that ends a header or trailer section (RFC 9112 §2.1).

    Returns (index of the LF that ends the last non-empty line, index after the
    empty line), or (-1, -1). Only matches that end at or before `stop` count.
    Bare-LF line endings are accepted (RFC 9112 §2.2).
    """
    crlf = buf.find(b"\n\r\n", start, stop)
    lf = buf.find(b"\n\n", start, stop if crlf < 0 else crlf + 2)
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, lf + 2
    if crlf >= 0:
        return crlf, crlf + 3
    return -1, -1


def split_lines(block: bytes, offset: int) -> tuple[list[bytes], list[int], bool]:
    """Split a head or trailer section (every line ending in LF) into lines without CRLF/LF.

    Returns the lines, each line's stream offset (`block` starts at `offset`),
    and whether any line ended in a bare LF (RFC 9112 §2.2).
    """
    if block.count(b"\n") == block.count(b"\r\n"):  # every line ends in CRLF: split in C
        lines = block[:-2].split(b"\r\n")
        return lines, list(accumulate([len(x) + 2 for x in lines[:-1]], initial=offset)), False
    lines = []
    offsets: list[int] = []
    pos = offset
    for raw in block.split(b"\n")[:-1]:
        offsets.append(pos)
        pos += len(raw) + 1
        lines.append(raw[:-1] if raw.endswith(b"\r") else raw)
    return lines, offsets, True


def parse_request_line(line: bytes) -> tuple[str, str, str] | None:
    """(method, request-target, HTTP-version) or None (RFC 9112 §3)."""
    m = _REQUEST_LINE.fullmatch(line)
    if m is None:
        return None
    return m[1].decode("ascii"), m[2].decode("latin-1"), m[3].decode("ascii")


def parse_request_line_lenient(line: bytes) -> tuple[str, str, str] | None:
    """parse_request_line on whitespace-delimited words (RFC 9112 §3's lenient recipient), for a
    line the strict rule rejects; the caller flags http.request-line-whitespace."""
    m = _LENIENT_REQUEST_LINE.fullmatch(line)
    if m is None:
        return None
    return m[1].decode("ascii"), m[2].decode("latin-1"), m[3].decode("ascii")


def parse_status_line(line: bytes) -> tuple[str, int, str] | None:
    """(HTTP-version, status-code, reason-phrase) or None (RFC 9112 §4)."""
    m = _STATUS_LINE.fullmatch(line)
    if m is None:
        return None
    reason = m[3] or b""
    return m[1].decode("ascii"), int(m[2]), reason.decode("latin-1")


def _preview(line: bytes) -> str:
    return repr(line[:60])[1:] + ("..." if len(line) > 60 else "")


def parse_fields(lines: list[bytes], offsets: list[int]) -> tuple[Headers, list[Issue]]:
    """Parse field lines (header or trailer section), names kept as on the wire.

    `offsets` gives each line's stream offset for the issues. Bad lines are
    dropped with an `http.bad-header` issue; obs-fold continuations are joined
    to the previous value with one SP (RFC 9112 §5.2). Linear in the input size.
    """
    fields: list[tuple[bytes, bytes]] = []
    folds: dict[int, list[bytes]] = {}
    issues: list[Issue] = []
    for line, offset in zip(lines, offsets, strict=True):
        m = _FIELD_LINE.fullmatch(line)
        if m is not None:
            fields.append((m[1], m[2].rstrip(b" \t")))
            continue
        if line[:1] in (b" ", b"\t"):
            # RFC 9112 §5.2: obs-fold; RFC 9112 §2.2: whitespace before the first field
            # line is not a fold and must be rejected or ignored.
            if not fields or b"\r" in line or b"\x00" in line:
                issues.append((HTTP_BAD_HEADER, f"line starting with whitespace: {_preview(line)}", offset))
                continue
            if not folds:
                issues.append((HTTP_OBS_FOLD, "header value folded over several lines", offset))
            folds.setdefault(len(fields) - 1, []).append(line.strip(b" \t"))
            continue
        colon = line.find(b":")
        if colon < 0:
            why = "no colon"
        elif colon == 0:
            why = "empty field name"
        elif line[colon - 1 : colon] in (b" ", b"\t"):
            why = "whitespace between field name and colon"  # RFC 9112 §5.1
        elif _TOKEN_RE.fullmatch(line, 0, colon) is None:
            why = "invalid field name"
        else:
            why = "CR or NUL in the field value"  # RFC 9110 §5.5
        issues.append((HTTP_BAD_HEADER, f"{why}: {_preview(line)}", offset))
    if folds:
        for k, parts in folds.items():
            name, value = fields[k]
            fields[k] = (name, b" ".join(p for p in (value, *parts) if p))
    return tuple((n.decode("ascii"), v.decode("latin-1")) for n, v in fields), issues


def parse_plain_fields(block: bytes) -> Headers | None:
    """The fields of a head `block` (start line, then field lines, every line ending in LF) when
    every line ends in CRLF and every field line is well formed: what split_lines + parse_fields
    give then, in two regex passes instead of a loop over lines. None otherwise (nothing to
    report here: the caller parses line by line to find what is wrong)."""
    first = block.find(b"\r\n")
    if first < 0 or block.count(b"\n") != block.count(b"\r\n"):
        return None
    section = block[first + 2 :].decode("latin-1")
    if _PLAIN_SECTION.fullmatch(section) is None:
        return None
    # RFC 9112 §5: OWS after the value is not part of it.
    return tuple([(name, value.rstrip(" \t")) for name, value in _PLAIN_FIELD.findall(section)])


def line_end(buf: bytes | bytearray, nl: int) -> int:
    """Index where the line whose LF is at `nl` ends, excluding an optional CR."""
    return nl - 1 if nl > 0 and buf[nl - 1] == 0x0D else nl
