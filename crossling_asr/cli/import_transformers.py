"""Import a transformers CTC checkpoint (e.g. a released one of the study) as a SpeechBrain EncoderASR folder.

    python local/import_transformers.py CHECKPOINT <export_dir> [--lang LANG] [--revision REV] [--overwrite]
                                        [--upload REPO_ID [--public]]

CHECKPOINT: a Hugging Face hub id (jonatasgrosman/exp_w2v2t_pt_wav2vec2_s250) or a local
folder: a transformers *ForCTC of the five families with vocab.json and
preprocessor_config.json, loaded from safetensors or, for a pytorch_model.bin, only after
weights_only loading has read it (a pickle that would run code is refused). The folder
written is what local/export_model.py writes for a run trained here: the encoder
(model.safetensors + config), ctc_head.pt, label_encoder.txt (from vocab.json), a
hyperparams.yaml naming only SpeechBrain, transformers and torch classes, model_info.json
and a model card:

    from speechbrain.inference.ASR import EncoderASR
    EncoderASR.from_hparams(source="<export_dir>", savedir="<scratch>").transcribe_file("clip.wav")

local/transcribe.py reads it too. --lang is the recipe language whose text rules go with it
(default: from a released checkpoint's name). --upload pushes it to the Hugging Face hub in one
commit (a private repo unless --public; needs `hf auth login`).
"""

import argparse
import sys

from crossling_asr.cli import add_export_destination_arguments, write_model_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="hub id (org/name) or local folder of a transformers CTC checkpoint")
    parser.add_argument("--lang", help="Common Voice code of its recipe (default: from a released name)")
    parser.add_argument("--revision", help="hub branch, tag or commit (default: main)")
    add_export_destination_arguments(parser, written="import")
    args = parser.parse_args(argv)
    # torch, speechbrain and transformers load only now, so that --help answers at once.
    import logging

    from crossling_asr.interop.external_ctc import ExternalCheckpointError
    from crossling_asr.interop.transformers_ctc import ConversionError, import_to_speechbrain

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return write_model_folder(
        args,
        lambda: import_to_speechbrain(args.checkpoint, args.export_dir, args.lang, args.revision, args.overwrite),
        (ConversionError, ExternalCheckpointError),
        "Imported to",
    )


if __name__ == "__main__":
    sys.exit(main())
