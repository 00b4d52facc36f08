#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine (system packages via apt-get,
# Python packages via pip) and runs the whole suite with the linters.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1; then
  need=()
  for pkg in tshark tcpdump chromium chromium-driver; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
# (node packages are needed only to re-record captures: captures/make_captures.py runs npm ci itself)

python3 -m ruff check .
python3 -m mypy
lint-imports  # the layer contracts of pyproject.toml ([tool.importlinter])
# pytest exits 5 when it collected no test: that is a failure here too (set -e propagates it).
python3 -m pytest -q -p no:cacheprovider "$@"
