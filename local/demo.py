#!/usr/bin/env python3
"""The `crossling-demo` command (crossling_asr/cli/demo.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.demo import main

if __name__ == "__main__":
    sys.exit(main())
