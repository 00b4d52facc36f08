"""Run `socketscope ARGS` as user nobody, for the privilege test.

The interpreter and its packages may live where nobody cannot read (pyenv under /root), so
everything socketscope will need is imported first, as root; then the process drops to
nobody/nogroup (no supplementary groups, no capabilities) and runs the command. The capture
tool it starts (tcpdump, dumpcap) is then unprivileged, as for any ordinary user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import sys

import analyzer.capture.live
import analyzer.capture.tshark
import analyzer.cli
import analyzer.cli.crosscheck
import analyzer.cli.live
import analyzer.export.text.live
import analyzer.export.text.stream
import analyzer.export.text.summary
import analyzer.export.text.websocket
import analyzer.pipeline
from analyzer import analyze_file

with contextlib.suppress(ImportError):
    import pyshark.capture.live_capture  # noqa: F401

if __name__ == "__main__":
    # one analysis imports every layer (lazy imports inside the pipeline) while the files are readable
    here = os.path.dirname(os.path.abspath(__file__))
    analyze_file(os.path.join(here, "..", "..", "captures", "sio-python-polling-upgrade.pcap"))
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
    assert os.geteuid() != 0
    _ = (
        analyzer.export.text.websocket,
        analyzer.export.text.summary,
        analyzer.cli.crosscheck,
        analyzer.capture.live,
        analyzer.capture.tshark,
        analyzer.cli.live,
        analyzer.export.text.live,
        analyzer.pipeline,
    )
    sys.exit(analyzer.cli.main(sys.argv[1:]))
