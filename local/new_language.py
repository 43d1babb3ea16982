#!/usr/bin/env python3
"""The `crossling-new-language` command (crossling_asr/cli/new_language.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.new_language import main

if __name__ == "__main__":
    sys.exit(main())
