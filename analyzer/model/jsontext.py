"""JSON text of single values, for the records that write their own JSON (`to_json`).

Each record of the analysis document has one serializer: a template that writes its JSON text
(`json.dumps` on a 100 KB hex string costs ~500 µs; an f-string ~3 µs). Every piece here is
exactly what `analyzer.model.spill.dumps` (compact, `ensure_ascii=False`) writes for the same
value; captured text goes through the json module's C escaper, which json.dumps itself uses.
A record's `to_dict()` is its `to_json()` read back (`loads_dict`): one place per field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from json.encoder import encode_basestring
from typing import Any, cast

from mypy_extensions import mypyc_attr

__all__ = [
    "JsonText",
    "boolean",
    "int_list",
    "loads_dict",
    "loads_list",
    "opt_hex",
    "opt_int",
    "opt_str",
    "string",
]

string = encode_basestring  # a str as a JSON string


def opt_str(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def boolean(value: bool) -> str:
    return "true" if value else "false"


def opt_int(value: int | None) -> str:
    return "null" if value is None else str(value)


def opt_hex(value: bytes | None) -> str:
    """bytes as a JSON string of hex digits (nothing in it to escape), or null."""
    return "null" if value is None else '"' + value.hex() + '"'


def int_list(values: Iterable[int]) -> str:
    return "[" + ",".join(map(str, values)) + "]"


def loads_dict(text: str) -> dict[str, Any]:
    """The object a record's `to_json()` wrote, as a dict (its `to_dict()`)."""
    return cast(dict[str, Any], json.loads(text))


def loads_list(texts: Iterable[str]) -> list[Any]:
    """A list of records' JSON texts read back in one pass."""
    return cast(list[Any], json.loads("[" + ",".join(texts) + "]"))


@mypyc_attr(allow_interpreted_subclasses=True)  # subclassed outside the compiled modules
class JsonText:
    """Base of the records with one serializer: `to_json()` writes their text, `to_dict()` is
    that text read back."""

    __slots__ = ()

    def to_json(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return loads_dict(self.to_json())
