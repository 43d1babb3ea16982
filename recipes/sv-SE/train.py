#!/usr/bin/env python3
"""Fine-tune an SSL encoder with CTC on Common Voice; the language is in the hparams file.

    python train.py hparams/<lang>.yaml --data_folder=/path/to/cv-corpus/<lang>

All logic is shared (crossling_asr.recipe); see README.md of this directory.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root
from crossling_asr.recipe import main  # noqa: E402

if __name__ == "__main__":
    main()
