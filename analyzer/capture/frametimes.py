"""Times of some packets of a capture, by number: a second, cheap pass over the file that stops
after the last one wanted (HAR entries and the dataset's anomaly rows carry packet numbers)."""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.capture.pcapfile import open_capture

__all__ = ["packet_times"]


def packet_times(path: str, frames: Iterable[int]) -> dict[int, float]:
    """The time of each packet numbered in `frames` (1-based) that the capture holds."""
    want = set(frames)
    out: dict[int, float] = {}
    if not want:
        return out
    last = max(want)
    reader = open_capture(path)
    try:
        for pkt in reader:
            if pkt.frame in want:
                out[pkt.frame] = pkt.ts
            if pkt.frame >= last:
                break
    finally:
        reader.close()
    return out
