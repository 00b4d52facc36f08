"""What a client of the analyzer needs beside a run of the pipeline: the web UI reaches the
layers below through this module only (the `forbidden` contract of pyproject.toml).

- a capture file: `open_capture(path)` opens it or raises `CaptureError` saying why it is not
  a capture; `is_capture_head(head)` tells the same from its first bytes (an upload);
- its packets: `read_packets(path, frames, marks)` describes the packets of the given frame
  numbers field by field (link, network, transport), with their bytes;
- a connection's packets: `connection_packets(path, ends, offset, limit, marks)` lists them a
  page at a time, `connection_stream(path, ends, marks)` gives their payloads ("follow stream");
- a live capture source: `LiveCapture(interface, bpf, on_packet, ...)`, whose `start()` raises
  `LiveError` (one sentence) when it cannot capture.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from analyzer.capture.live import LiveCapture
from analyzer.capture.livetools import LiveError
from analyzer.capture.pcapfile import PCAP_MAGICS, PCAPNG_SHB, CaptureError, CaptureReader, Mark, open_capture
from analyzer.decode.connpackets import ConnEnds, StreamPiece, connection_packets, connection_stream
from analyzer.decode.details import MAX_DETAIL_FRAMES, packet_details

__all__ = [
    "MAX_DETAIL_FRAMES",
    "CaptureError",
    "CaptureReader",
    "ConnEnds",
    "LiveCapture",
    "LiveError",
    "Mark",
    "StreamPiece",
    "connection_packets",
    "connection_stream",
    "is_capture_head",
    "open_capture",
    "read_packets",
]

_PCAPNG_MAGIC = PCAPNG_SHB.to_bytes(4, "big")  # the same both byte orders


def is_capture_head(head: bytes) -> bool:
    """Whether bytes start as a pcap (either byte order, µs or ns) or pcapng file does."""
    magic = head[:4]
    return magic in PCAP_MAGICS or magic == _PCAPNG_MAGIC


def read_packets(path: str, frames: Iterable[int], marks: Sequence[Mark] = ()) -> list[dict[str, Any]]:
    """The packets of these frame numbers (at most MAX_DETAIL_FRAMES), each described layer by
    layer with its bytes (`hex`); `marks` are the resume points a reader of the same file
    recorded (`CaptureReader.marks`), so that the read starts near the first one. Raises
    CaptureError or OSError when the file cannot be read."""
    return packet_details(path, frames, marks)
