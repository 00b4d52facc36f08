"""The types of JSON views and of decoded application values.

`JsonValue` is what json.dumps writes: the analysis document and every `to_dict()` view are made
of it. `SioValue` is what the Socket.IO decoders put in `SioPacket.data`: JSON values (the
default parser) plus the leaves msgpack and binary attachments bring, which `to_jsonable()`
(model/values.py) turns into JSON (bytes -> {"$hex"}, ext -> {"$ext", "$hex"}, timestamp ->
{"$timestamp"}, NaN/Infinity -> {"$float"}, keys -> strings).
"""

from __future__ import annotations

from typing import Protocol, TypeAlias

__all__ = ["JsonObject", "JsonValue", "MsgpackExt", "MsgpackTimestamp", "SioKey", "SioValue"]

# a JSON value, as json.loads gives it and json.dumps writes it
JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
JsonObject: TypeAlias = dict[str, JsonValue]


class MsgpackExt(Protocol):
    """msgpack.ExtType (msgpack ships no types): an extension value the decoder kept as it came."""

    @property
    def code(self) -> int: ...

    @property
    def data(self) -> bytes: ...


class MsgpackTimestamp(Protocol):
    """msgpack.Timestamp (extension -1, msgpack spec "Timestamp extension type")."""

    @property
    def seconds(self) -> int: ...

    @property
    def nanoseconds(self) -> int: ...

    def to_bytes(self) -> bytes: ...


# a msgpack map's keys may be any hashable value msgpack decodes (strict_map_key=False)
SioKey: TypeAlias = bool | int | float | str | bytes | MsgpackExt | None
# a decoded Socket.IO value: JSON, or msgpack / binary-attachment leaves (bytes, ext, timestamp,
# non-finite floats) anywhere in it
SioValue: TypeAlias = (
    bool
    | int
    | float
    | str
    | bytes
    | MsgpackExt
    | MsgpackTimestamp
    | list["SioValue"]
    | dict[SioKey, "SioValue"]
    | None
)
