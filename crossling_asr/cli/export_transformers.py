"""Export a finished run as a transformers CTC model that transformers' ASR pipeline loads.

    python local/export_transformers.py <output_folder> <export_dir> [--overwrite] [--upload REPO_ID [--public]]

The folder holds a *ForCTC of the run's encoder family (the fine-tuned encoder of the tested
checkpoint: the last epoch's, or the best by dev CER; and the linear CTC head as lm_head, model.safetensors), a
Wav2Vec2Processor with the run's character vocabulary (blank = pad token, space = "|") and a
feature extractor normalising as training did, and a model card with the test WER/CER:

    from transformers import pipeline
    pipeline("automatic-speech-recognition", model="<export_dir>")

Runs with another head than the study's single linear layer, or with learned layer weights,
are refused. --upload pushes the folder to the Hugging Face hub in one commit (a private repo
unless --public); needs a token (`hf auth login`). The other way round, a transformers
checkpoint to SpeechBrain, is local/import_transformers.py.
"""

import argparse
import sys
from pathlib import Path

from crossling_asr.cli import add_export_destination_arguments, write_model_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_folder", type=Path, help="a finished run (holds results.json)")
    add_export_destination_arguments(parser)
    args = parser.parse_args(argv)
    # torch, speechbrain and transformers load only now, so that --help answers at once.
    import logging

    from crossling_asr.interop.transformers_ctc import ConversionError, export_to_transformers
    from crossling_asr.model.trained_model import TrainedModelError

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return write_model_folder(
        args,
        lambda: export_to_transformers(args.output_folder, args.export_dir, args.overwrite),
        (ConversionError, TrainedModelError, FileNotFoundError),
        "Exported to",
    )


if __name__ == "__main__":
    sys.exit(main())
