"""The engine on a real dask.distributed cluster: `dask scheduler` and two `dask worker` processes
on 127.0.0.1 started here (killed by PID at the end), a worker killed mid-job, the default local
cluster, incremental re-runs, bad inputs and a full disk."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pq = pytest.importorskip("pyarrow.parquet")

from analyzer.batch.engine import open_client, run_batch  # noqa: E402
from analyzer.batch.inputs import expand_inputs  # noqa: E402
from analyzer.batch.query import run_query  # noqa: E402
from tests.golden.outputs import ROOT  # noqa: E402

BUNDLED = sorted((ROOT / "captures").glob("*.pcap*"))
DASK = [sys.executable, "-m", "distributed.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _popen(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:  # the child keeps its own descriptor
        return subprocess.Popen(argv, env=_env(), stdout=subprocess.DEVNULL, stderr=err)


def _worker(address: str, log: Path) -> subprocess.Popen[bytes]:
    return _popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            address,
            "--nthreads",
            "1",
            "--no-nanny",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--death-timeout",
            "60",
        ],
        log,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        _popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                "127.0.0.1:0",
                "--idle-timeout",
                "600",
            ],
            logs / "scheduler.log",
        )
    ]
    try:
        procs += [_worker(address, logs / f"worker{i}.log") for i in range(2)]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs
    finally:
        for p in procs:  # ours, by PID
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _counts(ds: Path) -> dict[str, int]:
    tables = (
        "captures",
        "connections",
        "http",
        "ws_frames",
        "ws_messages",
        "sessions",
        "eio_packets",
        "sio_packets",
        "acks",
        "anomalies",
        "tls",
    )
    return {t: run_query(str(ds), f"SELECT count(*) FROM {t}")[1][0][0] for t in tables}


def _copies(tmp: Path, n: int) -> Path:
    """n copies of every bundled capture, under other names (other capture ids)."""
    d = tmp / "in"
    for i in range(n):
        sub = d / f"set{i}"
        sub.mkdir(parents=True)
        for c in BUNDLED:
            shutil.copy(c, sub / c.name)
    return d


@pytest.fixture(scope="module")
def reference(
    cluster: tuple[str, list[subprocess.Popen[bytes]]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, int]:
    """Row counts of the bundled captures, written once on the cluster."""
    ds = tmp_path_factory.mktemp("ref") / "ds"
    sources, problems = expand_inputs([str(c) for c in BUNDLED])
    assert not problems
    r = run_batch(sources, str(ds), scheduler=cluster[0])
    assert r.added == len(BUNDLED) and not r.errors
    return _counts(ds)


def test_worker_killed_mid_job(
    cluster: tuple[str, list[subprocess.Popen[bytes]]], tmp_path: Path, reference: dict[str, int]
) -> None:
    address, procs = cluster
    n = 3
    sources, _ = expand_inputs([str(_copies(tmp_path, n))])
    victim = procs[1]
    killed: list[int] = []

    def progress(done: int, total: int, b: int, tb: int) -> None:
        if done == 2 and not killed:  # a few captures in: one worker dies with tasks on it
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed.append(done)

    ds = tmp_path / "ds"
    r = run_batch(sources, str(ds), scheduler=address, progress=progress)
    assert killed, "the worker was never killed"
    assert r.added == len(sources) == n * len(BUNDLED) and not r.errors
    counts = _counts(ds)
    assert counts == {k: v * n for k, v in reference.items()}  # nothing lost, nothing twice
    ids = run_query(str(ds), "SELECT count(DISTINCT capture_id), count(*) FROM captures")[1][0]
    assert ids == (len(sources), len(sources))
    procs[1] = _worker(address, tmp_path / "worker-again.log")  # for the tests after this one


def test_incremental_rerun_adds_nothing(
    cluster: tuple[str, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for c in BUNDLED[:4]:
        shutil.copy(c, src / c.name)
    sources, _ = expand_inputs([str(src)])
    ds = tmp_path / "ds"
    assert run_batch(sources, str(ds), scheduler=cluster[0]).added == 4
    before = {p.name: p.stat().st_mtime_ns for p in ds.glob("capture_id=*/*/*.parquet")}
    again = run_batch(sources, str(ds), scheduler=cluster[0])
    assert (again.added, again.unchanged) == (0, 4)
    assert {p.name: p.stat().st_mtime_ns for p in ds.glob("capture_id=*/*/*.parquet")} == before
    # a changed capture (another content at the same path) replaces its partition, alone
    shutil.copy(BUNDLED[5], src / BUNDLED[0].name)
    changed = run_batch(expand_inputs([str(src)])[0], str(ds), scheduler=cluster[0])
    assert (changed.added, changed.unchanged) == (1, 3)
    assert len(list(ds.glob("capture_id=*"))) == 4
    # changed content of the same size (and the same mtime): only its hash tells; the client
    # hashes the captures held at the same size
    target = src / BUNDLED[1].name
    stat = target.stat()
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF  # the last byte of the last packet's data
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert target.stat().st_size == stat.st_size
    same_size = run_batch(expand_inputs([str(src)])[0], str(ds), scheduler=cluster[0])
    assert (same_size.added, same_size.unchanged) == (1, 3)
    # the hash each task read (the captures row) is the file's SHA-256
    rows = run_query(str(ds), "SELECT source, size, sha256 FROM captures")[1]
    assert sorted(rows) == sorted(
        (str(p), p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in src.iterdir()
    )


def test_split_on_the_cluster_equals_one_task(
    cluster: tuple[str, list[subprocess.Popen[bytes]]], tmp_path: Path, reference: dict[str, int]
) -> None:
    sources, _ = expand_inputs([str(c) for c in BUNDLED])
    ds = tmp_path / "ds"
    r = run_batch(sources, str(ds), scheduler=cluster[0], split_bytes=32768)
    assert not r.errors
    assert run_query(str(ds), "SELECT max(tasks) FROM captures")[1][0][0] > 2
    counts = _counts(ds)
    assert counts == reference


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *argv],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_corrupt_capture_and_non_captures(
    cluster: tuple[str, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for c in BUNDLED[:3]:
        shutil.copy(c, src / "sub" / c.name)
    (src / "notes.txt").write_text("not a capture")
    (src / "garbage.pcap").write_bytes(b"this is no pcap at all" * 10)
    (src / "cut.pcap").write_bytes(BUNDLED[0].read_bytes()[:40])  # header and a packet cut short
    (src / "bad.pcap.gz").write_bytes(b"\x1f\x8b not gzip")
    ds = tmp_path / "ds"
    p = _cli("batch", str(src), "--out", str(ds), "--scheduler", cluster[0], "-q")
    assert p.returncode == 4, p.stderr
    assert "Traceback" not in p.stderr
    rows = run_query(str(ds), "SELECT source, error, complete FROM captures ORDER BY source")[1]
    by_name = {os.path.basename(s): (e, c) for s, e, c in rows}
    assert set(by_name) == {"garbage.pcap", "cut.pcap", "bad.pcap.gz", *(c.name for c in BUNDLED[:3])}
    assert "not a readable capture" in by_name["garbage.pcap"][0]
    assert by_name["bad.pcap.gz"][0] is not None
    assert by_name["cut.pcap"][1] is False  # damaged: analyzed up to the damage
    assert all(by_name[c.name] == (None, True) for c in BUNDLED[:3])
    assert "garbage.pcap" in p.stderr and len(p.stderr.strip().splitlines()) == 2


def test_unreachable_scheduler(tmp_path: Path) -> None:
    port = _free_port()
    p = _cli(
        "batch", str(BUNDLED[0]), "--out", str(tmp_path / "ds"), "--scheduler", f"tcp://127.0.0.1:{port}"
    )
    assert p.returncode == 5
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0], p.stderr


SITE = """
import errno, os
if os.environ.get("SOCKETSCOPE_TEST_ENOSPC"):
    import pyarrow.parquet as pq
    _write = pq.ParquetWriter.write_table
    def write_table(self, table, *a, **k):
        _write(self, table, *a, **k)  # some bytes reach the file, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    pq.ParquetWriter.write_table = write_table
