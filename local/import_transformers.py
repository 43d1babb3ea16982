#!/usr/bin/env python3
"""The `crossling-import-transformers` command (crossling_asr/cli/import_transformers.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.import_transformers import main

if __name__ == "__main__":
    sys.exit(main())
