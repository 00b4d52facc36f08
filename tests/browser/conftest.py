"""Real-browser fixtures: a headless Chromium driven by Selenium, and the web UI served on
127.0.0.1 from a thread (a free port, stopped at the end of the session).

Selenium Manager never runs: the driver and the browser are the Debian packages
(/usr/bin/chromedriver, /usr/bin/chromium), which the README's test command installs.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
PAGE_TIMEOUT = 30


def make_driver(width: int = 1400, height: int = 1000) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are not installed; the README's test command installs them")
    profile = tempfile.mkdtemp(prefix="socketscope-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        "--no-default-browser-check",
        "--enable-unsafe-swiftshader",  # WebGL on the CPU (the timeline: scattergl)
        "--disable-extensions",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_script_timeout(PAGE_TIMEOUT)
    driver._socketscope_profile = profile
    return driver


def quit_driver(driver: Any) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver._socketscope_profile, ignore_errors=True)


class Served:
    """The app on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.app = app
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def capture_id(self, name: str) -> str:
        with self.app.test_client() as c:
            for item in c.get("/api/captures").get_json()["items"]:
                if item["name"] == name:
                    return str(item["id"])
        raise KeyError(name)


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    d = make_driver()
    yield d
    quit_driver(d)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The bundled captures, analyzed for real."""
    from webui import create_app

    app = create_app(
        folders=[str(CAPTURES)],
        upload_dir=str(tmp_path_factory.mktemp("uploads")),
        config={"ANALYSIS_WAIT": 60},
    )
    s = Served(app)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def served_synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One capture whose analysis is the hand-written document of tests/webui/synthetic.py."""
    from tests.webui.synthetic import synthetic_doc, synthetic_frame_ts
    from webui import create_app
    from webui.index import Index

    app = create_app(
        captures=[str(CAPTURES / "sio-python-websocket-only.pcap")],
        folders=[],
        upload_dir=str(tmp_path_factory.mktemp("uploads-synthetic")),
        config={
            "ANALYSIS_WAIT": 60,
            "ANALYZE": lambda path, job: Index(synthetic_doc(), synthetic_frame_ts()),
            "TIMELINE_MAX_POINTS": 20,  # the 51 records are binned until one zooms in
        },
    )
    s = Served(app)
    yield s
    s.stop()


MANY = 120  # connections and sessions of served_many: more than a page of each list


@pytest.fixture(scope="session")
def served_many(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One capture whose analysis is tests/webui/manydoc.py's: MANY WebSocket connections with
    their upgrades, and MANY Engine.IO sessions with a heartbeat each."""
    from tests.webui.manydoc import many_doc, many_frame_ts
    from webui import create_app
    from webui.index import Index

    app = create_app(
        captures=[str(CAPTURES / "sio-python-websocket-only.pcap")],
        folders=[],
        upload_dir=str(tmp_path_factory.mktemp("uploads-many")),
        config={"ANALYSIS_WAIT": 60, "ANALYZE": lambda path, job: Index(many_doc(MANY), many_frame_ts(MANY))},
    )
    s = Served(app)
    yield s
    s.stop()


def console_errors(driver: Any) -> list[dict[str, Any]]:
    """SEVERE browser log entries (uncaught errors, CSP violations, failed loads) since the last call."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def wait_for(driver: Any, cond: Callable[[Any], Any], timeout: float = PAGE_TIMEOUT) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # pages that re-render (the live page) may replace an element between finding and reading it
    ignored = (StaleElementReferenceException,)
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(cond)


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def wait_plots(driver: Any) -> None:
    """Until every plot, the timeline and the sequence diagram have drawn (or said why not)."""
    wait_for(
        driver,
        lambda d: d.execute_script(
            "const p = document.querySelectorAll('.plot[data-figure], #timeline, #sequence');"
            "return Array.from(p).every("
            "  (x) => x.getAttribute('data-ready') === '1' || x.querySelector('.error-text'));"
        ),
    )
