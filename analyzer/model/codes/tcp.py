"""Anomaly codes of the TCP layer (PROTOCOLS.md checklist T1-T4)."""

from __future__ import annotations

from analyzer.model.codes.define import register
from analyzer.model.common import Layer, Severity

__all__ = [
    "TCP_DATA_AFTER_FIN",
    "TCP_GAP",
    "TCP_MALFORMED",
    "TCP_MSS_NON_SYN",
    "TCP_OOO_OVERFLOW",
    "TCP_OVERLAP_MISMATCH",
    "TCP_PORT_REUSE",
    "TCP_RETRANSMISSION",
    "TCP_RST_NOT_AT_NEXT",
    "TCP_TABLE_FULL",
]

TCP_RETRANSMISSION = register(
    "tcp.retransmission",
    Severity.NOTE,
    Layer.TRANSPORT,
    "segments with data, SYN or FIN that start below the highest sequence number seen in their direction"
    " (as tshark's tcp.analysis.retransmission); one record per connection and direction lists them;"
    " only new bytes were used",
    "RFC 9293 §3.4, §3.10.7.4 (T1)",
)
TCP_OVERLAP_MISMATCH = register(
    "tcp.overlap-mismatch",
    Severity.WARN,
    Layer.TRANSPORT,
    "a retransmitted or overlapping segment carried different bytes than the first copy (possible evasion)",
    "RFC 9293 §3.10.7.4 (T1)",
)
TCP_GAP = register(
    "tcp.gap",
    Severity.WARN,
    Layer.TRANSPORT,
    "bytes of the stream were never captured; upper layers resynchronise after the gap",
    "RFC 9293 §3.4 (T3)",
)
TCP_DATA_AFTER_FIN = register(
    "tcp.data-after-fin",
    Severity.WARN,
    Layer.TRANSPORT,
    "data was sent past the sequence number of that direction's FIN",
    "RFC 9293 §3.6 (T2)",
)
TCP_RST_NOT_AT_NEXT = register(
    "tcp.rst-out-of-sequence",
    Severity.WARN,
    Layer.TRANSPORT,
    "a RST whose sequence number is not the next expected one (it would draw a challenge ACK)",
    "RFC 9293 §3.10.7.4, RFC 5961 §3 (T2)",
)
TCP_MSS_NON_SYN = register(
    "tcp.mss-on-non-syn",
    Severity.WARN,
    Layer.TRANSPORT,
    "an MSS option on a segment without SYN",
    "RFC 9293 §3.2 MUST-65 (T4)",
)
TCP_OOO_OVERFLOW = register(
    "tcp.out-of-order-overflow",
    Severity.WARN,
    Layer.TRANSPORT,
    "more out-of-order data than the reassembly bound was waiting; the hole was declared a gap",
    "socketscope bound (RFC 9293 §3.10.7.4 queues out-of-order segments)",
)
TCP_MALFORMED = register(
    "tcp.malformed",
    Severity.WARN,
    Layer.TRANSPORT,
    "a TCP header is malformed (data offset below 5 or past the packet)",
    "RFC 9293 §3.1",
)
TCP_PORT_REUSE = register(
    "tcp.port-reuse",
    Severity.NOTE,
    Layer.TRANSPORT,
    "a new SYN reused the ports of a finished connection; a new connection was started",
    "RFC 9293 §3.4, §3.6 (TIME-WAIT)",
)
TCP_TABLE_FULL = register(
    "tcp.table-full",
    Severity.WARN,
    Layer.TRANSPORT,
    "the connection table was full: idle connections that carried no data (half-open flows of a SYN"
    " flood, unused handshakes) were dropped without a record, oldest first; one record per capture"
    " counts them",
    "socketscope bound (docs/bounds.md); RFC 4987 §2 (SYN flooding)",
)
