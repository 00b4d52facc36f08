"""The TLS captures of captures/tls/ (made by captures/tls/make_tls_captures.py), their key logs
and the applications' own records."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from analyzer import analyze_file
from analyzer.model.analysis import Analysis
from analyzer.pipeline import Options
from analyzer.protocols.tls import KeyLog, parse_keylog

ROOT = Path(__file__).resolve().parents[2]
TLS_DIR = ROOT / "captures" / "tls"


def expected_files() -> list[Path]:
    return sorted(TLS_DIR.glob("*.expected.json"))


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TLS_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


def names(proxied: bool = False) -> list[str]:
    """The captures of one TLS connection between python libraries; with `proxied`, every one:
    also those behind a proxy (two legs, tests/tls/test_proxy_tls.py) and the node application's
    (a connection per long-poll, tests/tls/test_node_https.py)."""
    found = [p.name.removesuffix(".expected.json") for p in expected_files()]
    return [
        n for n in found if proxied or ("proxy" not in expected(n) and "node" not in expected(n)["libraries"])
    ]


def capture(name: str) -> Path:
    return TLS_DIR / expected(name)["captures"][0]


def keylog_path(name: str) -> Path:
    return TLS_DIR / expected(name)["keylog"]


def keys(name: str) -> KeyLog:
    return parse_keylog(keylog_path(name).read_bytes(), keylog_path(name).name)


@cache
def analysis(name: str, with_keys: bool = True) -> Analysis:
    return analyze_file(str(capture(name)), Options(keylog=keys(name) if with_keys else None))


def secrets(name: str) -> list[bytes]:
    """Every secret of the capture's key log (the third field of each line)."""
    text = keylog_path(name).read_text(encoding="utf-8")
    return [bytes.fromhex(m) for m in re.findall(r"^\S+ [0-9a-fA-F]{64} ([0-9a-fA-F]+)$", text, re.M)]
