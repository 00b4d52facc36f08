"""TLS, sans-IO: key logs, key schedules, record framing and protection, the handshake in clear.

`TlsConnection` (session.py) is the entry point of the pipeline: ciphertext of both directions
in, plaintext with the offsets of its records out. Secrets live in a `KeyLog` (keylog.py) and in
the protection objects only; nothing in this package prints one.
"""

from analyzer.protocols.tls.keylog import BadLine, KeyLog, parse_keylog
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
