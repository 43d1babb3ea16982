#!/usr/bin/env python3
"""`crossling-tune-lm` run from a checkout: crossling_asr.cli.tune_lm:main."""

import sys

from crossling_asr.cli.tune_lm import main

if __name__ == "__main__":
    sys.exit(main())
