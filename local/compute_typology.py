#!/usr/bin/env python3
"""`crossling-compute-typology` run from a checkout: crossling_asr.cli.compute_typology:main."""

import sys

from crossling_asr.cli.compute_typology import main

if __name__ == "__main__":
    sys.exit(main())
