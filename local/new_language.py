#!/usr/bin/env python3
"""`crossling-new-language` run from a checkout: crossling_asr.cli.new_language:main."""

import sys

from crossling_asr.cli.new_language import main

if __name__ == "__main__":
    sys.exit(main())
