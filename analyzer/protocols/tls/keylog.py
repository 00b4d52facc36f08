"""The NSS key log format (draft-ietf-tls-keylogfile §2; PROTOCOLS-TLS-H2.md §1, KL1-KL9).

`KeyLog` holds the secrets of any number of sources (`--keylog` files, pcapng Decryption
Secrets Blocks) in memory only. Nothing here ever prints a secret: a bad line is named by its
source and number with the reason, never quoted, and `repr(KeyLog)` gives counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "LABELS_13",
    "MAX_BAD_LINES",
    "MAX_ENTRIES",
    "MAX_LINE",
    "BadLine",
    "KeyLog",
    "parse_keylog",
]

MAX_LINE = 1024  # characters; the longest valid line (SHA-512 secret) is under 200
MAX_ENTRIES = 1_000_000  # secrets kept over all sources
MAX_BAD_LINES = 100  # bad lines listed (every one is counted)
MAX_SESSIONS = 10_000  # TLS 1.2 sessions remembered for resumption (KL9)

MASTER = "CLIENT_RANDOM"  # TLS <= 1.2 master_secret, 48 bytes
LABELS_13 = frozenset(
    {
        "CLIENT_EARLY_TRAFFIC_SECRET",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    }
)
# checked like the others, then not kept: decryption does not need them
_CHECKED_ONLY = frozenset({"EXPORTER_SECRET", "EARLY_EXPORTER_SECRET", "RSA"})
_SIZES_13 = (32, 48, 64)  # Hash.length of SHA-256, SHA-384, SHA-512 (KL3)
_LINES = re.compile(r"\r\n|\r|\n")  # KL1: CRLF, CR or LF
_HEX = re.compile(r"[0-9A-Fa-f]*")


@dataclass(frozen=True, slots=True)
class BadLine:
    """A rejected line: where it is and why (never its content)."""

    source: str
    line: int
    reason: str


def _check(fields: list[str]) -> str | None:
    """KL2-KL3: why the fields of a line with a known label are not valid, or None."""
    label, random_hex, secret_hex = fields
    want_random = 16 if label == "RSA" else 64
    if len(random_hex) != want_random or not _HEX.fullmatch(random_hex):
        what = "encrypted pre-master prefix" if label == "RSA" else "client random"
        return f"the {what} is not {want_random} hex digits"
    if len(secret_hex) % 2 or not _HEX.fullmatch(secret_hex):
        return "the secret is not an even number of hex digits"
    size = len(secret_hex) // 2
    if label in (MASTER, "RSA"):
        if size != 48:
            return f"a {label} secret of {size} bytes (48 expected)"
    elif size not in _SIZES_13:
        return f"a {label} secret of {size} bytes (32, 48 or 64 expected)"
    return None


class KeyLog:
    """Secrets by (label, client_random), from every source added; bad lines counted."""

    __slots__ = ("_secrets", "_sessions", "bad_count", "bad_lines", "sources", "unknown_labels")

    def __init__(self) -> None:
        self._secrets: dict[tuple[str, bytes], bytes] = {}
        self._sessions: dict[bytes, bytes] = {}
        self.bad_lines: list[BadLine] = []  # the first MAX_BAD_LINES
        self.bad_count = 0
        self.unknown_labels = 0  # KL4: skipped and counted, not reported
        self.sources: list[str] = []

    def __repr__(self) -> str:
        return (
            f"KeyLog(sources={len(self.sources)}, secrets={len(self._secrets)}, bad_lines={self.bad_count})"
        )

    def __len__(self) -> int:
        return len(self._secrets)

    def _bad(self, source: str, number: int, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad_lines) < MAX_BAD_LINES:
            self.bad_lines.append(BadLine(source, number, reason))

    def add_text(self, text: str | bytes, source: str, first_line: int = 1) -> None:
        """Every line of a key log (KL1-KL5); bad lines are recorded and skipped (KL4).
        `first_line`: the number of the text's first line (a log read in pieces as it grows)."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if source not in self.sources:
            self.sources.append(source)
        if text.startswith("\ufeff"):
            text = text[1:]  # KL1: one BOM is tolerated
        for number, line in enumerate(_LINES.split(text), first_line):
            if not line or line.startswith("#"):
                continue
            if len(line) > MAX_LINE:
                self._bad(source, number, f"a line of {len(line)} characters (at most {MAX_LINE})")
                continue
            fields = line.split(" ")
            if len(fields) != 3:
                self._bad(source, number, f"{len(fields)} space-separated fields (3 expected)")
                continue
            label = fields[0]
            if label != MASTER and label not in LABELS_13 and label not in _CHECKED_ONLY:
                self.unknown_labels += 1
                continue
            reason = _check(fields)
            if reason is not None:
                self._bad(source, number, reason)
                continue
            if label in _CHECKED_ONLY:
                continue
            self._store(label, bytes.fromhex(fields[1]), bytes.fromhex(fields[2]), source, number)

    def _store(self, label: str, client_random: bytes, secret: bytes, source: str, number: int) -> None:
        key = (label, client_random)
        old = self._secrets.get(key)
        if old is not None:
            if old != secret:  # KL5: a conflicting duplicate; the first one is used
                self._bad(source, number, f"a second, different {label} for the same client random")
            return
        if len(self._secrets) >= MAX_ENTRIES:
            self._bad(source, number, f"over {MAX_ENTRIES} secrets: the rest is not kept")
            return
        self._secrets[key] = secret

    def secret(self, label: str, client_random: bytes) -> bytes | None:
        return self._secrets.get((label, client_random))

    def has_random(self, client_random: bytes) -> bool:
        return any((label, client_random) in self._secrets for label in (MASTER, *LABELS_13))

    # KL9: TLS 1.2 resumption without a line for the new random (Wireshark's practice, not RFC)
    def remember_session(self, session_key: bytes, master: bytes) -> None:
        if session_key and len(self._sessions) < MAX_SESSIONS:
            self._sessions[session_key] = master

    def recall_session(self, session_key: bytes) -> bytes | None:
        return self._sessions.get(session_key) if session_key else None

    def merge(self, other: KeyLog) -> None:
        """Add another log's secrets, sources and bad lines (KL5: the first secret wins)."""
        for key, secret in other._secrets.items():
            if key not in self._secrets and len(self._secrets) < MAX_ENTRIES:
                self._secrets[key] = secret
        self.sources.extend(other.sources)
        self.bad_count += other.bad_count
        self.unknown_labels += other.unknown_labels
        room = MAX_BAD_LINES - len(self.bad_lines)
        self.bad_lines.extend(other.bad_lines[: max(room, 0)])


def parse_keylog(text: str | bytes, source: str = "key log") -> KeyLog:
    log = KeyLog()
    log.add_text(text, source)
    return log
