"""Golden outputs: every output socketscope makes, for every bundled and corpus capture.

    python -m tests.golden.outputs record DIR      # write them all under DIR (one folder per capture)
    python -m tests.golden.outputs check ARCHIVE   # compare with a recorded archive; print what differs
    python -m tests.golden.outputs pack DIR ARCHIVE  # DIR -> ARCHIVE (.tar.xz, byte-stable)

The outputs: `analyze` as text, `--messages`, `--events` and `--format json` (and with
`--decode-as` where the corpus has a handshake-less stream); `export` as HAR, JSON Lines at
each layer, CSV tables and a pcapng slice; and the web UI's JSON API (overview, the document,
connections, sessions, anomalies, messages, latency, figures, sequences, message details).
tests/golden/test_outputs_unchanged.py compares them with tests/golden/outputs.tar.xz, recorded
before a refactor, so that "byte-identical" is checked rather than hoped. A change that alters
an output on purpose records the archive again in the same commit and names the change.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import lzma
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

LAYERS = ("websocket", "engineio", "socketio")
DETAILS = 25  # message details recorded per capture (the first rows)


def captures() -> list[Path]:
    """Bundled captures and tests/corpus, as paths relative to the project root."""
    found = sorted((ROOT / "captures").glob("*.pcap*"))
    found += sorted(p for p in (ROOT / "tests" / "corpus").rglob("*") if p.suffix in (".pcap", ".pcapng"))
    return [p.relative_to(ROOT) for p in found if p.is_file() and p.suffix in (".pcap", ".pcapng")]


def midstream_ports(capture: Path) -> list[int]:
    """Ports of the handshake-less streams the corpus has supplementary oracles for."""
    ports = []
    from tests.oracle.tshark_ws import read_midstream

    for tsv in sorted((ROOT / capture).parent.glob(capture.name + ".tshark.midstream-stream*.tsv")):
        ports.append(read_midstream(tsv)[0])
    return sorted(set(ports))


def key(capture: Path) -> str:
    return str(capture).replace("/", "__")


def _cli(argv: list[str]) -> int:
    from analyzer.cli import main

    with contextlib.redirect_stderr(io.StringIO()):
        try:
            return main(argv)
        except SystemExit as exc:  # argparse
            return int(exc.code or 0)


def record_cli(capture: Path, out: Path) -> None:
    cap = str(capture)
    runs: list[tuple[str, list[str]]] = [
        ("analyze.txt", []),
        ("analyze-messages.txt", ["--messages"]),
        ("analyze-events.txt", ["--events"]),
        ("analyze-anomalies.txt", ["--anomalies"]),
        ("analyze.json", ["--format", "json"]),
    ]
    for port in midstream_ports(capture):
        decode_as = ["--decode-as", f"{port}=websocket"]
        runs.append((f"analyze-decode-as-{port}.json", ["--format", "json", *decode_as]))
        runs.append((f"analyze-decode-as-{port}-messages.txt", ["--messages", *decode_as]))
    codes: dict[str, int] = {}
    for name, extra in runs:
        codes[name] = _cli(["analyze", cap, "--no-progress", "-o", str(out / name), *extra])
    exports: list[tuple[str, list[str]]] = [
        ("export.har", ["--format", "har"]),
        ("export.jsonl", ["--format", "jsonl"]),
        *((f"export-{layer}.jsonl", ["--format", "jsonl", "--layer", layer]) for layer in LAYERS),
        ("export.pcapng", ["--format", "pcap"]),
        ("csv", ["--format", "csv"]),
    ]
    for name, extra in exports:
        codes[name] = _cli(["export", cap, "-o", str(out / name), *extra])
    (out / "exit-codes.json").write_text(json.dumps(codes, indent=1, sort_keys=True) + "\n")


def _get(client: Any, url: str) -> Any:
    r = client.get(url)
    return {"status": r.status_code, "body": r.get_json(silent=True)}


def record_ui(capture: Path, out: Path) -> None:
    from webui import create_app

    with tempfile.TemporaryDirectory() as up:
        app = create_app(
            captures=[str(capture)],
            folders=[],
            upload_dir=up,
            config={"TESTING": True, "ANALYSIS_WAIT": 300, "CSRF_TOKEN": "golden"},
        )
        with app.test_client() as c:
            cid = c.get("/api/captures").get_json()["items"][0]["id"]
            base = f"/api/captures/{cid}"
            doc: dict[str, Any] = {}
            for name in (
                "overview",
                "analysis",
                "connections?limit=1000",
                "sessions?limit=1000",
                "anomalies?limit=1000",
                "latency",
                "figures/osi",
                "figures/timeline",
            ):
                doc[name] = _get(c, f"{base}/{name}")
            for fig in ("tcp_handshake", "upgrades", "ws_ping", "heartbeat", "acks"):
                doc[f"figures/latency-{fig}"] = _get(c, f"{base}/figures/latency-{fig}")
            msgs = []
            offset = 0
            while True:
                page = c.get(f"{base}/messages?limit=1000&offset={offset}").get_json()
                msgs += page["items"]
                offset += 1000
                if offset >= page["total"]:
                    break
            doc["messages"] = msgs
            for conn in (doc["connections?limit=1000"]["body"] or {}).get("items", []):
                doc[f"sequence?connection={conn['id']}"] = _get(c, f"{base}/sequence?connection={conn['id']}")
            sessions = (doc["sessions?limit=1000"]["body"] or {}).get("items", [])
            for i in range(len(sessions)):
                doc[f"sequence?session={i}"] = _get(c, f"{base}/sequence?session={i}")
            for row in msgs[:DETAILS]:
                doc[f"messages/{row['id']}"] = _get(c, f"{base}/messages/{row['id']}")
    # the capture id is derived from the file and the upload folder, and the UI names a capture by
    # its absolute path: neither is the same in another checkout, so both are named, not recorded
    text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False).replace(cid, "CID")
    text = text.replace(json.dumps(str(ROOT))[1:-1], "ROOT")
    (out / "ui.json").write_text(text + "\n", encoding="utf-8")


def record(dest: Path, only: str | None = None) -> None:
    for capture in captures():
        if only and only not in str(capture):
            continue
        out = dest / key(capture)
        out.mkdir(parents=True, exist_ok=True)
        record_cli(capture, out)
        record_ui(capture, out)
        print(f"recorded {capture}", file=sys.stderr)


def pack(src: Path, archive: Path) -> None:
    """A byte-stable archive: sorted names, no times, owners or modes."""
    with (
        lzma.open(archive, "wb", preset=9) as xz,
        tarfile.open(fileobj=xz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(str(path.relative_to(src)))
            data = path.read_bytes()
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def read_archive(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:xz") as tar:
        out = {}
        for m in tar.getmembers():
            f = tar.extractfile(m)
            if f is not None:
                out[m.name] = f.read()
        return out


def read_tree(src: Path) -> dict[str, bytes]:
    return {str(p.relative_to(src)): p.read_bytes() for p in sorted(src.rglob("*")) if p.is_file()}


def differences(want: dict[str, bytes], got: dict[str, bytes]) -> Iterator[str]:
    for name in sorted(set(want) | set(got)):
        if name not in got:
            yield f"missing: {name}"
        elif name not in want:
            yield f"new: {name}"
        elif want[name] != got[name]:
            yield f"differs: {name}{_first_diff(want[name], got[name])}"


def _first_diff(a: bytes, b: bytes) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    line = a[:n].count(b"\n") + 1
    return f" (line {line}: {a[n - 40 : n + 60]!r} -> {b[n - 40 : n + 60]!r})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("dir", type=Path)
    r.add_argument("--only", help="captures whose path contains this")
    k = sub.add_parser("check")
    k.add_argument("archive", type=Path)
    pk = sub.add_parser("pack")
    pk.add_argument("dir", type=Path)
    pk.add_argument("archive", type=Path)
    args = p.parse_args(argv)
    import os

    os.chdir(ROOT)
    if args.cmd == "record":
        record(args.dir, args.only)
    elif args.cmd == "pack":
        pack(args.dir, args.archive)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            record(Path(tmp))
            diffs = list(differences(read_archive(args.archive), read_tree(Path(tmp))))
        for d in diffs:
            print(d)
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
