#!/usr/bin/env python3
"""`crossling-evaluate-checkpoint` run from a checkout: crossling_asr.cli.evaluate_checkpoint:main."""

import sys

from crossling_asr.cli.evaluate_checkpoint import main

if __name__ == "__main__":
    sys.exit(main())
