"""TLS, sans-IO: key logs, key schedules, record framing and protection, the handshake in clear.

`TlsConnection` (session.py) is the entry point of the pipeline: ciphertext of both directions
in, plaintext with the offsets of its records out. Secrets live in a `KeyLog` (keylog.py) and in
the protection objects only; nothing in this package prints one.

The decrypting half (session.py, and `cryptography` with it) is imported on first use of one of
its names, not with the package: a key log is read, and `KeyLog` named, by every run, while most
captures have no TLS (a fifth of a short run's start-up went to importing `cryptography`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from analyzer.protocols.tls.keylog import BadLine, KeyLog, parse_keylog

if TYPE_CHECKING:
    from analyzer.protocols.tls.session import TlsConnection, TlsData, TlsEvent, TlsLost, TlsNote

__all__ = [
    "BadLine",
    "KeyLog",
    "TlsConnection",
    "TlsData",
    "TlsEvent",
    "TlsLost",
    "TlsNote",
    "parse_keylog",
]

_LAZY = frozenset({"TlsConnection", "TlsData", "TlsEvent", "TlsLost", "TlsNote"})


def __getattr__(name: str) -> object:
    """The names of session.py, imported when first asked for (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("analyzer.protocols.tls.session"), name)
    globals()[name] = value
    return value
