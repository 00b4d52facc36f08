"""The dataset's tables and their typed columns (docs/dataset.md documents every column).

Every table has `capture_id`, `frame` (the packet number in its capture, 1-based) and `ts` (the
absolute time of that packet, UTC); payloads are binary columns. `SCHEMA_VERSION` is written in
`DATASET/_dataset.json` and in every `captures` row; a dataset of another version is not
written into (batch says so in one sentence).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["SCHEMA_VERSION", "TABLES", "TABLE_NAMES", "empty_table"]

SCHEMA_VERSION = 2  # 2: HTTP/2 (http.stream_id, connections.http2/ws_h2_stream_id, table http2)

_TS = pa.timestamp("us", tz="UTC")
_FRAMES = pa.list_(pa.int64())
_COUNTS = pa.map_(pa.string(), pa.int64())
_GOAWAY = pa.list_(
    pa.struct(
        [
            ("direction", pa.string()),
            ("frame", pa.int64()),
            ("last_stream_id", pa.int64()),
            ("error", pa.string()),
        ]
    )
)
_HEADERS = pa.list_(pa.struct([("name", pa.string()), ("value", pa.string())]))


def _common(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([("capture_id", pa.string()), ("frame", pa.int64()), ("ts", _TS), *fields])


TABLES: dict[str, pa.Schema] = {
    "captures": _common(
        ("source", pa.string()),
        ("size", pa.int64()),
        ("sha256", pa.string()),
        ("format", pa.string()),
        ("link_types", pa.list_(pa.string())),
        ("packets", pa.int64()),
        ("bytes", pa.int64()),
        ("first_ts", _TS),
        ("last_ts", _TS),
        ("complete", pa.bool_()),
        ("damage", pa.string()),
        ("error", pa.string()),
        ("connections", pa.int64()),
        ("sessions", pa.int64()),
        ("anomalies", pa.int64()),
        ("tasks", pa.int32()),
        ("analyzed_at", _TS),
        ("tool_version", pa.string()),
        ("schema_version", pa.int32()),
    ),
    "connections": _common(
        ("connection_id", pa.int64()),
        ("client_ip", pa.string()),
        ("client_port", pa.int32()),
        ("server_ip", pa.string()),
        ("server_port", pa.int32()),
        ("ip_version", pa.int8()),
        ("app_protocol", pa.string()),
        ("last_frame", pa.int64()),
        ("last_ts", _TS),
        ("end", pa.string()),
        ("packets_c2s", pa.int64()),
        ("packets_s2c", pa.int64()),
        ("payload_bytes_c2s", pa.int64()),
        ("payload_bytes_s2c", pa.int64()),
        ("retransmissions", pa.int64()),
        ("gaps", pa.int64()),
        ("gap_bytes", pa.int64()),
        ("handshake_rtt_ms", pa.float64()),
        ("http_exchanges", pa.int64()),
        ("ws_url", pa.string()),
        ("ws_subprotocol", pa.string()),
        ("ws_frames", pa.int64()),
        ("ws_messages", pa.int64()),
        ("tls", pa.bool_()),
        ("http2", pa.bool_()),
        ("ws_h2_stream_id", pa.int64()),
    ),
    "http": _common(
        ("connection_id", pa.int64()),
        ("exchange", pa.int32()),
        ("method", pa.string()),
        ("target", pa.string()),
        ("request_version", pa.string()),
        ("request_headers", _HEADERS),
        ("request_body", pa.binary()),
        ("request_body_length", pa.int64()),
        ("request_body_cut", pa.bool_()),
        ("response_frame", pa.int64()),
        ("response_ts", _TS),
        ("status", pa.int32()),
        ("reason", pa.string()),
        ("response_headers", _HEADERS),
        ("response_body", pa.binary()),
        ("response_body_length", pa.int64()),
        ("response_body_cut", pa.bool_()),
        ("latency_ms", pa.float64()),
        ("stream_id", pa.int64()),
    ),
    "ws_frames": _common(
        ("connection_id", pa.int64()),
        ("direction", pa.string()),
        ("fin", pa.bool_()),
        ("rsv1", pa.bool_()),
        ("rsv2", pa.bool_()),
        ("rsv3", pa.bool_()),
        ("opcode", pa.int8()),
        ("masked", pa.bool_()),
        ("mask_key", pa.string()),
        ("payload_length", pa.int64()),
        ("length_form", pa.string()),
        ("payload", pa.binary()),
        ("payload_in_message", pa.bool_()),
        ("payload_truncated", pa.bool_()),
        ("close_code", pa.int32()),
        ("close_reason", pa.string()),
        ("stream_offset", pa.int64()),
        ("packets", _FRAMES),
    ),
    "ws_messages": _common(
        ("connection_id", pa.int64()),
        ("direction", pa.string()),
        ("opcode", pa.string()),
        ("compressed", pa.bool_()),
        ("frames", pa.int32()),
        ("length", pa.int64()),
        ("payload", pa.binary()),
        ("truncated", pa.bool_()),
        ("packets", _FRAMES),
    ),
    "sessions": _common(
        ("sid", pa.string()),
        ("protocol", pa.int8()),
        ("path", pa.string()),
        ("last_ts", _TS),
        ("transport_path", pa.list_(pa.string())),
        ("upgraded", pa.bool_()),
        ("handshake_captured", pa.bool_()),
        ("ping_interval_ms", pa.int64()),
        ("ping_timeout_ms", pa.int64()),
        ("connections", _FRAMES),
        ("end_reason", pa.string()),
        ("anomaly_count", pa.int64()),
        ("sio_protocol", pa.int8()),
        ("sio_parser", pa.string()),
        ("namespaces", pa.list_(pa.string())),
        ("heartbeat_rtt_mean_ms", pa.float64()),
        ("heartbeat_rtt_max_ms", pa.float64()),
    ),
    "eio_packets": _common(
        ("sid", pa.string()),
        ("connection_id", pa.int64()),
        ("direction", pa.string()),
        ("transport", pa.string()),
        ("type", pa.string()),
        ("binary", pa.bool_()),
        ("payload", pa.binary()),
        ("size", pa.int64()),
    ),
    "sio_packets": _common(
        ("sid", pa.string()),
        ("connection_id", pa.int64()),
        ("direction", pa.string()),
        ("transport", pa.string()),
        ("type", pa.string()),
        ("nsp", pa.string()),
        ("ack_id", pa.int64()),
        ("event", pa.string()),
        ("args", pa.string()),
        ("data", pa.string()),
        ("attachments", pa.int32()),
        ("packets", _FRAMES),
    ),
    "acks": _common(
        ("sid", pa.string()),
        ("nsp", pa.string()),
        ("ack_id", pa.int64()),
        ("event", pa.string()),
        ("request_direction", pa.string()),
        ("response_frame", pa.int64()),
        ("response_ts", _TS),
        ("latency_ms", pa.float64()),
    ),
    "anomalies": _common(
        ("code", pa.string()),
        ("severity", pa.string()),
        ("layer", pa.string()),
        ("message", pa.string()),
        ("connection_id", pa.int64()),
        ("direction", pa.string()),
        ("frames", _FRAMES),
    ),
    "tls": _common(
        ("connection_id", pa.int64()),
        ("version", pa.string()),
        ("cipher_suite", pa.string()),
        ("cipher_suite_code", pa.int32()),
        ("sni", pa.string()),
        ("alpn", pa.string()),
        ("alpn_offered", pa.list_(pa.string())),
        ("resumed", pa.bool_()),
        ("decrypted", pa.bool_()),
        ("records_c2s", pa.int64()),
        ("records_s2c", pa.int64()),
        ("certificate_count", pa.int32()),
        ("certificate_subjects", pa.list_(pa.string())),
        ("alerts", pa.list_(pa.string())),
        ("not_decrypted", pa.string()),
    ),
    "http2": _common(
        ("connection_id", pa.int64()),
        ("streams", pa.int64()),
        ("frames_c2s", _COUNTS),
        ("frames_s2c", _COUNTS),
        ("settings_c2s", _COUNTS),
        ("settings_s2c", _COUNTS),
        ("enable_connect_protocol", pa.bool_()),
        ("resets", _COUNTS),
        ("goaway", _GOAWAY),
        ("pushes", pa.int64()),
    ),
}

TABLE_NAMES = tuple(TABLES)


def empty_table(name: str) -> pa.Table:
    return TABLES[name].empty_table()
