#!/usr/bin/env python3
"""`crossling-grid` run from a checkout: crossling_asr.cli.grid:main."""

import sys

from crossling_asr.cli.grid import main

if __name__ == "__main__":
    sys.exit(main())
