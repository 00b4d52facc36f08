"""`--jobs N` (analyzer/pipeline/shards.py): the output of several processes is, byte for byte,
the output of one, on every bundled and corpus capture.

The comparison of every capture runs the CLI in this process with the shares one after the other
(`shards.PROCESSES = False`: the same code as a worker process runs, without the cost of starting
32 interpreters) and the 8 MB threshold lowered to 0, so that every capture is shared out. The
tests about processes (the workers, a worker that fails, Ctrl-C) start real ones.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import multiprocessing
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analyzer.capture.pcapfile import open_capture
from analyzer.cli import main
from analyzer.cli.common import load_keylogs
from analyzer.export.jsonstream import StreamingJsonWriter
from analyzer.model.analysis import CaptureInfo, ConnectionRecord
from analyzer.pipeline import Options, Pipeline, analyze_file, run, shards, share
from analyzer.pipeline import groups as groups_module
from analyzer.pipeline.groups import FlowKey, flow_key, share_groups
from tests.conftest import CAPTURES
from tests.golden.outputs import ROOT, captures
from tests.pcapwriter import pcap_bytes

# every bundled capture (captures/**: TLS and HTTP/2 ones with their key logs) and tests/corpus
ALL = sorted({str(p) for p in (ROOT / "captures").rglob("*.pcap*")} | {str(ROOT / p) for p in captures()})


def _keys(capture: str) -> tuple[str, ...]:
    keys = Path(capture).with_suffix(".keys")
    return ("--keylog", str(keys)) if keys.is_file() else ()


LEGS = str(CAPTURES / "sio-chromium-browser.pcap")  # one client, one session: polling and WebSocket legs


@pytest.fixture
def shared_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every capture is read in shares (not only those over 8 MB), in this process."""
    monkeypatch.setattr(shards, "PROCESSES", False)
    monkeypatch.setattr(shards, "SMALL_CAPTURE_BYTES", 0)


def _cli(*argv: str) -> int:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return main([*argv])


