"""TLS in the web UI: the presentation layer of the OSI stack, the TLS card of the overview and
the TLS records of the detail drill-down (Socket.IO event -> WebSocket frame -> TLS record ->
TCP segments -> packet).

Everything shown comes from the connections' `tls` objects (analyzer/model/tls.py: what is on
the wire or derived from it, never a secret) and from the record headers in the packets' bytes
(RFC 8446 §5.1, RFC 5246 §6.2.1: type, version, length; those are sent in clear).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from analyzer.model.tls import KEYLOG_HINT
from webui.index import Index, as_dict, as_int, as_list, as_str
from webui.packets import show_value

__all__ = [
    "MAX_SCANNED",
    "MAX_SHOWN",
    "TLS_LAYER",
    "keys_added",
    "osi_row",
    "record_headers",
    "tls_sections",
    "tls_summary",
]

TLS_LAYER = "TLS (presentation)"
MAX_SCANNED = 20_000  # connections read from disk for the TLS card (a capture of more says so)
MAX_SHOWN = 200  # TLS connections listed on the card (the JSON API has them all up to MAX_SCANNED)
MAX_CERTS = 8  # certificates shown per connection
CONTENT_TYPES = {
    20: "change_cipher_spec",
    21: "alert",
    22: "handshake",
    23: "application_data",
    24: "heartbeat",
}
MAX_RECORD = (1 << 14) + 256  # RFC 8446 §5.2 (TLSCiphertext), RFC 5246 §6.2.3
HOW_TO_GET_KEYS = (
    "Keys come from a key log: start Chrome or Firefox with SSLKEYLOGFILE=/tmp/keys.log, node with "
    "--tls-keylog=/tmp/keys.log, or set SSLContext.keylog_filename in Python; then upload the file "
    "here or give serve --keylog FILE."
)

_cache: weakref.WeakKeyDictionary[Index, dict[str, Any]] = weakref.WeakKeyDictionary()


def _cert(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject": as_str(c.get("subject")),
        "san": [str(x) for x in as_list(c, "san")][:32],
        "issuer": as_str(c.get("issuer")),
        "not_before": as_str(c.get("not_before")),
        "not_after": as_str(c.get("not_after")),
    }


def _alert(a: dict[str, Any]) -> str:
    level = {1: "warning", 2: "fatal"}.get(as_int(a.get("level")) or 0, "?")
    where = " (encrypted)" if a.get("encrypted") else ""
    return f"{a.get('direction')} {a.get('name')} ({level}) in packet {a.get('frame')}{where}"


def _connection(cid: Any, label: str, tls: dict[str, Any]) -> dict[str, Any]:
    records = as_dict(tls, "records")
    failed = as_dict(tls, "decrypt_failed")
    return {
        "connection": as_int(cid),
        "label": label,
        "version": as_str(tls.get("version")),
        "cipher_suite": as_str(tls.get("cipher_suite")),
        "sni": as_str(tls.get("sni")),
        "alpn": as_str(tls.get("alpn")),
        "alpn_offered": [str(x) for x in as_list(tls, "alpn_offered")],
        "resumed": bool(tls.get("resumed")),
        "decrypted": bool(tls.get("decrypted")),
        "not_decrypted": as_str(tls.get("not_decrypted")),
        "records": {"c2s": as_int(records.get("c2s")) or 0, "s2c": as_int(records.get("s2c")) or 0},
        "decrypt_failed": {"c2s": as_int(failed.get("c2s")) or 0, "s2c": as_int(failed.get("s2c")) or 0},
        "certificates": [_cert(c) for c in as_list(tls, "certificates")[:MAX_CERTS] if isinstance(c, dict)],
        "certificate_count": as_int(tls.get("certificate_count")) or 0,
        "alerts": [_alert(a) for a in as_list(tls, "alerts") if isinstance(a, dict)],
    }


def tls_summary(ix: Index) -> dict[str, Any]:
    """The TLS connections of a capture (computed once per analysis): counts, and each
    connection's handshake facts, decrypted or why not."""
    done = _cache.get(ix)
    if done is not None:
        return done
    conns: list[dict[str, Any]] = []
    records = 0
    scanned = 0
    for summary in ix.conn_summaries[:MAX_SCANNED]:
        scanned += 1
        doc = ix.connection(summary.id) if summary.id is not None else None
        tls = (doc or {}).get("tls")
        if isinstance(tls, dict):
            c = _connection(summary.id, summary.label, tls)
            records += c["records"]["c2s"] + c["records"]["s2c"]
            conns.append(c)
    decrypted = sum(1 for c in conns if c["decrypted"])
    out = {
        "connections": conns,
        "count": len(conns),
        "decrypted": decrypted,
        "not_decrypted": len(conns) - decrypted,
        "records": records,
        "scanned": scanned,
        "all_scanned": scanned == len(ix.conn_summaries),
        "hint": KEYLOG_HINT,
        "how_to_get_keys": HOW_TO_GET_KEYS,
    }
    _cache[ix] = out
    return out


def keys_added(args: Mapping[str, str]) -> int:
    """`?keys=N` of the page a key log upload goes back to: the capture's count of secrets."""
    v = args.get("keys", "")
    return int(v) if v.isascii() and v.isdigit() and len(v) < 10 else 0


