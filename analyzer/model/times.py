"""Times inside the analyzer: integer nanoseconds, from the capture's records to every duration.

A float of an epoch time in seconds has about 0.24 µs of precision today, and none at all once a
pcapng if_tsoffset of 2^62 s is added (a 2 µs handshake came out as 512,000 ms). So every time
is kept twice: `ts`, the float seconds the outputs show (computed as the reader always computed
it, so documents stay the same), and `ts_ns`, exact integer nanoseconds. Durations are differences
of the latter, turned into float milliseconds only when they are written out.
"""

from __future__ import annotations

__all__ = ["NS_PER_S", "float_ns", "ns_of", "span_ms"]

NS_PER_S = 1_000_000_000


def float_ns(ts: float) -> int:
    """Seconds as integer nanoseconds, for a time that only came as a float (0 if not a number)."""
    try:
        return round(ts * NS_PER_S)
    except (OverflowError, ValueError):
        return 0


def ns_of(ts: float, ts_ns: int | None) -> int:
    """The exact time when the record has it, else its float seconds rounded to nanoseconds."""
    return ts_ns if ts_ns is not None else float_ns(ts)


def span_ms(start_ns: int, end_ns: int) -> float:
    """Milliseconds from `start_ns` to `end_ns`: the only place a duration becomes a float."""
    return (end_ns - start_ns) / 1_000_000
