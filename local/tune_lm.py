#!/usr/bin/env python3
"""The `crossling-tune-lm` command (crossling_asr/cli/tune_lm.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.tune_lm import main

if __name__ == "__main__":
    sys.exit(main())
