#!/usr/bin/env python3
"""The `crossling-evaluate-checkpoint` command (crossling_asr/cli/evaluate_checkpoint.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.evaluate_checkpoint import main

if __name__ == "__main__":
    sys.exit(main())
