"""Transport rules of one Engine.IO session: the WebSocket upgrade and the polling requests (G3, G6, G8).

EIO 'Upgrade': the client opens a WebSocket with the session's sid, sends `2probe`, the
server answers `3probe` (and a `6` noop on the pending GET), the client sends `5`; from
then on only the WebSocket carries the session. The upgrade is a state machine written
as a table: a (state, direction, event) missing from it is an anomaly, not a crash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from analyzer.model.codes import engineio as codes
from analyzer.model.common import Anomaly, Direction
from analyzer.model.engineio import EioPacket, EioPacketType
from analyzer.model.registry import make_anomaly
from analyzer.model.session import EioPacketRecord, PollingRequest, UpgradeAttempt, WebSocketLeg
from analyzer.model.text import json_text

__all__ = ["analyze_polling", "analyze_upgrades"]

_C, _S = Direction.C2S, Direction.S2C
# enum members as module constants: a class attribute lookup on an Enum costs more than the test
_PING, _UPGRADE, _NOOP = EioPacketType.PING, EioPacketType.UPGRADE, EioPacketType.NOOP

# (state, direction, event) -> next state (EIO v4 'Upgrade'; the same in v3)
_UPGRADE_TABLE: dict[tuple[str, Direction, str], str] = {
    ("open", _C, "2probe"): "probing",
    ("probing", _S, "3probe"): "probed",
    ("probed", _C, "5"): "upgraded",
    ("upgraded", _C, "packet"): "upgraded",
    ("upgraded", _S, "packet"): "upgraded",
}
_STATE_TEXT = {
    "open": "before 2probe",
    "probing": "after 2probe, before 3probe",
    "probed": "after 3probe, before 5",
    "upgraded": "after the upgrade",
}
_WAITING_FOR = {"open": "no 2probe", "probing": "no 3probe", "probed": "no 5 (upgrade)"}


def _event(packet: EioPacket) -> str:
    if packet.is_probe:
        return "2probe" if packet.type is _PING else "3probe"
    if packet.type is _UPGRADE:
        return "5"
    return "packet"


def _describe(packet: EioPacket) -> str:
    event = _event(packet)
    return f"'{event}'" if event != "packet" else f"{packet.type.wire_name} packet"


def _walk(
    attempt: UpgradeAttempt, recs: Sequence[EioPacketRecord], anomalies: list[Anomaly]
) -> tuple[UpgradeAttempt, str]:
    """One WebSocket's packets through the upgrade table: the attempt's times, its last state."""
    state = "open"
    complained = False
    for rec in recs:
        event = _event(rec.packet)
        if event == "packet" and state == "upgraded":
            continue  # the table's ("upgraded", either direction, "packet") entries, cheaply
        nxt = _UPGRADE_TABLE.get((state, rec.direction, event))
        if nxt is None:
            if not complained:
                complained = True
                who = "client" if rec.direction is _C else "server"
                msg = f"{_describe(rec.packet)} from the {who} {_STATE_TEXT[state]} (G6)"
                anomalies.append(
                    make_anomaly(codes.UPGRADE_OUT_OF_ORDER, msg, rec.connection, rec.direction, (rec.frame,))
                )
            continue
        if event == "2probe":
            attempt = dataclasses.replace(attempt, probe_ts=rec.ts, probe_frame=rec.frame, probe_ns=rec.ts_ns)
        elif event == "3probe":
            attempt = dataclasses.replace(
                attempt, probe_reply_ts=rec.ts, probe_reply_frame=rec.frame, probe_reply_ns=rec.ts_ns
            )
        elif event == "5" and state == "probed":
            attempt = dataclasses.replace(
                attempt, upgrade_ts=rec.ts, upgrade_frame=rec.frame, upgrade_ns=rec.ts_ns
            )
        state = nxt
    return attempt, state


def _with_noop(attempt: UpgradeAttempt, records: Sequence[EioPacketRecord]) -> UpgradeAttempt:
    """The noop the server sent on the pending GET after the probe, if any."""
    if attempt.probe_frame is None:
        return attempt
    after = attempt.probe_reply_frame or attempt.probe_frame
    noop = next(
        (
            r
            for r in records
            if r.packet.type is _NOOP and r.transport == "polling" and r.direction is _S and r.frame >= after
        ),
        None,
    )
    return attempt if noop is None else dataclasses.replace(attempt, noop_frame=noop.frame)


def _unfinished(
    attempt: UpgradeAttempt, leg: WebSocketLeg, state: str, anomalies: list[Anomaly]
) -> UpgradeAttempt:
    """An attempt that stopped short of `5`: failed if its WebSocket ended, else incomplete."""
    ended = leg.close_direction is not None or leg.tcp_end is not None
    reason = _WAITING_FOR[state]
    attempt = dataclasses.replace(attempt, outcome="failed" if ended else "incomplete", reason=reason)
    frame = attempt.probe_reply_frame or attempt.probe_frame or leg.open_frame or leg.request_frame
    how = "WebSocket closed" if ended else "capture ended"
    msg = f"WebSocket upgrade not completed: {how} with {reason}"
    anomalies.append(make_anomaly(codes.UPGRADE_FAILED, msg, leg.connection, None, (frame,)))
    return attempt


def analyze_upgrades(
    records: Sequence[EioPacketRecord],
    legs: Sequence[WebSocketLeg],
    *,
    ws_only_connection: int | None = None,
) -> tuple[list[UpgradeAttempt], UpgradeAttempt | None, list[Anomaly]]:
    """Every upgrade attempt of a session, the one that succeeded, and the rule breaks.

    `records` are the session's packets in capture order; `ws_only_connection` is the
    WebSocket of a session that started on WebSocket (it has no upgrade).
    """
    attempts: list[UpgradeAttempt] = []
    anomalies: list[Anomaly] = []
    done: UpgradeAttempt | None = None
    by_conn: dict[int, list[EioPacketRecord]] = {}
    for rec in records:
        if rec.transport == "websocket":
            by_conn.setdefault(rec.connection, []).append(rec)
    for leg in sorted(legs, key=lambda w: w.request_frame):
        if leg.connection == ws_only_connection:
            continue
        if done is not None and done.upgrade_frame is not None and leg.request_frame > done.upgrade_frame:
            # G6: after the upgrade a second WebSocket with that sid is closed (test suite)
            msg = f"WebSocket opened for a sid already upgraded in frame {done.upgrade_frame}"
            anomalies.append(
                make_anomaly(codes.SECOND_WEBSOCKET, msg, leg.connection, _C, (leg.request_frame,))
            )
        if leg.status != 101:
            reason = (
                f"handshake answered {leg.status}" if leg.status is not None else "handshake not answered"
            )
            attempts.append(UpgradeAttempt(leg.connection, "failed", reason, leg.status))
            frame = leg.open_frame or leg.request_frame
            msg = f"WebSocket upgrade failed: {reason}"
            anomalies.append(make_anomaly(codes.UPGRADE_FAILED, msg, leg.connection, _S, (frame,)))
            continue
        attempt = UpgradeAttempt(leg.connection, "incomplete", None, leg.status, leg.open_ts)
        attempt, state = _walk(attempt, by_conn.get(leg.connection, []), anomalies)
        attempt = _with_noop(attempt, records)
        if state == "upgraded":
            attempt = dataclasses.replace(attempt, outcome="upgraded")
            if done is None:
                done = attempt
        else:
            attempt = _unfinished(attempt, leg, state, anomalies)
        attempts.append(attempt)
    return attempts, done, anomalies


def _error_kind(req: PollingRequest) -> str:
    message = (req.error_message or "").lower()
    if req.error_code == 1 or "invalid session" in message or "session id unknown" in message:
        return "unknown-sid"
    if req.error_code == 5 or "unsupported" in message:
        return "version"
    return "other"


def analyze_polling(
    requests: Sequence[PollingRequest],
    *,
    upgrade_frame: int | None,
    max_payload: int | None,
    session_known: bool,
) -> list[Anomaly]:
    """Polling rules: one GET and one POST at a time (G3), nothing after the upgrade (G6),
    POST bodies within maxPayload (G8), and what the server's error answers mean (G3, G9).

    `session_known`: something of the session succeeded (a 200 answer, an open packet,
    WebSocket traffic); if not, rejected requests are for an unknown sid.
    """
    anomalies: list[Anomaly] = []
    for method in ("GET", "POST"):
        busy_until: PollingRequest | None = None
        for req in sorted((r for r in requests if r.method == method), key=lambda r: r.request_frame):
            if req.handshake:
                continue
            if (
                busy_until is not None
                and busy_until.response_frame is not None
                and req.request_frame < busy_until.response_frame
            ):
                # EIO v4 'Sending and receiving data': a second concurrent GET/POST gets 400, session closed
                msg = f"second {method} while the {method} of frame {busy_until.request_frame} is outstanding"
                anomalies.append(
                    make_anomaly(codes.CONCURRENT_POLL, msg, req.connection, _C, (req.request_frame,))
                )
            if (
                busy_until is None
                or busy_until.response_frame is None
                or (req.response_frame is not None and req.response_frame > busy_until.response_frame)
            ):
                busy_until = req
    for req in requests:
        frames = (req.request_frame,)
        if upgrade_frame is not None and req.request_frame > upgrade_frame:
            msg = f"polling {req.method} after the upgrade to WebSocket in frame {upgrade_frame} (G6)"
            anomalies.append(make_anomaly(codes.POLLING_AFTER_UPGRADE, msg, req.connection, _C, frames))
            continue
        if req.method == "POST" and max_payload is not None and req.body_bytes > max_payload:
            msg = f"POST body of {req.body_bytes} bytes over maxPayload {max_payload} (G8)"
            anomalies.append(make_anomaly(codes.PAYLOAD_TOO_LARGE, msg, req.connection, _C, frames))
        if req.status is None or req.status == 200:
            continue
        resp_frames = (req.response_frame,) if req.response_frame is not None else frames
        detail = f"{req.status}" + (f" code {req.error_code}" if req.error_code is not None else "")
        if req.error_message:
            detail += f" {json_text(req.error_message, 80)}"
        kind = _error_kind(req)
        if kind == "unknown-sid" or not session_known:
            msg = f"polling {req.method} for an unknown sid, answered {detail} (G3)"
            anomalies.append(make_anomaly(codes.UNKNOWN_SID, msg, req.connection, _S, resp_frames))
        elif kind == "version":
            msg = f"server refused the protocol version: {detail} (G9)"
            anomalies.append(make_anomaly(codes.UNSUPPORTED_VERSION, msg, req.connection, _S, resp_frames))
        else:
            msg = f"polling {req.method} answered {detail}"
            anomalies.append(make_anomaly(codes.REQUEST_REJECTED, msg, req.connection, _S, resp_frames))
    return anomalies
