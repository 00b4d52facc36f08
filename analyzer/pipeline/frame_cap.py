"""How many WebSocket frame records are listed: per connection and per capture (docs/bounds.md).

Every frame gets a record of about 300 bytes of JSON, so a stream of 2-byte frames (empty
continuations, `00 00 ...`) would be written 150 times its size. Past the bound, frames are still
decoded and counted (`counts`), their messages still assembled, pings still paired; only their
records are not kept. `ws.frame-records-capped` says so once per connection, with the count.
"""

from __future__ import annotations

from analyzer.model.common import Anomaly, Direction
from analyzer.model.registry import make_anomaly
from analyzer.model.websocket import WebSocketRecord

__all__ = ["MAX_FRAME_RECORDS", "FrameRecordBudget", "FrameRecords"]

MAX_FRAME_RECORDS = 100_000  # per connection; ten times that per capture


class FrameRecordBudget:
    """The capture's frame records still to list, shared by its connections."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit


class FrameRecords:
    """One connection's count against its own bound and the capture's."""

    __slots__ = ("budget", "first_direction", "first_frame", "left", "limit")

    def __init__(self, limit: int, budget: FrameRecordBudget | None) -> None:
        self.limit = limit
        self.left = limit
        self.budget = budget
        self.first_frame = 0  # the packet of the first frame not listed
        self.first_direction: Direction | None = None

    def take(self, ws: WebSocketRecord, frame: int, direction: Direction) -> bool:
        """True: list this frame's record; False: counted in `ws.frames_not_listed`."""
        budget = self.budget
        if self.left > 0 and (budget is None or budget.left > 0):
            self.left -= 1
            if budget is not None:
                budget.left -= 1
            return True
        if not ws.frames_not_listed:
            self.first_frame, self.first_direction = frame, direction
        ws.frames_not_listed += 1
        return False

    def anomaly(self, ws: WebSocketRecord, connection: int) -> Anomaly | None:
        n = ws.frames_not_listed
        if not n:
            return None
        listed = self.limit - self.left
        whose = (
            f"this connection's bound of {self.limit:,}"
            if self.left <= 0
            else f"the capture's bound of {self.budget.limit if self.budget else 0:,}"
        )
        return make_anomaly(
            "ws.frame-records-capped",
            f"{n:,} WebSocket frames not listed after {listed:,} ({whose} frame records, "
            "--max-frame-records): they were decoded, counted and their messages assembled",
            connection,
            self.first_direction,
            (self.first_frame,),
        )
