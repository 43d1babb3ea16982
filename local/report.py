#!/usr/bin/env python3
"""The `crossling-report` command (crossling_asr/cli/report.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
