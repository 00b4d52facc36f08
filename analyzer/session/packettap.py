"""What takes a session's packets as they are written, instead of their JSON (PayloadStore.tap)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from analyzer.model.session import EioPacketRecord, SioPacketRecord

__all__ = ["PacketTap"]


class PacketTap(Protocol):
    """Each Engine.IO packet of a session (with its payload, read back from the PayloadStore) and
    each Socket.IO packet, in the order session/spill.py would write their JSON; `sid`: the
    session's. `socketscope batch` makes its rows from them (batch/tap.py)."""

    def eio_packet(self, sid: str, record: EioPacketRecord, data: str | bytes) -> None: ...

    def sio_packet(self, sid: str, record: SioPacketRecord) -> None: ...
