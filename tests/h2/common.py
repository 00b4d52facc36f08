"""The HTTP/2 captures of captures/h2/ (made by captures/h2/make_h2_captures.py), their key logs
and the applications' own records."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from analyzer import analyze_file
from analyzer.model.analysis import Analysis
from analyzer.pipeline import Options
from analyzer.protocols.tls import parse_keylog

ROOT = Path(__file__).resolve().parents[2]
H2_DIR = ROOT / "captures" / "h2"


def names() -> list[str]:
    return sorted(p.name.removesuffix(".expected.json") for p in H2_DIR.glob("*.expected.json"))


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((H2_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


def capture(name: str) -> Path:
    return H2_DIR / expected(name)["captures"][0]


def keylog_path(name: str) -> Path | None:
    keys = expected(name)["keylog"]
    return H2_DIR / keys if keys else None


@cache
def analysis(name: str) -> Analysis:
    path = keylog_path(name)
    keys = parse_keylog(path.read_bytes(), path.name) if path is not None else None
    return analyze_file(str(capture(name)), Options(keylog=keys))
