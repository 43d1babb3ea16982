#!/usr/bin/env python3
"""The `crossling-export` command (crossling_asr/cli/export_model.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.export_model import main

if __name__ == "__main__":
    sys.exit(main())
