"""The Engine.IO packet as the model holds it (Engine.IO protocol v3/v4 "Packet encoding")."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["EioPacket", "EioPacketType"]


class EioPacketType(enum.IntEnum):
    """Engine.IO packet types (EIO v4 'Packet encoding'; the same numbers in v3)."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6

    @property
    def wire_name(self) -> str:
        """The lowercase name used in the analysis document."""
        return _WIRE_NAMES[self]


_WIRE_NAMES = tuple(t.name.lower() for t in EioPacketType)  # by number (Enum.name is a slow lookup)


_PING_PONG = (EioPacketType.PING, EioPacketType.PONG)


@dataclass(slots=True)  # not frozen: one per packet, and a frozen __init__ costs several times more
class EioPacket:
    """One Engine.IO packet: `data` is the text after the type character, or bytes for binary."""

    type: EioPacketType
    data: str | bytes = ""
    b64: bool = False  # binary that travelled as base64 text ("b...")

    @property
    def binary(self) -> bool:
        return isinstance(self.data, bytes)

    @property
    def text(self) -> str | None:
        return self.data if isinstance(self.data, str) else None

    @property
    def is_probe(self) -> bool:
        """`2probe` / `3probe` of the WebSocket upgrade (EIO v4 'Upgrade')."""
        return self.type in _PING_PONG and self.data == "probe"
