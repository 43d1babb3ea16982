#!/usr/bin/env python3
"""The `crossling-compute-typology` command (crossling_asr/cli/compute_typology.py), run as a SpeechBrain-style local/ script."""
import sys

from crossling_asr.cli.compute_typology import main

if __name__ == "__main__":
    sys.exit(main())
