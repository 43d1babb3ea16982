#!/usr/bin/env python3
"""The `crossling-tiny-encoders` command (crossling_asr/cli/tiny_encoders.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.tiny_encoders import main

if __name__ == "__main__":
    sys.exit(main())
