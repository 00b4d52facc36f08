"""HTTP/2 (RFC 9113) with HPACK (RFC 7541), sans-IO: frames with `hyperframe`, header blocks with
`hpack`. connection.py reads both directions of a connection (frames.py one direction's framing,
fields.py one direction's HPACK state); events.py lists what it reports.

The names are imported on first use (PEP 562), not with the package: every connection asks
frames.py whether it starts with the HTTP/2 preface, while few carry HTTP/2 (hpack and the
connection's state machine are then never loaded)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analyzer.protocols.h2.connection import H2Connection, settings_payload
    from analyzer.protocols.h2.events import H2Anomaly, H2Data, H2Event, H2GoAway, H2Head, H2Reset, H2Settings
    from analyzer.protocols.h2.fields import Fields, field
    from analyzer.protocols.h2.frames import PREFACE, looks_like_h2

__all__ = [
    "PREFACE",
    "Fields",
    "H2Anomaly",
    "H2Connection",
    "H2Data",
    "H2Event",
    "H2GoAway",
    "H2Head",
    "H2Reset",
    "H2Settings",
    "field",
    "looks_like_h2",
    "settings_payload",
]

_WHERE = {
    "H2Connection": "connection",
    "settings_payload": "connection",
    "Fields": "fields",
    "field": "fields",
    "PREFACE": "frames",
    "looks_like_h2": "frames",
    **dict.fromkeys(
        ("H2Anomaly", "H2Data", "H2Event", "H2GoAway", "H2Head", "H2Reset", "H2Settings"), "events"
    ),
}


def __getattr__(name: str) -> object:
    """A name of the package, imported from its module when first asked for (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
