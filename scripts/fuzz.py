"""Fuzz the whole pipeline with mutated captures: see tests/fuzz/harness.py.

nice -n 10 python scripts/fuzz.py --seconds 300 --seed 1 [--out DIR]
python scripts/fuzz.py --replay DIR_OR_FILE ...              # re-run saved findings
python scripts/fuzz.py --atheris --corpus DIR --seconds 300  # coverage-guided (pip install atheris)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.harness import main

if __name__ == "__main__":
    sys.exit(main())
