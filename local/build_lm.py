#!/usr/bin/env python3
"""The `crossling-build-lm` command (crossling_asr/cli/build_lm.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.build_lm import main

if __name__ == "__main__":
    sys.exit(main())
