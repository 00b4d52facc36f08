"""The summary's TLS section: one line per TLS connection (version, suite, SNI, ALPN, whether it
was decrypted, and how to get keys when it was not). Never a secret: the `tls` object has none."""

from __future__ import annotations

from analyzer.model.analysis import ConnectionRecord
from analyzer.model.text import terminal_text
from analyzer.model.tls import KEYLOG_HINT

__all__ = ["TLS_HEAD", "tls_line"]

TLS_HEAD = "\nTLS connections\n"


def tls_line(rec: ConnectionRecord) -> str | None:
    t = rec.tls
    if t is None:
        return None
    parts = [f"  #{rec.id} {t.version or 'TLS (no ServerHello)'}"]
    if t.cipher_suite:
        parts.append(f" {t.cipher_suite}")
    parts.append(f", SNI {terminal_text(t.sni, 80) if t.sni else '-'}")
    if t.alpn:
        parts.append(f", ALPN {terminal_text(t.alpn, 40)}")
    elif t.alpn_offered:
        parts.append(f", ALPN offered {terminal_text(','.join(t.alpn_offered), 60)}")
    if t.resumed:
        parts.append(", resumed")
    parts.append(f", records {t.records['c2s']}/{t.records['s2c']}")
    if t.decrypted:
        failed = t.decrypt_failed["c2s"] + t.decrypt_failed["s2c"]
        parts.append(f": decrypted ({rec.app_protocol})" + (f", {failed} records failed" if failed else ""))
    else:
        why = terminal_text(t.not_decrypted or "no key", 120)
        hint = "" if t.not_decrypted and "cipher suite" in t.not_decrypted else f"; {KEYLOG_HINT}"
        parts.append(f": not decrypted ({why}){hint}")
    return "".join(parts) + "\n"