def osi_row(ix: Index) -> dict[str, Any] | None:
    """The presentation layer of the OSI stack when the capture has TLS: its record headers
    (5 bytes each, RFC 8446 §5.1); packets are not counted per record (n/a)."""
    s = tls_summary(ix)
    if not s["count"]:
        return None
    return {"layer": TLS_LAYER, "packets": None, "bytes": 5 * s["records"], "records": s["records"]}


# -- the detail drill-down ---------------------------------------------------------------------------


def _payload(pkt: dict[str, Any]) -> tuple[int, int, int, bytes] | None:
    """(source port, destination port, seq, TCP payload) of a described packet."""
    tcp = next((x for x in as_list(pkt, "layers") if isinstance(x, dict) and x.get("name") == "TCP"), None)
    if tcp is None:
        return None
    f = as_dict(tcp, "fields")
    length = as_int(f.get("payload_length")) or 0
    start = as_int(pkt.get("payload_offset")) or 0
    try:
        raw = bytes.fromhex(str(pkt.get("hex") or ""))
    except ValueError:
        return None
    src, dst, seq = as_int(f.get("src_port")), as_int(f.get("dst_port")), as_int(f.get("seq"))
    if src is None or dst is None or seq is None:
        return None
    return src, dst, seq, raw[start : start + length]


def _looks_like_header(b: bytes) -> bool:
    """RFC 8446 §5.1: a known content type, legacy version 3.x, a length within the limit."""
    return (
        len(b) >= 5
        and b[0] in CONTENT_TYPES
        and b[1] == 3
        and b[2] <= 4
        and int.from_bytes(b[3:5]) <= MAX_RECORD
    )


def record_headers(packets: Iterable[dict[str, Any]], server_port: int) -> list[dict[str, Any]]:
    """The TLS records whose header is in these packets, per direction in sequence order: a
    direction is read from the first of its packets whose payload starts with a record header,
    through the packets that follow it in the stream without a hole."""
    by_dir: dict[str, list[tuple[int, int, bytes]]] = {}
    for pkt in packets:
        p = _payload(pkt)
        if p is None or not p[3]:
            continue
        d = "s2c" if p[0] == server_port else "c2s"
        by_dir.setdefault(d, []).append((p[2], as_int(pkt.get("frame")) or 0, p[3]))
    out: list[dict[str, Any]] = []
    for d, segs in by_dir.items():
        segs.sort()
        started = False
        buf, need_seq = b"", 0  # bytes of the record being read
        frames: list[int] = []  # and their packets
        for seq, frame, data in segs:
            if started and seq != need_seq:  # a hole: start again at a header
                started, buf, frames = False, b"", []
            if not started:
                if not _looks_like_header(data):
                    continue
                started = True
            need_seq = (seq + len(data)) & 0xFFFFFFFF
            buf += data
            frames.append(frame)
            while len(buf) >= 5 and _looks_like_header(buf):
                length = int.from_bytes(buf[3:5])
                if len(buf) < 5 + length:
                    break
                out.append(
                    {
                        "direction": d,
                        "type": CONTENT_TYPES.get(buf[0], str(buf[0])),
                        "version": f"0x{buf[1]:02x}{buf[2]:02x}",
                        "length": length,
                        "packets": sorted(set(frames)),
                    }
                )
                buf = buf[5 + length :]
                frames = [frame] if buf else []
            if buf and not _looks_like_header(buf[:5]) and len(buf) >= 5:
                started, buf, frames = False, b"", []
    out.sort(key=lambda r: (r["packets"][-1], r["direction"]))
    return out


def tls_sections(
    ix: Index, connections: Iterable[int | None], packets: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One section per TLS connection of the row: its handshake facts and the TLS records in the
    packets shown below (what was decrypted into the layers above)."""
    out = []
    for cid in dict.fromkeys(c for c in connections if c is not None):
        conn = ix.connection(cid)
        tls = (conn or {}).get("tls")
        if not isinstance(tls, dict):
            continue
        c = _connection(cid, "", tls)
        port = as_int(as_dict(conn, "server").get("port")) or 0
        frames = {as_int(p.get("frame")) for p in packets}
        recs = [r for r in record_headers(packets, port) if r["packets"][-1] in frames]
        decrypted = "yes" if c["decrypted"] else f"no: {c['not_decrypted'] or 'no key'}"
        rows = [
            [
                r["packets"][-1],
                r["direction"],
                r["type"],
                r["version"],
                r["length"],
                ", ".join(map(str, r["packets"])),
            ]
            for r in recs
        ]
        out.append(
            {
                "title": f"TLS records of TCP connection #{cid}",
                "layer": "tls",
                "fields": [
                    (k, show_value(v))
                    for k, v in (
                        ("version", c["version"]),
                        ("cipher suite", c["cipher_suite"]),
                        ("SNI", c["sni"]),
                        ("ALPN", c["alpn"]),
                        ("decrypted", decrypted),
                        ("keys", None if c["decrypted"] else HOW_TO_GET_KEYS),
                    )
                    if v is not None or k != "keys"
                ],
                "table": {
                    "columns": ["packet", "dir", "content type", "version", "length", "TCP segments"],
                    "rows": rows,
                    "class": "tls-records",
                    "packet_column": 0,
                },
                "table_title": "records (RFC 8446 \u00a75.1); the layers above: their application_data",
            }
        )
    return out
