#!/usr/bin/env python3
"""`crossling-import-transformers` run from a checkout: crossling_asr.cli.import_transformers:main."""

import sys

from crossling_asr.cli.import_transformers import main

if __name__ == "__main__":
    sys.exit(main())
