"""Anomaly codes of the HTTP/1.1 layer (RFC 9110, RFC 9112; PROTOCOLS.md §1.2)."""

from __future__ import annotations

from analyzer.model.codes.define import register
from analyzer.model.common import Layer, Severity

__all__ = [
    "HTTP_BAD_CHUNK",
    "HTTP_BAD_CONTENT_LENGTH",
    "HTTP_BAD_HEADER",
    "HTTP_BAD_REQUEST_LINE",
    "HTTP_BAD_STATUS_LINE",
    "HTTP_BAD_TRANSFER_ENCODING",
    "HTTP_BARE_LF",
    "HTTP_BODY_TOO_LONG",
    "HTTP_DECODED_TOO_LONG",
    "HTTP_DECODE_FAILED",
    "HTTP_H2_PREFACE",
    "HTTP_HEAD_TOO_LONG",
    "HTTP_INFLATE_BUDGET_EXCEEDED",
    "HTTP_LEADING_EMPTY_LINE",
    "HTTP_OBS_FOLD",
    "HTTP_REQUEST_LINE_WHITESPACE",
    "HTTP_RESPONSE_LOST",
    "HTTP_RESPONSE_WITHOUT_REQUEST",
    "HTTP_RESYNC",
    "HTTP_STREAM_GAP",
    "HTTP_TE_AND_CL",
    "HTTP_TOO_MANY_PENDING",
    "HTTP_TRUNCATED_MESSAGE",
    "HTTP_UNANSWERED_REQUEST",
    "HTTP_UNDECODED_BYTES",
    "HTTP_UNREQUESTED_UPGRADE",
    "HTTP_UNSUPPORTED_CODING",
    "HTTP_UPGRADE_HOLD_OVERFLOW",
]

