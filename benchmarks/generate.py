#!/usr/bin/env python3
"""Record a large benchmark capture from real traffic, and derive smaller or larger variants.

    python benchmarks/generate.py --size-mb 500 -o benchmarks/out/big.pcap
    python benchmarks/generate.py --size-mb 60 -o benchmarks/out/base.pcap --scale 120,250,500
    python benchmarks/generate.py --from benchmarks/out/big.pcap --scale 60,120,250
    python benchmarks/generate.py --profile state --size-mb 120 -o benchmarks/out/state.pcap

Needs root (network namespaces, tc, tcpdump), iproute2, tcpdump, mergecap, and the python
packages python-socketio, uvicorn, aiohttp and websockets.

What it records (see benchmarks/README.md for the whole story):

* three network namespaces made for the run, ``ssbench-c`` (clients, 10.77.0.1),
  ``ssbench-r`` (a router) and ``ssbench-s`` (servers, 10.77.1.1), joined by two veth pairs
  with Ethernet MTU 1500 and GSO/TSO segments limited to one MSS (``gso_max_segs 1``), so the
  capture holds wire-sized segments as a switch port would see them;
* the router forwards through a token-bucket qdisc with a shallow queue on both sides
  (``tbf rate 300mbit burst 32kb limit 128kb`` by default): bursts overflow it and the
  kernel's own TCP retransmits the lost segments (netem is not available in this kernel, so
  the losses are congestion drops, not random ones);
* tcpdump (``-s 0``, port filter) runs in the router on its client-side interface, like a tap
  between the clients and a lossy link, so the capture shows both the duplicates (client ->
  server segments dropped after the tap) and the holes later filled (server -> client segments
  dropped before it);
* benchmarks/workload.py runs the applications: in ``ssbench-s`` a python-socketio server
  (uvicorn, port 80), a python ``websockets`` server with permessage-deflate (port 8080) and
  one without compression (port 8088); in ``ssbench-c`` one asyncio process with 30
  python-socketio clients and 9 python ``websockets`` clients that connect, act and reconnect;
* a second, small part is recorded on the loopback interface of ``ssbench-s``, where one
  ``websockets`` client (pausing 4x longer) exchanges large uncompressed messages with the port-8088 server:
  loopback's 64 KiB MTU gives records over 65535 bytes (what scapy's reader cuts short);
* the two recordings are merged by timestamp with ``mergecap -F pcap``; the run stops by
  itself when the files reach ``--size-mb`` (or after ``--max-seconds``); the namespaces are
  deleted at the end, whatever happens.

With ``--tls`` the same traffic runs over TLS (https and wss on the same ports): a throwaway
self-signed certificate for the server's address is made for the run (``cryptography``), the
clients write the NSS key log, kept beside the capture as ``<capture>.keys``
(``socketscope analyze CAPTURE --keylog CAPTURE.keys`` decrypts it; benchmarks/run.py --tls
measures the cost of that against the plaintext capture).

Variants (``--scale``): a size below the recorded one is the capture's first records up to that
size (whole records); a size above it is made of copies of the recording one after the other,
copy k shifted in time by k x (duration + 1 s) and with its client ports rotated inside the
ephemeral range (TCP checksums updated), see benchmarks/pcaptools.py.  A ``<capture>.meta.json``
file beside each output says how it was made.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pcaptools

__all__ = ["main", "make_variants", "record"]

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workload.py"
PY = sys.executable
NS_C, NS_R, NS_S = "ssbench-c", "ssbench-r", "ssbench-s"
CLIENT_IP, ROUTER_C_IP, ROUTER_S_IP, SERVER_IP = "10.77.0.1", "10.77.0.2", "10.77.1.2", "10.77.1.1"
SIO_PORT, WS_PORT, RAW_WS_PORT = 80, 8080, 8088
SERVER_PORTS = frozenset({SIO_PORT, WS_PORT, RAW_WS_PORT})
PORT_FILTER = f"tcp port {SIO_PORT} or tcp port {WS_PORT} or tcp port {RAW_WS_PORT}"


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=30)


def _ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


def _netns_exists(name: str) -> bool:
    return name in _run("ip", "netns", "list", check=False).stdout.split()


def teardown_network() -> None:
    """Delete the three namespaces (their veth pairs go with them)."""
    for ns in (NS_C, NS_R, NS_S):
        if _netns_exists(ns):
            _run("ip", "netns", "del", ns, check=False)


def setup_network(rate_mbit: int, queue_kb: int) -> None:
    teardown_network()  # leftovers of an interrupted run of this script
    for ns in (NS_C, NS_R, NS_S):
        _run("ip", "netns", "add", ns)
        _run(*_ns(ns, "ip", "link", "set", "lo", "up"))
    _run(
        "ip", "link", "add", "ssb-c0", "netns", NS_C, "type", "veth", "peer", "name", "ssb-r0", "netns", NS_R
    )
    _run(
        "ip", "link", "add", "ssb-s0", "netns", NS_S, "type", "veth", "peer", "name", "ssb-r1", "netns", NS_R
    )
    for ns, dev, addr in (
        (NS_C, "ssb-c0", CLIENT_IP),
        (NS_R, "ssb-r0", ROUTER_C_IP),
        (NS_R, "ssb-r1", ROUTER_S_IP),
        (NS_S, "ssb-s0", SERVER_IP),
    ):
        # one MSS per skb: the capture shows wire-sized segments, not GSO super-packets
        _run(*_ns(ns, "ip", "link", "set", "dev", dev, "mtu", "1500", "gso_max_segs", "1"))
        _run(*_ns(ns, "ip", "addr", "add", f"{addr}/24", "dev", dev))
        _run(*_ns(ns, "ip", "link", "set", "dev", dev, "up"))
    _run(*_ns(NS_C, "ip", "route", "add", "default", "via", ROUTER_C_IP))
    _run(*_ns(NS_S, "ip", "route", "add", "default", "via", ROUTER_S_IP))
    _run(*_ns(NS_R, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"))
    for dev in ("ssb-r0", "ssb-r1"):
        _run(
            *_ns(
                NS_R,
                "tc",
                "qdisc",
                "add",
                "dev",
                dev,
                "root",
                "tbf",
                "rate",
                f"{rate_mbit}mbit",
                "burst",
                "32kb",
                "limit",
                f"{queue_kb}kb",
            )
        )


def _qdisc_drops(dev: str) -> dict[str, int]:
    out = _run(*_ns(NS_R, "tc", "-s", "qdisc", "show", "dev", dev), check=False).stdout
    m = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+)", out)
    if not m:
        return {}
    return {"sent_bytes": int(m[1]), "sent_packets": int(m[2]), "dropped_packets": int(m[3])}


def _tcpdump_counts(stderr: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, pat in (
        ("captured", r"(\d+) packets? captured"),
        ("dropped_by_kernel", r"(\d+) packets? dropped by kernel"),
    ):
        m = re.search(pat, stderr)
        if m:
            out[key] = int(m[1])
    return out


def _lib_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for dist in ("python-socketio", "python-engineio", "uvicorn", "aiohttp", "websockets"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "missing"
    out["tcpdump"] = (
        _run("tcpdump", "--version", check=False).stdout.splitlines()[0:1][0]
        if shutil.which("tcpdump")
        else "missing"
    )
    return out


def _wait_ready(proc: subprocess.Popen[str], timeout: float) -> None:
    assert proc.stdout is not None
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if "server ready" in line:
                return
            if not line and proc.poll() is not None:
                break
    raise RuntimeError("the workload server did not start (see its stderr)")


def _stop(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(5)


def make_certificate(folder: Path) -> None:
    """cert.pem / key.pem for the server's addresses (RFC 5280 SAN), valid one day."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ssbench")])
    now = dt.datetime.now(dt.UTC)
    san = [x509.IPAddress(ipaddress.ip_address(a)) for a in (SERVER_IP, "127.0.0.1")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def record(
    out: Path,
    *,
    tls: bool = False,
    size_mb: float,
    max_seconds: float,
    sio_clients: int,
    ws_clients: int,
    loopback_clients: int,
    rate_mbit: int,
    queue_kb: int,
    seed: int,
    pace: float,
    profile: str = "mixed",
) -> dict[str, Any]:
    """Record real traffic into `out` until it holds about size_mb megabytes (10^6 bytes)."""
    if os.geteuid() != 0:
        raise SystemExit("generate.py: recording needs root (network namespaces, tc, tcpdump)")
    for tool in ("ip", "tc", "tcpdump", "mergecap"):
        if shutil.which(tool) is None:
            raise SystemExit(f"generate.py: {tool} is not installed")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".record-", dir=out.parent))
    routed, loop, stop_file = work / "routed.pcap", work / "loopback.pcap", work / "stop"
    target = int(size_mb * 1e6)
    tls_args: list[str] = []
    if tls:
        make_certificate(work)
        tls_args = ["--tls-dir", str(work)]
    procs: list[subprocess.Popen[Any]] = []
    meta: dict[str, Any] = {
        "kind": "recording",
        "command": " ".join([Path(PY).name, *sys.argv]),
        "recorded": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target_bytes": target,
        "settings": {
            "sio_clients": sio_clients,
            "ws_clients": ws_clients,
            "loopback_clients": loopback_clients,
            "tbf_rate_mbit": rate_mbit,
            "tbf_queue_kb": queue_kb,
            "seed": seed,
            "pace": pace,
            "max_seconds": max_seconds,
            "profile": profile,
            "tls": tls,
        },
        "network": {
            "clients": CLIENT_IP,
            "server": SERVER_IP,
            "capture_point": f"{NS_R}:ssb-r0 (router, client side)",
            "loopback_part": f"{NS_S}:lo, 127.0.0.1 -> 127.0.0.1:{RAW_WS_PORT}",
            "mtu": 1500,
        },
        "server_ports": sorted(SERVER_PORTS),
        "libraries": _lib_versions(),
    }
    try:
        setup_network(rate_mbit, queue_kb)
        dump_r = subprocess.Popen(
            _ns(
                NS_R,
                "tcpdump",
                "-i",
                "ssb-r0",
                "-s",
                "0",
                "-B",
                "65536",
                "-U",
                "-w",
                str(routed),
                PORT_FILTER,
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(dump_r)
        dump_l = None
        if loopback_clients:
            dump_l = subprocess.Popen(
                _ns(
                    NS_S,
                    "tcpdump",
                    "-i",
                    "lo",
                    "-s",
                    "0",
                    "-B",
                    "65536",
                    "-U",
                    "-w",
                    str(loop),
                    f"tcp port {RAW_WS_PORT}",
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(dump_l)
        time.sleep(1.0)  # let tcpdump open the interface
        common = [
            "--stop-file",
            str(stop_file),
            "--seed",
            str(seed),
            "--pace",
            str(pace),
            "--sio-port",
            str(SIO_PORT),
            "--ws-port",
            str(WS_PORT),
            "--raw-ws-port",
            str(RAW_WS_PORT),
            "--profile",
            profile,
            *tls_args,
        ]
        server = subprocess.Popen(
            _ns(
                NS_S,
                PY,
                str(WORKLOAD),
                "server",
                "--host",
                SERVER_IP,
                "--max-seconds",
                str(max_seconds + 5),
                *common,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(server)
        _wait_ready(server, 30)
        started = time.monotonic()
        clients = subprocess.Popen(
            _ns(
                NS_C,
                PY,
                str(WORKLOAD),
                "clients",
                "--host",
                SERVER_IP,
                "--max-seconds",
                str(max_seconds),
                "--sio-clients",
                str(sio_clients),
                "--ws-clients",
                str(ws_clients),
                *common,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(clients)
        local = None
        if loopback_clients:
            local = subprocess.Popen(
                _ns(
                    NS_S,
                    PY,
                    str(WORKLOAD),
                    "clients",
                    "--host",
                    "127.0.0.1",
                    "--max-seconds",
                    str(max_seconds),
                    "--sio-clients",
                    "0",
                    "--ws-clients",
                    str(loopback_clients),
                    "--ws-mode",
                    "raw",
                    *common,
                    "--pace",
                    str(pace * 4),
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(local)
        # Stop by size or by time; the applications watch the stop file themselves.
        last_report = 0.0
        while clients.poll() is None:
            size = sum(p.stat().st_size for p in (routed, loop) if p.exists())
            elapsed = time.monotonic() - started
            if size >= target and not stop_file.exists():
                stop_file.touch()
            if elapsed - last_report >= 10:
                last_report = elapsed
                print(f"  {elapsed:5.0f} s  {size / 1e6:8.1f} MB", file=sys.stderr, flush=True)
            if elapsed > max_seconds + 60:
                break
            time.sleep(0.25)
        stop_file.touch()
        stats: dict[str, Any] = {}
        for name, proc in (("clients", clients), ("loopback_clients", local), ("server", server)):
            if proc is None:
                continue
            try:
                stdout, stderr = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate(timeout=10)
            for line in stdout.splitlines():
                if line.startswith("{"):
                    stats[name] = json.loads(line)
            if proc.returncode:
                print(f"{name} exited {proc.returncode}: {stderr[-2000:]}", file=sys.stderr)
        meta["recording_seconds"] = round(time.monotonic() - started, 1)
        meta["applications"] = stats
        meta["router_qdisc"] = {"to_clients": _qdisc_drops("ssb-r0"), "to_server": _qdisc_drops("ssb-r1")}
        tcpdumps: dict[str, Any] = {}
        for name, dump in (("routed", dump_r), ("loopback", dump_l)):
            if dump is None:
                continue
            _stop(dump, signal.SIGINT)
            assert dump.stderr is not None
            tcpdumps[name] = _tcpdump_counts(dump.stderr.read())
        meta["tcpdump"] = tcpdumps
    finally:
        for proc in reversed(procs):
            _stop(proc)
        teardown_network()
    if loopback_clients and loop.exists():
        _run("mergecap", "-F", "pcap", "-w", str(out), str(routed), str(loop))
    else:
        shutil.move(str(routed), out)
    if tls:  # the key log the clients wrote, beside the capture
        keys = out.with_suffix(".keys")
        shutil.copyfile(work / "keys.log", keys)
        meta["keylog"] = keys.name
    shutil.rmtree(work, ignore_errors=True)
    st = pcaptools.stats(out)
    meta.update(_describe(st))
    _write_meta(out, meta)
    return meta


def _describe(st: pcaptools.CaptureStats) -> dict[str, Any]:
    return {
        "packets": st.packets,
        "bytes": st.bytes,
        "duration_s": round(st.duration, 3),
        "records_over_65535": st.records_over_64k,
        "tcp_payload_bytes": st.tcp_payload_bytes,
    }


def _write_meta(out: Path, meta: dict[str, Any]) -> None:
    Path(str(out) + ".meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def make_variants(base: Path, sizes_mb: list[float], out_dir: Path | None = None) -> list[Path]:
    """`<stem>-<N>mb.pcap` beside base (or in out_dir): prefixes below base's size, copies above."""
    out_dir = out_dir or base.parent
    base_size = base.stat().st_size
    made: list[Path] = []
    for size in sizes_mb:
        target = int(size * 1e6)
        dst = out_dir / f"{base.stem}-{size:g}mb.pcap"
        if target <= base_size:
            n = pcaptools.prefix(base, dst, max_bytes=target)
            how: dict[str, Any] = {"kind": "prefix", "of": base.name, "records": n}
        else:
            ports = _server_ports(base)
            n, copies = pcaptools.replicate(base, dst, target_bytes=target, server_ports=ports)
            how = {
                "kind": "replicated",
                "of": base.name,
                "records": n,
                "copies": copies,
                "server_ports": sorted(ports),
                "time_shift": "copy k: + k x (duration + 1 s)",
                "client_ports": f"rotated by k x {pcaptools.PORT_STEP} inside "
                f"{pcaptools.EPHEMERAL_LOW}-{pcaptools.EPHEMERAL_HIGH}, TCP checksum updated (RFC 1624)",
            }
        how.update(_describe(pcaptools.stats(dst)))
        _write_meta(dst, how)
        made.append(dst)
        print(
            f"{dst}: {how['kind']}, {how['packets']:,} packets, {how['bytes'] / 1e6:,.1f} MB", file=sys.stderr
        )
    return made


def _server_ports(base: Path) -> frozenset[int]:
    """From the capture's .meta.json, else the ports that received a SYN, else this script's ports."""
    meta = Path(str(base) + ".meta.json")
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return frozenset(int(p) for p in json.loads(meta.read_text(encoding="utf-8"))["server_ports"])
    return pcaptools.syn_server_ports(base) or SERVER_PORTS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", type=Path, default=HERE / "out" / "big.pcap")
    p.add_argument("--size-mb", type=float, default=500.0, help="stop recording at this size (10^6 bytes)")
    p.add_argument(
        "--from", dest="source", type=Path, help="do not record: derive --scale variants of this pcap"
    )
    p.add_argument(
        "--scale", default="", help="comma-separated sizes in MB of variants to derive, e.g. 60,120,250"
    )
    p.add_argument("--max-seconds", type=float, default=300.0, help="recording time limit")
    p.add_argument("--sio-clients", type=int, default=30)
    p.add_argument("--ws-clients", type=int, help="default: 9 (mixed profile), 3 (state profile)")
    p.add_argument("--loopback-clients", type=int, default=1, help="0: no loopback part")
    p.add_argument("--rate-mbit", type=int, default=300, help="router token bucket rate")
    p.add_argument("--queue-kb", type=int, default=128, help="router queue: smaller means more drops")
    p.add_argument("--pace", type=float, default=0.05, help="pause between a client's actions (s, x random)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--profile",
        choices=["mixed", "state"],
        default="mixed",
        help="traffic profile: mixed (the first benchmark) or state (python-socketio events with "
        "nested JSON state skewed up to 64 KiB and 16 B-40 KiB binary attachments)",
    )
    p.add_argument("--tls", action="store_true", help="the same traffic over TLS; the key log beside it")
    args = p.parse_args(argv)
    sizes = [float(s) for s in args.scale.split(",") if s.strip()]
    if args.ws_clients is None:
        args.ws_clients = 3 if args.profile == "state" else 9
    if args.source is not None:
        base = args.source
    else:
        t0 = time.monotonic()
        meta = record(
            args.output,
            tls=args.tls,
            size_mb=args.size_mb,
            max_seconds=args.max_seconds,
            sio_clients=args.sio_clients,
            ws_clients=args.ws_clients,
            loopback_clients=args.loopback_clients,
            rate_mbit=args.rate_mbit,
            queue_kb=args.queue_kb,
            seed=args.seed,
            pace=args.pace,
            profile=args.profile,
        )
        print(
            f"{args.output}: {meta['packets']:,} packets, {meta['bytes'] / 1e6:,.1f} MB, "
            f"{meta['duration_s']:.0f} s of traffic, recorded in {time.monotonic() - t0:.0f} s",
            file=sys.stderr,
        )
        base = args.output
    if sizes:
        make_variants(base, sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
