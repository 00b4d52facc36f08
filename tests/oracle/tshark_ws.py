"""Read the tshark 4.0 WebSocket oracles that sit beside each shared capture."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


def _unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(n, "\\" + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


@dataclass
class OracleFrame:
    frame: int
    index: int
    stream: int
    src: tuple[str, int]
    dst: tuple[str, int]
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    mask_key: str | None
    payload_length: int
    length_form: str
    close_code: int | None
    close_reason: str | None
    payload_hex_prefix: str
    reassembled_hex_prefix: str
    decompression_failed: bool


FORMS = {"7bit": "7-bit", "ext16": "16-bit", "ext64": "64-bit"}


def read_oracle(capture: Path) -> list[OracleFrame]:
    tsv = capture.with_name(capture.name + ".tshark.tsv")
    rows = []
    with tsv.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            rows.append(
                OracleFrame(
                    frame=int(r["frame.number"]),
                    index=int(r["ws_index_in_frame"]),
                    stream=int(r["tcp.stream"]),
                    src=(r["ip.src"] or r["ipv6.src"], int(r["tcp.srcport"])),
                    dst=(r["ip.dst"] or r["ipv6.dst"], int(r["tcp.dstport"])),
                    fin=r["websocket.fin"] == "1",
                    rsv=int(r["websocket.rsv"], 16),
                    opcode=int(r["websocket.opcode"]),
                    masked=r["websocket.mask"] == "1",
                    mask_key=r["websocket.masking_key"] or None,
                    payload_length=int(r["payload_length"]),
                    length_form=FORMS[r["length_encoding"]],
                    close_code=int(r["websocket.payload.close.status_code"])
                    if r["websocket.payload.close.status_code"]
                    else None,
                    close_reason=_unescape(r["websocket.payload.close.reason"])
                    if r["websocket.payload.close.reason"]
                    else None,
                    payload_hex_prefix=r["payload_hex_prefix"],
                    reassembled_hex_prefix=r["reassembled_message_hex_prefix"],
                    decompression_failed=bool(r["decompression_failed"]),
                )
            )
    return rows


@dataclass
class MidstreamFrame:
    frame: int
    src: tuple[str, int]
    fin: bool
    opcode: int
    masked: bool
    mask_key: str | None
    payload_length: int
    close_code: int | None


def read_midstream(tsv: Path) -> tuple[int, list[MidstreamFrame]]:
    """(server port given to tshark -d, frames) of a *.midstream-streamN.tsv oracle."""
    port = None
    out = []
    with tsv.open(newline="", encoding="utf-8") as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    for r in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
        out.append(
            MidstreamFrame(
                frame=int(r["frame.number"]),
                src=(r["ip.src"] or r["ipv6.src"], int(r["tcp.srcport"])),
                fin=r["websocket.fin"] == "1",
                opcode=int(r["websocket.opcode"]),
                masked=r["websocket.mask"] == "1",
                mask_key=r["websocket.masking_key"] or None,
                payload_length=int(r["websocket.payload_length"]),
                close_code=int(r["websocket.payload.close.status_code"])
                if r["websocket.payload.close.status_code"]
                else None,
            )
        )
    head = tsv.read_text().splitlines()[0]
    port = int(head.split("tcp.port==")[1].split(",")[0])
    return port, out
