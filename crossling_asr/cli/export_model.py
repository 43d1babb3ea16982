"""Export a finished run as a folder SpeechBrain's EncoderASR loads, with a model card.

    python local/export_model.py <output_folder> <export_dir> [--lm LM.arpa] [--upload REPO_ID]

The export holds the checkpoint the run tested (encoder as model.safetensors,
head and vocabulary), hyperparams.yaml and README.md. With --lm it decodes
with beam search and that LM, with the weights tune_lm.py chose and the beam
size and pruning it chose them with (from <LM>.tuning.json) unless
--alpha/--beta/--beam-size/--token-prune-min-logp/--beam-prune-logp are given.
--upload pushes the folder to the Hugging Face hub in one commit (a private
repo unless --public); needs a token (`hf auth login`).
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from crossling_asr.cli import (
    add_export_destination_arguments,
    add_lm_weight_arguments,
    lm_settings_given,
    write_model_folder,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_folder", type=Path, help="a finished run (holds results.json)")
    parser.add_argument("--lm", type=Path, help="ARPA word LM to decode with (local/build_lm.py)")
    add_lm_weight_arguments(parser)
    add_export_destination_arguments(parser)
    args = parser.parse_args(argv)
    # torch, speechbrain and transformers load only now, so that --help answers at once.
    from crossling_asr.interop.encoder_asr import ExportError, export_model
    from crossling_asr.model.trained_model import TrainedModelError

    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def write():
        export_dir = export_model(args.output_folder, args.export_dir, args.lm, lm_settings_given(args), args.overwrite)
        info = json.loads((export_dir / "model_info.json").read_text(encoding="utf-8"))
        test = info["metrics"]["test"]
        print(f"Test WER {test['WER']:.2f}, CER {test['CER']:.2f}; decoding: {info['decoding']['method']}")
        return export_dir

    return write_model_folder(args, write, (ExportError, TrainedModelError, FileNotFoundError), "Exported to")


if __name__ == "__main__":
    sys.exit(main())
