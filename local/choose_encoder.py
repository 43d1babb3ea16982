#!/usr/bin/env python3
"""`crossling-choose-encoder` run from a checkout: crossling_asr.cli.choose_encoder:main."""

import sys

from crossling_asr.cli.choose_encoder import main

if __name__ == "__main__":
    sys.exit(main())
