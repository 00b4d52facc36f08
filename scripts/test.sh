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

# SOCKETSCOPE_PURE: the editable install itself compiles nothing; the next line builds the
# compiled core in place, once (setup.py: mypyc, or pure Python with one warning line)
SOCKETSCOPE_PURE=1 python3 -m pip install -q --disable-pip-version-check -e '.[test]'
python3 setup.py -q build_ext --inplace
# CI tests the compiled build: a build that fell back to pure Python fails here
build=$(python3 -m analyzer.cli --version)
echo "$build"
case "$build" in
  *"compiled (mypyc)"*) ;;
  *) echo "scripts/test.sh: the compiled core did not build (see the warning above)" >&2; exit 1 ;;
esac
# (node packages are needed only to re-record captures: captures/make_captures.py runs npm ci itself)

python3 -m ruff check .
python3 -m mypy
lint-imports  # the layer contracts of pyproject.toml ([tool.importlinter])
# pytest exits 5 when it collected no test: that is a failure here too (set -e propagates it).
# (the whole suite runs on the compiled build, tests/fuzz/test_fuzz_smoke.py its fuzzer smoke run)
python3 -m pytest -q -p no:cacheprovider "$@"
if [ "$#" -eq 0 ]; then
  # the pure build gives the same bytes as the compiled one: the golden outputs on the .py modules
  SOCKETSCOPE_PURE=1 python3 -m analyzer.cli --version
  SOCKETSCOPE_PURE=1 python3 -m pytest -q -p no:cacheprovider tests/golden/test_outputs_unchanged.py
fi
