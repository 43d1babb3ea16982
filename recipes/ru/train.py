#!/usr/bin/env python3
"""Fine-tune an SSL encoder with CTC on Common Voice; the language is in the hparams file.

    python train.py hparams/<lang>.yaml --data_folder=/path/to/cv-corpus/<lang>

All logic is shared (crossling_asr.recipe, installed by `pip install -e .` at the
repository root); see README.md of this directory.
"""

from crossling_asr.recipe import main

if __name__ == "__main__":
    main()
