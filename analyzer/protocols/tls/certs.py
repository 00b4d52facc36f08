"""A certificate's subject, issuer, SAN and validity, read with `cryptography.x509`
(RFC 5280 §4.1, §4.2.1.6). Certificates are public: nothing here is secret."""

from __future__ import annotations

from cryptography import x509

from analyzer.model.facts import CertificateFacts

__all__ = ["MAX_CERTIFICATE", "certificate_summary"]

MAX_CERTIFICATE = 64 << 10  # bytes of DER read; a longer one is listed by its size only
MAX_NAMES = 32  # SAN entries listed


def _san(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
    names += [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
    return names[:MAX_NAMES]


def certificate_summary(der: bytes) -> CertificateFacts:
    """{"subject", "issuer", "san", "not_before", "not_after", "serial", "der_length"}; a
    certificate that does not parse gives {"der_length", "error"}."""
    out: CertificateFacts = {"der_length": len(der)}
    if len(der) > MAX_CERTIFICATE:
        out["error"] = f"not read: over {MAX_CERTIFICATE} bytes"
        return out
    try:
        cert = x509.load_der_x509_certificate(der)
        out["subject"] = cert.subject.rfc4514_string()
        out["issuer"] = cert.issuer.rfc4514_string()
        out["not_before"] = cert.not_valid_before_utc.isoformat()
        out["not_after"] = cert.not_valid_after_utc.isoformat()
        out["serial"] = format(cert.serial_number, "x")
        out["san"] = _san(cert)
    except Exception as exc:  # captured DER: any parse failure is a verdict, not a crash
        out["error"] = f"not a readable X.509 certificate ({type(exc).__name__})"
    return out
