#!/usr/bin/env python3
"""`crossling-demo` run from a checkout: crossling_asr.cli.demo:main."""

import sys

from crossling_asr.cli.demo import main

if __name__ == "__main__":
    sys.exit(main())