"""


def test_full_disk_leaves_no_partition(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITE)  # in the client and every worker process
    env = _env()
    env["PYTHONPATH"] = str(site) + os.pathsep + env["PYTHONPATH"]
    env["SOCKETSCOPE_TEST_ENOSPC"] = "1"
    ds = tmp_path / "ds"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "analyzer.cli",
            "batch",
            *map(str, BUNDLED[:3]),
            "--out",
            str(ds),
            "--workers",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert p.returncode == 2, p.stderr
    lines = [
        x for x in p.stderr.strip().splitlines() if not x.startswith("socketscope: batch: Dask dashboard")
    ]
    assert lines == [f"socketscope: batch: cannot write {ds}: No space left on device"], p.stderr
    assert not list(ds.glob("capture_id=*"))  # no partition that looks valid
    assert not (ds / ".staging").exists()


def test_default_local_cluster(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    p = _cli("batch", *map(str, BUNDLED[:4]), "--out", str(ds))  # the default: one worker per core
    assert p.returncode == 0, p.stderr
    assert "Dask dashboard: http://127.0.0.1:" in p.stderr
    assert run_query(str(ds), "SELECT count(*) FROM captures WHERE error IS NULL")[1][0][0] == 4
    q = _cli("query", str(ds), "SELECT count(*) AS n FROM captures", "--format", "json")
    assert q.returncode == 0 and '"n": 4' in q.stdout


def _worker_settings() -> tuple[str | None, bool]:
    import dask

    profile = dask.config.get("distributed.worker.profile.enabled")
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), bool(profile)


def test_embedded_cluster_is_quiet() -> None:
    """The default local cluster's workers run without the nanny's MALLOC_TRIM_THRESHOLD_ and the
    statistical profiler (engine.EMBEDDED_CONFIG: their CPU cost, docs/dataset.md)."""
    client, cluster = open_client(None, 1)
    try:
        settings = list(client.run(_worker_settings).values())
    finally:
        client.close()
        cluster.close()
    assert settings == [(os.environ.get("MALLOC_TRIM_THRESHOLD_"), False)]
