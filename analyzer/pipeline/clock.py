"""Packet times in capture order: a packet timestamped before the packet ahead of it is counted.

Capture tools write packets in the order they took them, so time runs forwards through a file;
a step back means a merged or edited file, a clock stepped while capturing, or a forged capture.
Durations across the step (handshake RTT, ping/pong, ack latencies) are then negative or wrong:
`capture.time-backwards` says so, once per capture, with the count and the first packet.
"""

from __future__ import annotations

from analyzer.model.common import Anomaly
from analyzer.model.registry import make_anomaly
from analyzer.model.times import span_ms

__all__ = ["NO_TIME_YET", "CaptureClock"]

NO_TIME_YET = -(1 << 256)  # below every time a capture can give (pcapng: 64-bit ticks + offset)


class CaptureClock:
    __slots__ = ("backwards", "first_frame", "largest_ns", "last_ns")

    def __init__(self) -> None:
        self.last_ns = NO_TIME_YET  # the latest packet's time, integer nanoseconds
        self.backwards = 0
        self.first_frame = 0
        self.largest_ns = 0  # the longest step back

    def tick(self, frame: int, ts_ns: int) -> None:
        """Packet `frame`'s time (the flat loop inlines the test and calls `back`)."""
        if ts_ns < self.last_ns:
            self.back(frame, self.last_ns - ts_ns)
        self.last_ns = ts_ns

    def back(self, frame: int, step_ns: int) -> None:
        self.backwards += 1
        if not self.first_frame:
            self.first_frame = frame
        if step_ns > self.largest_ns:
            self.largest_ns = step_ns

    def anomaly(self) -> Anomaly | None:
        if not self.backwards:
            return None
        n = self.backwards
        return make_anomaly(
            "capture.time-backwards",
            f"{n:,} packet{'s are' if n != 1 else ' is'} timestamped earlier than the packet before "
            f"{'them' if n != 1 else 'it'} (the first: packet {self.first_frame}; the longest step back "
            f"{span_ms(0, self.largest_ns):,.3f} ms); durations across them are not meaningful",
            None,
            None,
            (self.first_frame,),
        )
