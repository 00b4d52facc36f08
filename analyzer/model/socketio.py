"""The Socket.IO packet as the model holds it (socket.io-protocol v4/v5 "Packet types")."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import cast

from analyzer.model.jsontypes import JsonValue, SioValue
from analyzer.model.values import to_jsonable

__all__ = ["SioPacket", "SioPacketType"]


class SioPacketType(enum.IntEnum):
    """Socket.IO packet types (SIO v5 'Packet types'; 4 is called ERROR in v4)."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


_EVENT_TYPES = (SioPacketType.EVENT, SioPacketType.BINARY_EVENT)


@dataclass(slots=True)  # not frozen: one per packet, and a frozen __init__ costs several times more
class SioPacket:
    """One Socket.IO packet; `data` holds bytes where binary attachments (or msgpack bin) were."""

    type: SioPacketType
    nsp: str = "/"
    ack_id: int | None = None
    data: SioValue = None
    has_data: bool = False
    attachments: int = 0  # declared by "<n>-" (BINARY_EVENT / BINARY_ACK)
    query: str | None = None  # "?a=b" after the namespace (SIO v4 clients), without the "?"
    parser: str = "default"  # "default" | "msgpack"
    binary_values: bool = False  # data holds values that to_jsonable() must convert

    @property
    def event(self) -> str | None:
        """The event name of an EVENT / BINARY_EVENT (a numeric name as its decimal text)."""
        if self.type not in _EVENT_TYPES or not isinstance(self.data, list) or not self.data:
            return None
        name = self.data[0]
        if isinstance(name, str):
            return name
        if isinstance(name, bool) or not isinstance(name, int | float):
            return None
        if isinstance(name, float) and name.is_integer():
            return str(int(name))
        return str(name)

    @property
    def args(self) -> list[SioValue] | None:
        """The arguments after the event name (EVENT / BINARY_EVENT only)."""
        if self.type not in _EVENT_TYPES or not isinstance(self.data, list) or not self.data:
            return None
        return list(self.data[1:])

    def json_data(self) -> JsonValue:
        """`data` as JSON-safe values: bytes become {"$hex": "..."} at their place."""
        if self.binary_values:
            return to_jsonable(self.data)
        return cast(JsonValue, self.data)  # no binary values: the default parser's JSON as it came
