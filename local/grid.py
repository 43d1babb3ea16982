#!/usr/bin/env python3
"""The `crossling-grid` command (crossling_asr/cli/grid.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.grid import main

if __name__ == "__main__":
    sys.exit(main())
