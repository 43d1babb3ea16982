#!/usr/bin/env python3
"""`crossling-report` run from a checkout: crossling_asr.cli.report:main."""

import sys

from crossling_asr.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