def _tree(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {"": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


OUTPUTS = {
    "text": ("analyze", "--messages", "--events", "--anomalies"),
    "json": ("analyze", "--format", "json"),
    "jsonl": ("export", "--format", "jsonl"),
    "csv": ("export", "--format", "csv"),
}


@pytest.mark.usefixtures("shared_out")
@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("capture", ALL, ids=lambda p: os.path.relpath(p, ROOT))
def test_two_jobs_write_the_bytes_of_one(capture: str, output: str, tmp_path: Path) -> None:
    cmd, *opts = OUTPUTS[output]
    got = {}
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        code = _cli(cmd, capture, *opts, *_keys(capture), "-o", str(out), "--jobs", jobs, "-q")
        got[jobs] = (code, _tree(out))
    assert got["1"][1], "nothing written"
    assert got["2"] == got["1"]


def _options(capture: str) -> Options:
    keys = _keys(capture)
    return Options(spill_records=True, keylog=load_keylogs([keys[1]]) if keys else None)


def _json(capture: str, options: Options, jobs: int, by_client: bool | None = None) -> tuple[str, bool]:
    out = io.StringIO()
    writer = StreamingJsonWriter(out)
    summary = shards.run_jobs(capture, options, writer, jobs=jobs, by_client=by_client)
    if summary is None:  # nothing was handed to the writer: one process, as the CLI does then
        run(open_capture(capture), options, writer)
    return out.getvalue(), summary is not None


def _one(capture: str, options: Options) -> str:
    out = io.StringIO()
    run(open_capture(capture), options, StreamingJsonWriter(out))
    return out.getvalue()


@pytest.mark.usefixtures("shared_out")
@pytest.mark.parametrize("capture", ALL, ids=lambda p: os.path.relpath(p, ROOT))
def test_shares_by_client_address_and_three_jobs(capture: str) -> None:
    """The other ways of sharing out: by client address (the loopback captures have one client,
    so the CLI shares them out connection by connection), and three shares."""
    expected = _one(capture, _options(capture))
    assert _json(capture, _options(capture), 2, by_client=True) == (expected, True)
    assert _json(capture, _options(capture), 3, by_client=False) == (expected, True)


@pytest.mark.usefixtures("shared_out")
@pytest.mark.parametrize("capture", ALL, ids=lambda p: os.path.relpath(p, ROOT))
def test_looks_for_finished_sessions_come_at_one_run_moments(
    capture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions that are over are handed on every FLUSH_EVERY packets (4096: more than most of
    these captures have): every 5 packets here, so that the shares' looks are merged in between
    their calls, and sessions leave early as in one run."""
    monkeypatch.setattr(Pipeline, "FLUSH_EVERY", 5)
    expected = _one(capture, _options(capture))
    assert _json(capture, _options(capture), 2, by_client=False) == (expected, True)
    for output in ("text", "jsonl"):
        cmd, *opts = OUTPUTS[output]
        got = [_cli_out(cmd, capture, *opts, *_keys(capture), "--jobs", jobs) for jobs in ("1", "2")]
        assert got[0] == got[1]


class _Early:
    """Counts the sessions handed on before the end of the capture (by a look for finished ones)."""

    def __init__(self) -> None:
        self.early = 0

    def connection(self, record: object) -> None:
        pass

    def session(self, record: object) -> None:
        self.early += 1

    def finish(self, summary: object) -> None:
        pass


def test_sessions_over_before_the_end_leave_at_one_run_moments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real captures one after the other, 300 s apart: the sessions of the first are quiet for more
    than 120 s while the later ones run, so looks for finished sessions (every 5 packets) hand them
    on before the end, and the first capture's sids, seen again at the end, make new sessions
    (without those looks, or with them in the wrong place, they would not)."""
    monkeypatch.setattr(Pipeline, "FLUSH_EVERY", 5)
    packets: list[tuple[float, bytes]] = []
    # the first capture comes again at the end: its sids are seen again after their sessions left
    for i, name in enumerate(("sio-node-v4-default", "sio-chromium-browser", "sio-node-v4-default")):
        pkts = list(open_capture(str(CAPTURES / f"{name}.pcap")))
        base = 1_800_000_000 + 300 * i - pkts[0].ts
        packets += [(p.ts + base, p.data) for p in pkts]
    capture = tmp_path / "apart.pcap"
    capture.write_bytes(pcap_bytes(packets))
    path = str(capture)
    early = _Early()
    pipe = Pipeline(CaptureInfo(path=path, format="pcap"), Options(spill_records=True), early)
    pipe.feed_all(open_capture(path))
    assert early.early >= 2  # the sessions of the first two captures, before the end
    pipe.finish()
    expected = _one(path, Options(spill_records=True))
    with _no_processes():
        for by_client in (False, True, None):  # None: grouped by sids, two shares (local sessions)
            assert _json(path, Options(spill_records=True), 2, by_client=by_client) == (expected, True)
    assert len(set(share_groups(path, 2)[0].values())) == 2


# real captures of Socket.IO sessions (different server ports, so no two connections share a
# 4-tuple), played at the same time: their sessions interleave
TOGETHER = (
    "sio-node-v4-default",
    "sio-chromium-browser",
    "sio-python-polling-upgrade",
    "sio-node-v4-msgpack",
)


def _together(tmp_path: Path) -> str:
    packets: list[tuple[float, bytes]] = []
    for i, name in enumerate(TOGETHER):
        pkts = list(open_capture(str(CAPTURES / f"{name}.pcap")))
        base = 1_800_000_000 + 0.003 * i - pkts[0].ts
        packets += [(p.ts + base, p.data) for p in pkts]
    packets.sort(key=lambda p: p[0])
    capture = tmp_path / "together.pcap"
    capture.write_bytes(pcap_bytes(packets))
    return str(capture)


@pytest.mark.usefixtures("shared_out")
@pytest.mark.parametrize("flush_every", [4096, 5])
def test_local_sessions_of_several_shares_merge_as_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flush_every: int
) -> None:
    """Sessions grouped by their sids (pipeline/groups.py): each session's connections in one
    share, the sessions spread over the shares, stitched and analysed there (local sessions), and
    handed on in one run's order, at the end or (every 5 packets) by the looks for finished ones."""
    monkeypatch.setattr(Pipeline, "FLUSH_EVERY", flush_every)
    path = _together(tmp_path)
    analysis = analyze_file(path)
    by_id = {c.id: c for c in analysis.connections}
    assert len(analysis.engineio_sessions) == len(TOGETHER)
    for jobs in (2, 3):
        groups, found, spread = share_groups(path, jobs)
        assert found and not spread
        by_session = [{groups[_flow(by_id[c])] for c in s.connections} for s in analysis.engineio_sessions]
        assert all(len(shares) == 1 for shares in by_session)  # each session in one share
        assert len(set.union(*by_session)) == jobs  # and every share has sessions
        expected = _one(path, Options(spill_records=True))
        assert _json(path, Options(spill_records=True), jobs) == (expected, True)
    for output in OUTPUTS:
        cmd, *opts = OUTPUTS[output]
        got = []
        for jobs in ("1", "2"):
            out = tmp_path / f"{output}-{flush_every}-{jobs}"
            got.append((_cli(cmd, path, *opts, "-o", str(out), "--jobs", jobs, "-q"), _tree(out)))
        assert got[0][1] and got[0] == got[1]


def _flow(c: ConnectionRecord) -> FlowKey:
    """What pipeline/groups.py calls the connection."""
    a = (ipaddress.ip_address(c.client["ip"]).packed, c.client["port"])
    b = (ipaddress.ip_address(c.server["ip"]).packed, c.server["port"])
    return flow_key(a, b)


def test_a_session_in_two_shares_is_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the groups' guess is wrong (here: the polling and WebSocket legs of one session put in
    different shares on purpose), the shares meet the same sid: run_jobs says so (None) and the
    caller reads with one process."""
    analysis = analyze_file(LEGS)
    legs = analysis.engineio_sessions[0].connections
    by_id = {c.id: c for c in analysis.connections}

    def split(path: str, jobs: int) -> tuple[dict[FlowKey, int], bool, bool]:
        out = {_flow(by_id[cid]): k % jobs for k, cid in enumerate(legs)}
        return out, True, False

    monkeypatch.setattr(shards, "share_groups", split)
    expected = _one(LEGS, Options(spill_records=True))
    with _no_processes():
        assert _json(LEGS, Options(spill_records=True), 2) == (expected, False)


def test_the_quick_read_keeps_a_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_FLOWS flows (a hostile capture may hold millions) the quick read gives up its
    groups, and the capture is shared out connection by connection, the same bytes out."""
    assert share_groups(LEGS, 2)[1]
    monkeypatch.setattr(groups_module, "MAX_FLOWS", 2)
    assert share_groups(LEGS, 2) == ({}, False, False)
    expected = _one(LEGS, Options(spill_records=True))
    with _no_processes():
        assert _json(LEGS, Options(spill_records=True), 2) == (expected, True)


def _cli_out(*argv: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        _cli(*argv, "-o", str(out), "-q")
        return out.read_text(encoding="utf-8")


def _shares(capture: str, n: int, by_client: bool, tmp: Path) -> list[set[int]]:
    """The connection ids each of the n shares made a record of."""
    out = []
    for k in range(n):
        spec = share.ShareSpec(capture, k, n, by_client, Options(spill_records=True), str(tmp / f"s{k}"))
        share.run_share(spec, None)
        items = shards.read_items(spec.out)
        out.append({item[2][0].id for item in items if item[1] == share.CONNECTION})
    return out


@pytest.mark.parametrize("by_client", [False, True])
def test_the_shares_partition_the_connections(by_client: bool, tmp_path: Path) -> None:
    """Every connection's record is made by exactly one share. The client of this capture has
    polling and WebSocket legs; by client address they are in one share, connection by
    connection in both (the session is then stitched from the two shares' calls)."""
    analysis = analyze_file(LEGS)
    ids = {c.id for c in analysis.connections}
    sid_conns = {c for s in analysis.engineio_sessions for c in s.connections}
    assert len(ids) >= 2 and len(sid_conns) >= 2
    shares = _shares(LEGS, 2, by_client, tmp_path)
    assert shares[0].isdisjoint(shares[1])
    assert shares[0] | shares[1] == ids
    spanned = [s for s in shares if s & sid_conns]
    assert len(spanned) == (1 if by_client else 2)


def test_a_capture_wide_bound_passed_by_the_shares_together_is_one_process() -> None:
    """The capture's frame records: each share runs unbounded and counts what it listed; past the
    bound all together, run_jobs says so (None) and the caller reads with one process."""
    listed = sum(len(c.websocket.frames) for c in analyze_file(LEGS).connections if c.websocket)
    assert listed > 4
    with _no_processes():
        for bound, shared in ((listed - 1, False), (listed, True)):
            options = Options(spill_records=True, max_frame_records_capture=bound)
            text, was_shared = _json(LEGS, options, 2, by_client=False)
            assert was_shared is shared
            assert text == _one(LEGS, options)


@contextlib.contextmanager
def _no_processes() -> Iterator[None]:
    old = shards.PROCESSES
    shards.PROCESSES = False
    try:
        yield
    finally:
        shards.PROCESSES = old


# -- real processes --


def test_worker_processes_give_the_bytes_of_one() -> None:
    capture = str(CAPTURES / "sio-node-v4-default.pcap")
    expected = _one(capture, Options(spill_records=True))
    seen: list[int] = []
    out = io.StringIO()
    summary = shards.run_jobs(
        capture, Options(spill_records=True), StreamingJsonWriter(out), jobs=2, progress=seen.append
    )
    assert summary is not None and out.getvalue() == expected
    assert not multiprocessing.active_children()


def test_spawned_workers_when_there_is_another_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process with another thread is not forked (a fork copies no thread, and whatever lock
    one held): its workers are spawned, and give the same bytes."""
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    started: list[str] = []
    real = multiprocessing.get_context

    def context(method: str | None = None) -> Any:
        started.append(str(method))
        return real(method)

    monkeypatch.setattr(multiprocessing, "get_context", context)
    capture = str(CAPTURES / "sio-node-v4-default.pcap")
    expected = _one(capture, Options(spill_records=True))
    out = io.StringIO()
    summary = shards.run_jobs(capture, Options(spill_records=True), StreamingJsonWriter(out), jobs=2)
    assert summary is not None and out.getvalue() == expected
    assert started == ["spawn"]
    assert not multiprocessing.active_children()


def test_a_worker_that_fails_is_one_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-capture.pcap"
    bad.write_bytes(b"this is not a capture" * 10)
    with pytest.raises(shards.JobsError) as err:
        shards.run_jobs(str(bad), Options(spill_records=True), jobs=2, by_client=False)
    # share 1 runs in this process first; the worker of share 2 may not have been waited for
    assert re.match(r"share 1 of 2 failed: CaptureError: not a pcap", str(err.value))
    assert "\n" not in str(err.value)
    assert not multiprocessing.active_children()


def test_ctrl_c_ends_the_workers() -> None:
    """KeyboardInterrupt in the parent while the workers run (raised here by the progress
    callback, which the parent calls when its own share is done and it waits for the workers):
    the workers are ended, their files gone."""
    before = set(os.listdir(tempfile.gettempdir()))

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    big = max(ALL, key=os.path.getsize)
    with pytest.raises(KeyboardInterrupt):
        shards.run_jobs(big, Options(spill_records=True), jobs=2, progress=interrupt)
    assert not multiprocessing.active_children()
    left = {n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("socketscope-jobs-")}
    assert not left


def test_jobs_is_a_number_of_processes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", LEGS, "--jobs", "two"])
    assert exit_.value.code == 2
    assert "'two' is not a number of processes (0 to 1024)" in capsys.readouterr().err


def test_the_default_is_one_process_a_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #19 item 5: `--jobs` defaults to the cores (a capture of 8 MB or more; a smaller one,
    a pipe and `-j 1` are one process)."""
    import argparse

    from analyzer.cli.common import jobs_for
    from analyzer.pipeline import shards

    monkeypatch.setattr(shards, "default_jobs", lambda: 6)
    big = tmp_path / "big.pcap"
    with big.open("wb") as f:
        f.truncate(shards.SMALL_CAPTURE_BYTES)
    small = tmp_path / "small.pcap"
    small.write_bytes(b"\0" * 100)
    assert jobs_for(argparse.Namespace(jobs=None), str(big)) == 6
    assert jobs_for(argparse.Namespace(jobs=0), str(big)) == 6
    assert jobs_for(argparse.Namespace(jobs=1), str(big)) == 1
    assert jobs_for(argparse.Namespace(jobs=3), str(big)) == 3
    assert jobs_for(argparse.Namespace(jobs=None), str(small)) == 1
    assert jobs_for(argparse.Namespace(jobs=None, engine="tshark"), str(big)) == 1
