"""`--help` is enough to use each subcommand (issue #14), and it agrees with the README.

Each subcommand's help has a description, help text for every positional and option, examples
and the exit codes. Every option in the README's command lines exists in that subcommand's
`--help`, and every subcommand's options appear in the README (or in ALLOWED, kept short).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from analyzer.cli import build_parser
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# the README sections whose command lines document the CLI
SECTIONS = (
    "Using it",
    "Web UI",
    "Live capture and cross-checking with Wireshark",
    "Exporting",
    "Many captures: a Parquet dataset",
    "Performance",
)
# options that need not appear in the README (minor ones; each with its reason)
ALLOWED: dict[tuple[str, str], str] = {}


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


COMMANDS = sorted(subparsers())


def run_help(command: str) -> str:
    p = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return p.stdout


def section(title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert m, f"README has no section {title!r}"
    return m.group(1)


def readme_command_lines() -> list[tuple[str, str]]:
    """(subcommand, command line) for every `socketscope SUB ...` of the sections: lines of code
    blocks (backslash continuations joined, comments dropped) and inline code spans."""
    out: list[tuple[str, str]] = []
    for title in SECTIONS:
        text = section(title).replace("\\\n", " ")
        candidates = [line.split("  #")[0] for line in text.splitlines()]
        candidates += re.findall(r"`([^`\n]*)`", text)
        for cand in candidates:
            m = re.search(r"\bsocketscope ([a-z]+)\b(.*)", cand)
            if m and m.group(1) in COMMANDS:
                out.append((m.group(1), m.group(2)))
    return out


def options_of(line: str) -> set[str]:
    return set(re.findall(r"(?<![\w/.=-])(--?[a-zA-Z][\w-]*)", line))


def test_the_readme_shows_every_subcommand() -> None:
    assert {cmd for cmd, _ in readme_command_lines()} == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_enough_to_use_the_subcommand(command: str) -> None:
    p = subparsers()[command]
    assert p.description and len(p.description) > 60, command
    assert p.formatter_class is argparse.RawDescriptionHelpFormatter
    assert p.epilog and "examples:" in p.epilog and "exit codes" in p.epilog, command
    assert f"socketscope {command}" in p.epilog.split("exit codes")[0]  # an example
    for action in p._actions:
        assert action.help and action.help != argparse.SUPPRESS, (command, action.dest)
    text = run_help(command)
    assert "examples:" in text and "exit codes" in text and " 2 " in text.replace("  ", " ")


def test_readme_options_exist_in_help() -> None:
    helps = {cmd: run_help(cmd) for cmd in COMMANDS}
    missing = []
    for cmd, line in readme_command_lines():
        for opt in options_of(line):
            if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", helps[cmd]):
                missing.append(f"socketscope {cmd} {opt}")
    assert not missing, f"in the README but not in --help: {missing}"


def test_every_option_is_in_the_readme() -> None:
    missing = []
    for cmd, p in subparsers().items():
        for action in p._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            if any((cmd, o) in ALLOWED for o in action.option_strings):
                continue
            if not any(
                re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", README) for o in action.option_strings
            ):
                missing.append(f"socketscope {cmd} {'/'.join(action.option_strings)}")
    assert not missing, f"options missing from the README: {missing}"
