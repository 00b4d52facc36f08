"""`python -m analyzer.cli ARGS`: the same as `socketscope ARGS`."""

import sys

from analyzer.cli.main import main

sys.exit(main())
