"""What the timeline's long tasks are: a Chrome trace of the page's first load, summed per task.

Opens /c/<id>/timeline in the same headless Chromium as the browser tests (`--disable-gpu`:
WebGL on the CPU, SwiftShader, in Chromium's GPU process) with the trace categories of the
DevTools Performance panel, then prints every main-thread task over 50 ms with what it spent its
time on: JavaScript, style and layout, the compositor's commit, and the waits for the GPU
process (`WaitForGetOffset`: a synchronous WebGL call such as getError or
checkFramebufferStatus blocks until the GPU process has run every command queued before it),
and what the GPU process did meanwhile. docs/benchmarks.md ("The 200 ms task") has its output.

    python -m tests.browser.trace_timeline captures/sio-node-v4-default.pcap [--runs 2] [--json out.json]

Not a test (it asserts nothing); the server and the browser stop by themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.browser.conftest import CHROMEDRIVER, CHROMIUM, Served, wait_for
from tests.browser.test_timeline_scale import LONGTASKS

CATEGORIES = ",".join(
    (
        "devtools.timeline",
        "disabled-by-default-devtools.timeline",
        "v8",
        "blink",
        "gpu",
        "toplevel",
    )
)
LOADED = "return !!(window.ssTimeline && window.ssTimeline.loads)"
# the parts of a task this report names (trace event names of Chromium 120-ish)
PARTS = {
    "v8.callFunction": "js",
    "EvaluateScript": "script run",
    "UpdateLayoutTree": "style",
    "Layout": "layout",
    "Commit": "commit",
    "GLES2::ReadPixels": "readPixels",
    "CommandBufferProxyImpl::WaitForGetOffset": "wait for GPU process",
}


def _driver() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="socketscope-trace-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--no-first-run", "--enable-unsafe-swiftshader",
        "--disable-extensions", f"--user-data-dir={profile}", "--window-size=1400,1000",
    ):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.add_experimental_option("perfLoggingPrefs", {"traceCategories": CATEGORIES})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver._socketscope_profile = profile
    return driver


def _tasks(events: list[dict[str, Any]], over_ms: float = 50) -> list[dict[str, Any]]:
    """The renderer's main-thread tasks over `over_ms`, each with its parts and the GPU process's work."""
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }
    main = {k for k, v in names.items() if v == "CrRendererMain"}
    gpu = {k for k, v in names.items() if v == "CrGpuMain"}
    spans = [e for e in events if e.get("ph") == "X" and "dur" in e]
    tasks = sorted(
        (e for e in spans if (e["pid"], e["tid"]) in main and e["name"] == "ThreadControllerImpl::RunTask"),
        key=lambda e: e["ts"],
    )
    out = []
    base = tasks[0]["ts"] if tasks else 0
    for t in tasks:
        if t["dur"] < over_ms * 1000:
            continue
        a, b, where = t["ts"], t["ts"] + t["dur"], (t["pid"], t["tid"])
        parts: Counter[str] = Counter()
        for e in spans:
            key = (e["pid"], e["tid"])
            if a <= e["ts"] <= b and key == where and e["name"] in PARTS:
                parts[PARTS[e["name"]]] += e["dur"] / 1000
            elif a <= e["ts"] <= b and key in gpu and e["name"] == "CommandBufferService:PutChanged":
                parts["GPU process: WebGL commands"] += e["dur"] / 1000
        out.append(
            {
                "at_ms": round((a - base) / 1000),
                "ms": round(t["dur"] / 1000),
                "parts_ms": {k: round(v) for k, v in parts.most_common()},
            }
        )
    return out


def trace_once(url: str) -> dict[str, Any]:
    driver = _driver()
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LONGTASKS})
        driver.get(url)
        wait_for(driver, lambda d: d.execute_script(LOADED))
        time.sleep(0.5)
        long = driver.execute_script("return window.__longtasks") or []
        marks = driver.execute_script("return window.ssTimeline")
        msgs = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        events = [m["params"] for m in msgs if m["method"] == "Tracing.dataCollected"]
        return {
            "loadavg": os.getloadavg()[0],
            "longtasks_ms": [round(d) for _, d in long],
            "first_paint_ms": round(float(marks["firstPaint"])),
            "tasks": _tasks(events),
        }
    finally:
        driver.quit()
        shutil.rmtree(driver._socketscope_profile, ignore_errors=True)


def main() -> None:
    from webui import create_app

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("capture")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--json", help="append each run's report to this file")
    args = ap.parse_args()
    app = create_app(
        captures=[args.capture], folders=[], upload_dir=tempfile.mkdtemp(), config={"ANALYSIS_WAIT": 1}
    )
    s = Served(app)
    try:
        cid = s.capture_id(Path(args.capture).name)
        deadline = time.monotonic() + 1800
        with app.test_client() as c:
            while c.get(f"/api/captures/{cid}/timeline").status_code == 202 and time.monotonic() < deadline:
                time.sleep(1)
        for _ in range(max(1, min(args.runs, 10))):
            report = trace_once(f"{s.url}/c/{cid}/timeline")
            print(json.dumps(report, indent=1))
            if args.json:
                with open(args.json, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(report) + "\n")
    finally:
        s.stop()


if __name__ == "__main__":
    main()