HTTP_BAD_REQUEST_LINE = register(
    "http.bad-request-line",
    Severity.ERROR,
    Layer.HTTP,
    "bytes where a request line was expected are not `method SP request-target SP HTTP-version`",
    "RFC 9112 §3",
)
HTTP_REQUEST_LINE_WHITESPACE = register(
    "http.request-line-whitespace",
    Severity.WARN,
    Layer.HTTP,
    "the parts of a request line are separated by other whitespace than one SP (runs, HTAB, VT, FF, "
    "bare CR, or whitespace before or after the line); parsed on whitespace as a lenient recipient may",
    "RFC 9112 §3",
)
HTTP_BAD_STATUS_LINE = register(
    "http.bad-status-line",
    Severity.ERROR,
    Layer.HTTP,
    "bytes where a status line was expected are not `HTTP-version SP 3DIGIT SP reason`",
    "RFC 9112 §4",
)
HTTP_BAD_HEADER = register(
    "http.bad-header",
    Severity.ERROR,
    Layer.HTTP,
    'a header (or trailer) line is not `token ":" OWS value OWS` (space before the colon, no colon, '
    "CR or NUL in the value); the line was dropped",
    "RFC 9112 §5, §5.1; RFC 9110 §5.5",
)
HTTP_OBS_FOLD = register(
    "http.obs-fold",
    Severity.WARN,
    Layer.HTTP,
    "a header value continues on a line starting with whitespace (obsolete line folding); it was unfolded",
    "RFC 9112 §5.2",
)
HTTP_BARE_LF = register(
    "http.bare-lf",
    Severity.NOTE,
    Layer.HTTP,
    "a line of the message framing ends with LF alone instead of CRLF (tolerated)",
    "RFC 9112 §2.2",
)
HTTP_LEADING_EMPTY_LINE = register(
    "http.leading-empty-line",
    Severity.WARN,
    Layer.HTTP,
    "empty lines before a status line (only a server may ignore empty lines, before a request line)",
    "RFC 9112 §2.2",
)
HTTP_HEAD_TOO_LONG = register(
    "http.head-too-long",
    Severity.WARN,
    Layer.HTTP,
    "the start line and header section exceed the parser's bound; skipped to the next message",
    "socketscope bound (RFC 9112 §2.3 lets recipients limit it)",
)
HTTP_BAD_CONTENT_LENGTH = register(
    "http.bad-content-length",
    Severity.ERROR,
    Layer.HTTP,
    "Content-Length is not a decimal number, or several differing values were sent; framing is lost",
    "RFC 9110 §8.6; RFC 9112 §6.3 item 5",
)
HTTP_BAD_TRANSFER_ENCODING = register(
    "http.bad-transfer-encoding",
    Severity.ERROR,
    Layer.HTTP,
    "Transfer-Encoding applies chunked more than once or, in a request, not last; framing is lost",
    "RFC 9112 §6.1, §6.3 item 4",
)
HTTP_TE_AND_CL = register(
    "http.te-and-cl",
    Severity.ERROR,
    Layer.HTTP,
    "a message has both Transfer-Encoding and Content-Length (request smuggling risk); "
    "Transfer-Encoding was used",
    "RFC 9112 §6.1, §6.3 item 3",
)
HTTP_BAD_CHUNK = register(
    "http.bad-chunk",
    Severity.ERROR,
    Layer.HTTP,
    "malformed chunked coding (chunk-size line, missing CRLF after chunk data, or trailer section)",
    "RFC 9112 §7.1",
)
HTTP_BODY_TOO_LONG = register(
    "http.body-too-long",
    Severity.WARN,
    Layer.HTTP,
    "a body is longer than the bound kept for display; the rest was skipped and the body marked truncated",
    "socketscope bound",
)
HTTP_DECODED_TOO_LONG = register(
    "http.decoded-too-long",
    Severity.WARN,
    Layer.HTTP,
    "a compressed body inflates past the display bound (possible zip bomb); decoding stopped there",
    "socketscope bound (RFC 9110 §8.4)",
)
HTTP_INFLATE_BUDGET_EXCEEDED = register(
    "http.inflate-budget-exceeded",
    Severity.WARN,
    Layer.HTTP,
    "decoded gzip/deflate bodies past the inflate budget of the connection or the capture"
    " (docs/bounds.md) were dropped (lengths kept, body empty and marked truncated); one record per"
    " connection, at the first",
    "socketscope bound (docs/bounds.md; RFC 9110 §8.4)",
)
HTTP_DECODE_FAILED = register(
    "http.decode-failed",
    Severity.ERROR,
    Layer.HTTP,
    "a gzip/deflate coded body is corrupt, ends early or has bytes after the compressed stream",
    "RFC 9110 §8.4.1; RFC 1950-1952",
)
HTTP_UNSUPPORTED_CODING = register(
    "http.unsupported-coding",
    Severity.NOTE,
    Layer.HTTP,
    "the body uses a content or transfer coding this analyzer does not decode (e.g. br); kept as sent",
    "RFC 9110 §8.4.1",
)
HTTP_RESPONSE_WITHOUT_REQUEST = register(
    "http.response-without-request",
    Severity.WARN,
    Layer.HTTP,
    "a response arrived with no request pending on the connection",
    "RFC 9112 §9.3",
)
HTTP_RESPONSE_LOST = register(
    "http.response-lost",
    Severity.WARN,
    Layer.HTTP,
    "a whole response was in a capture gap: the next response answers a later request",
    "RFC 9112 §9.3",
)
HTTP_UNANSWERED_REQUEST = register(
    "http.unanswered-request",
    Severity.WARN,
    Layer.HTTP,
    "the server side ended without answering this request",
    "RFC 9112 §9.3",
)
HTTP_TOO_MANY_PENDING = register(
    "http.too-many-pending",
    Severity.WARN,
    Layer.HTTP,
    "more pipelined requests are waiting for responses than the bound; later ones are not paired",
    "socketscope bound (RFC 9112 §9.3.2)",
)
HTTP_UNREQUESTED_UPGRADE = register(
    "http.unrequested-upgrade",
    Severity.ERROR,
    Layer.HTTP,
    "101 Switching Protocols answers a request that did not ask to upgrade",
    "RFC 9110 §7.8, §15.2.2",
)
HTTP_UPGRADE_HOLD_OVERFLOW = register(
    "http.upgrade-hold-overflow",
    Severity.WARN,
    Layer.HTTP,
    "the client sent more than the bound after an upgrade request before its response; the excess "
    "was dropped",
    "socketscope bound (RFC 6455 §4.1: the client waits for the response)",
)
HTTP_UNDECODED_BYTES = register(
    "http.undecoded-bytes",
    Severity.WARN,
    Layer.HTTP,
    "bytes after an upgrade request that was never answered could not be assigned a protocol",
    "RFC 9110 §7.8",
)
HTTP_STREAM_GAP = register(
    "http.stream-gap",
    Severity.WARN,
    Layer.HTTP,
    "bytes missing from the capture fall inside an HTTP message; the message is truncated or the "
    "parser resynchronises",
    "RFC 9293 §3.4 (T3)",
)
HTTP_TRUNCATED_MESSAGE = register(
    "http.truncated-message",
    Severity.WARN,
    Layer.HTTP,
    "the stream ended inside a message head or a body of known length",
    "RFC 9112 §8",
)
HTTP_RESYNC = register(
    "http.resync",
    Severity.NOTE,
    Layer.HTTP,
    "the parser found the next start line after skipping undecodable bytes",
    "RFC 9112 §2.2",
)
HTTP_H2_PREFACE = register(
    "http.h2-preface",
    Severity.NOTE,
    Layer.HTTP,
    "the client sent the HTTP/2 connection preface; the rest of the stream is not HTTP/1.x",
    "RFC 9113 §3.4",
)
