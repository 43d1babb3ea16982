#!/usr/bin/env python3
"""`crossling-build-lm` run from a checkout: crossling_asr.cli.build_lm:main."""

import sys

from crossling_asr.cli.build_lm import main

if __name__ == "__main__":
    sys.exit(main())
