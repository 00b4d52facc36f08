"""Anomaly codes of the capture file and the link/network layers."""

from __future__ import annotations

from analyzer.model.codes.define import register
from analyzer.model.common import Layer, Severity

__all__ = [
    "CAPTURE_CORRUPT",
    "CAPTURE_TIME_BACKWARDS",
    "CAPTURE_TRUNCATED",
    "IP_FRAGMENT",
    "IP_MALFORMED",
    "LINK_MALFORMED",
    "LINK_UNSUPPORTED",
    "PACKET_SNAPLEN",
]

CAPTURE_TRUNCATED = register(
    "capture.truncated",
    Severity.ERROR,
    Layer.LINK,
    "the capture file ends in the middle of a record; everything before it was analyzed",
    "pcap / pcapng (IETF draft-ietf-opsawg-pcapng) record framing",
)
CAPTURE_CORRUPT = register(
    "capture.corrupt",
    Severity.ERROR,
    Layer.LINK,
    "a record of the capture file is malformed; reading stopped there",
    "pcap / pcapng record framing",
)
CAPTURE_TIME_BACKWARDS = register(
    "capture.time-backwards",
    Severity.WARN,
    Layer.LINK,
    "packets are timestamped earlier than the packet before them (one record per capture: the"
    " count, the first and the longest step back); durations across them are not meaningful",
    "pcap / pcapng record timestamps (draft-ietf-opsawg-pcapng §4.3): records are written in capture order",
)
PACKET_SNAPLEN = register(
    "capture.snaplen-truncated",
    Severity.WARN,
    Layer.LINK,
    "packets were cut by the capture's snapshot length (one record: the count and the first);"
    " their missing bytes are gaps",
    "pcap caplen < origlen",
)
LINK_UNSUPPORTED = register(
    "link.unsupported",
    Severity.NOTE,
    Layer.LINK,
    "packets of a link type socketscope does not decode were counted and skipped",
    "tcpdump.org link-layer header types",
)
LINK_MALFORMED = register(
    "link.malformed",
    Severity.WARN,
    Layer.LINK,
    "a link-layer header is shorter than its type requires",
    "IEEE 802.3 / 802.1Q, Linux SLL/SLL2, BSD loopback",
)
IP_MALFORMED = register(
    "ip.malformed",
    Severity.WARN,
    Layer.NETWORK,
    "an IPv4/IPv6 header is malformed (bad version, header length or total length)",
    "RFC 791 §3.1, RFC 8200 §3",
)
IP_FRAGMENT = register(
    "ip.fragment",
    Severity.NOTE,
    Layer.NETWORK,
    "an IP fragment was seen; socketscope does not reassemble IP fragments",
    "RFC 791 §2.3, RFC 8200 §4.5",
)
