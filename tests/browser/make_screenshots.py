"""Take the README screenshots of the web UI with the browser tests' headless Chromium.

    python tests/browser/make_screenshots.py [--out docs/screenshots] [--capture NAME]

Serves the bundled captures on 127.0.0.1 (a free port) from this process, opens each view,
waits for its plots, and writes one PNG per view. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CAPTURES, Served, make_driver, quit_driver, wait_for  # noqa: E402

VIEWS = [
    ("captures", "/"),
    ("overview", "/c/{cid}/"),
    ("timeline", "/c/{cid}/timeline"),
    ("sequence", "/c/{cid}/sequence"),
    ("messages", "/c/{cid}/messages?layer=socketio"),
    ("detail", "/c/{cid}/messages/{rid}"),
    ("packet", "/c/{cid}/packets?frames={frame}"),
    ("pane", "/c/{cid}/pane"),
    ("connection-packets", "/c/{cid}/connections/0/packets?select={frame}&layer=payload"),
    ("follow-stream", "/c/{cid}/connections/0/stream"),
    ("latency", "/c/{cid}/latency"),
    ("anomalies", "/c/{cid}/anomalies"),
]


def _ready(driver: object) -> bool:
    return bool(
        driver.execute_script(  # type: ignore[attr-defined]
            "if (document.readyState !== 'complete') return false;"
            "const p = document.querySelectorAll('.plot[data-figure], #timeline, #sequence, #pane-list');"
            "return Array.from(p).every((x) => x.getAttribute('data-ready') === '1');"
        )
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--capture", default="sio-python-polling-upgrade.pcap")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args(argv)

    from webui import create_app

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="socketscope-shots-") as uploads:
        app = create_app(folders=[str(CAPTURES)], upload_dir=uploads, config={"ANALYSIS_WAIT": 120})
        served = Served(app)
        driver = make_driver(args.width, args.height)
        try:
            cid = served.capture_id(args.capture)
            with app.test_client() as c:
                items = c.get(
                    f"/api/captures/{cid}/messages", query_string={"layer": "socketio", "limit": 200}
                )
                events = [r for r in items.get_json()["items"] if r["type"] in ("EVENT", "BINARY_EVENT")]
            rid = events[0]["id"] if events else 0
            frame = events[0]["frame"] if events else 1
            for name, path in VIEWS:
                driver.get(served.url + path.format(cid=cid, rid=rid, frame=frame))
                wait_for(driver, _ready, timeout=60)
                if name == "pane":  # the event's side pane open, as a click leaves it
                    driver.execute_script(
                        "const r = document.querySelector(`#pane-table tr[data-row='${arguments[0]}'] td`);"
                        "if (r) r.click();",
                        rid,
                    )
                    wait_for(
                        driver,
                        lambda d: d.find_element("id", "pane-list").get_attribute("data-open"),
                        timeout=60,
                    )
                if name == "connection-packets":  # the selected packet's bytes, under the list
                    driver.execute_script("document.getElementById('selected').scrollIntoView()")
                else:
                    driver.execute_script("window.scrollTo(0, 0)")
                # the pointer away from the plots, as a person reading the page leaves it
                driver.execute_script("document.activeElement && document.activeElement.blur()")
                target = out / f"{name}.png"
                driver.save_screenshot(str(target))
                print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
        finally:
            quit_driver(driver)
            served.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
