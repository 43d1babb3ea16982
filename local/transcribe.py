#!/usr/bin/env python3
"""`crossling-transcribe` run from a checkout: crossling_asr.cli.transcribe:main."""

import sys

from crossling_asr.cli.transcribe import main

if __name__ == "__main__":
    sys.exit(main())
