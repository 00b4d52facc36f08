"""The command line, one module per subcommand: analyze, export, live, serve, crosscheck, bench.

`main.py` builds the parser and dispatches; `common.py` holds what every subcommand shares
(exit codes, `--decode-as`, `--quiet`, the progress bar, output files).
"""

from __future__ import annotations

from analyzer.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
