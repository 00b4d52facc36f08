"""The one registry of anomaly codes: code -> severity, layer, explanation, rule cited.

Each layer declares its codes in `analyzer/model/codes/<layer>.py` by calling
`codes.define.register`; `make_anomaly` refuses codes that were never registered.
"""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.model import codes
from analyzer.model.codes.define import REGISTRY, AnomalyDef, register
from analyzer.model.common import Anomaly, Direction

__all__ = ["REGISTRY", "AnomalyDef", "lookup", "make_anomaly", "register"]


def lookup(code: str) -> AnomalyDef:
    try:
        return REGISTRY[code]
    except KeyError:
        raise KeyError(f"unregistered anomaly code {code!r}") from None


def make_anomaly(
    code: str,
    message: str,
    connection: int | None = None,
    direction: Direction | None = None,
    frames: Iterable[int] = (),
) -> Anomaly:
    d = lookup(code)
    return Anomaly(code, d.severity, d.layer, message, connection, direction, tuple(sorted(set(frames))))


_ = codes  # importing the package registers every layer's codes
