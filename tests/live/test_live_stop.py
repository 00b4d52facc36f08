"""`socketscope live` never leaves its capture tool behind, and says in one sentence when it cannot
write its file.

- SIGTERM (what `timeout` and service managers send) and SIGHUP (the terminal went away) stop the
  capture as Ctrl-C does: tcpdump is stopped, the summary printed;
- SIGKILL of socketscope: the tools die with it (its watchdog), instead of capturing on,
  re-parented to PID 1;
- `-w /dev/full`: one sentence and exit 5, not a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.live.conftest import ROOT, Proc, burst, free_port

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("root")]


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(command name, state, parent pid) of a process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]
    return comm, state, int(ppid)


def _children(pid: int, name: str | None = None) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[2] == pid and name in (None, st[0]):
                out.append(int(entry))
    return out


TOOLS = {"builtin": ("tcpdump",), "tshark": ("dumpcap", "tshark")}
ENGINES = [
    pytest.param("builtin", id="builtin"),
    pytest.param("tshark", id="tshark", marks=pytest.mark.tshark),
]


def _running(pid: int) -> bool:
    """Alive and still a capture tool (a zombie waiting for a reaper does not capture)."""
    st = _stat(pid)
    return st is not None and st[0] in ("tcpdump", "dumpcap", "tshark") and st[1] not in ("Z", "X")


def _wait(cond: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _tools(parent: int, engine: str) -> list[int]:
    """The PIDs of the capture tools `parent` started, once they all run."""
    found: dict[str, int] = {}

    def look() -> bool:
        for name in TOOLS[engine]:
            for pid in _children(parent, name):
                found[name] = pid
        return len(found) == len(TOOLS[engine])

    assert _wait(look, 10), f"capture tools not found: {found}"
    return list(found.values())


def _start(*extra: str, engine: str = "builtin") -> tuple[Proc, list[int]]:
    """`live` on an unused port, and the PIDs of its capture tools once they run."""
    cmd = [sys.executable, "-m", "analyzer.cli", "live", "-i", "lo", "-f", f"tcp port {free_port()}"]
    proc = Proc([*cmd, "--engine", engine, *extra])
    if not proc.wait_for("socketscope: capturing on", 30):
        proc.finish(5)
        raise AssertionError(f"live did not start: {proc.stderr}")
    return proc, _tools(proc.p.pid, engine)


def _cleanup(proc: Proc, tools: list[int]) -> None:
    if proc.p.poll() is None:
        proc.p.kill()
    proc.finish(10)
    for pid in tools:
        if _running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_stops_the_tool_and_prints_the_summary(sig: signal.Signals, engine: str) -> None:
    proc, tools = _start("--duration", "30", engine=engine)
    try:
        os.kill(proc.p.pid, sig)
        code = proc.finish(40)
        assert _wait(lambda: not any(map(_running, tools)), 10), f"{tools} still run after {sig.name}"
        assert code == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "0 packets captured on lo" in proc.out  # stopped as Ctrl-C stops it: with the summary
    finally:
        _cleanup(proc, tools)


def test_timeout_command_stops_tcpdump() -> None:
    """`timeout 3 socketscope live ...` (SIGTERM after 3 s)."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "analyzer.cli",
        "live",
        "-i",
        "lo",
        "-f",
        f"tcp port {port}",
        "--duration",
        "30",
    ]
    proc = Proc(["timeout", "3", *cmd])
    tools: list[int] = []
    try:
        assert proc.wait_for("socketscope: capturing on", 30), proc.stderr
        found: list[int] = []  # timeout -> python -> tcpdump
        assert _wait(lambda: found.extend(_children(proc.p.pid)) or found, 10)
        tools = _tools(found[0], "builtin")
        assert proc.finish(40) == 124, proc.stderr  # timeout says it timed out
        assert _wait(lambda: not any(map(_running, tools)), 10), f"tcpdump {tools} still runs"
        assert "Traceback" not in proc.stderr
    finally:
        _cleanup(proc, tools)


@pytest.mark.parametrize("engine", ENGINES)
def test_sigkill_of_socketscope_takes_the_tool_along(engine: str) -> None:
    proc, tools = _start("--duration", "30", engine=engine)
    try:
        os.kill(proc.p.pid, signal.SIGKILL)
        proc.finish(10)
        assert _wait(lambda: not any(map(_running, tools)), 10), f"{tools} outlived socketscope"
    finally:
        _cleanup(proc, tools)


@pytest.mark.parametrize("traffic", [False, True], ids=["idle", "packets"])
def test_write_error_is_one_sentence(traffic: bool) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "analyzer.cli", "live", "-i", "lo", "-f", f"tcp port {port}"]
    cmd += ["-w", "/dev/full", "--duration", "3" if traffic else "1"]
    proc = Proc(cmd)
    try:
        assert proc.wait_for("socketscope: capturing on", 30), proc.stderr
        if traffic:
            burst(port, total=256 << 10)
        code = proc.finish(40)
    finally:
        if proc.p.poll() is None:
            proc.p.kill()
            proc.finish(10)
    assert code == 5, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "capturing on" not in ln]
    assert len(lines) == 1, proc.stderr
    assert "cannot write /dev/full" in lines[0] and "No space left on device" in lines[0], lines
    assert "packets written" not in proc.stderr


def test_write_error_of_an_unwritable_path_is_one_sentence(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "live", "-i", "lo", "-w", str(tmp_path / "no" / "x.pcapng")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert res.returncode == 5 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and "cannot write" in res.stderr
