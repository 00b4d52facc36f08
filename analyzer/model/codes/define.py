"""How a layer declares its anomaly codes: `register(code, severity, layer, summary, reference)`.

Each module of this package registers its layer's codes when it is imported; the package
imports them all, and `analyzer.model.registry` answers look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.model.common import Layer, Severity

__all__ = ["REGISTRY", "AnomalyDef", "register"]


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
