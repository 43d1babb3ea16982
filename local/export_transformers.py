#!/usr/bin/env python3
"""`crossling-export-transformers` run from a checkout: crossling_asr.cli.export_transformers:main."""

import sys

from crossling_asr.cli.export_transformers import main

if __name__ == "__main__":
    sys.exit(main())
