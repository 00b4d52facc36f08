"""HTTP/2 (RFC 9113) with HPACK (RFC 7541), sans-IO: frames with `hyperframe`, header blocks with
`hpack`. connection.py reads both directions of a connection (frames.py one direction's framing,
fields.py one direction's HPACK state); events.py lists what it reports."""

from __future__ import annotations

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
