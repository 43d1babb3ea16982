#!/usr/bin/env python3
"""The `crossling-transcribe` command (crossling_asr/cli/transcribe.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.transcribe import main

if __name__ == "__main__":
    sys.exit(main())
