#!/usr/bin/env python3
"""`crossling-tiny-encoders` run from a checkout: crossling_asr.cli.tiny_encoders:main."""

import sys

from crossling_asr.cli.tiny_encoders import main

if __name__ == "__main__":
    sys.exit(main())
