#!/usr/bin/env bash
# Lint what is staged, as CI will see it: a clean export of the index, ruff + mypy.
# Exits non-zero on any finding, so `scripts/precommit.sh && git commit` is safe.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$top" checkout-index -a --prefix="$tmp/"
cd "$tmp"
python3 -m ruff check -q .
python3 -m mypy
