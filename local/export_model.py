#!/usr/bin/env python3
"""`crossling-export-model` run from a checkout: crossling_asr.cli.export_model:main."""

import sys

from crossling_asr.cli.export_model import main

if __name__ == "__main__":
    sys.exit(main())
