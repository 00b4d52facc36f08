#!/usr/bin/env bash
# Lint what is staged, as CI will see it: a clean export of the index, ruff + mypy.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$top" checkout-index -a --prefix="$tmp/"
cd "$tmp"
python3 -m ruff check .
python3 -m ruff format --check . >/dev/null || echo "(ruff format would reformat some files)"
python3 -m mypy
