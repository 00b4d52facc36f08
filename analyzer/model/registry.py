"""The one registry of anomaly codes: code -> severity, layer, explanation, rule cited.

Each layer declares its codes in `analyzer/model/codes/<layer>.py` by calling
`register`; `make_anomaly` refuses codes that were never registered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from analyzer.model.common import Anomaly, Direction, Layer, Severity

__all__ = ["REGISTRY", "AnomalyDef", "lookup", "make_anomaly", "register"]


@dataclass(frozen=True, slots=True)
class AnomalyDef:
    code: str
    severity: Severity
    layer: Layer
    summary: str
    reference: str
    # registered, but no capture of the test suite produces it (tests/model/test_code_coverage.py
    # holds both ways: every other code is produced, and a reserved one never is)
    reserved: bool = False


REGISTRY: dict[str, AnomalyDef] = {}


def register(
    code: str, severity: Severity, layer: Layer, summary: str, reference: str, *, reserved: bool = False
) -> str:
    """Declare a code once; returns the code so modules can keep it as a constant."""
    existing = REGISTRY.get(code)
    new = AnomalyDef(code, severity, layer, summary, reference, reserved)
    if existing is not None and existing != new:
        raise ValueError(f"anomaly code {code!r} registered twice with different definitions")
    REGISTRY[code] = new
    return code


def lookup(code: str) -> AnomalyDef:
    _load_all()
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


_loaded = False


def _load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import analyzer.model.codes  # noqa: F401  (registers every layer's codes)
