"""Score a CTC checkpoint fine-tuned elsewhere (a released one of the study, or any other) like a run trained here.

    python local/evaluate_checkpoint.py CHECKPOINT --results-root R [--lang LANG] [--data-folder D] [options]

CHECKPOINT: a Hugging Face hub id (jonatasgrosman/exp_w2v2t_pt_wav2vec2_s250; --revision
picks a branch, tag or commit) or a local folder holding one (offline use). It must be a
transformers *ForCTC of the five families with vocab.json and preprocessor_config.json;
weights are read from safetensors, or from a pytorch_model.bin only after weights_only
loading has read it (a pickle that would run code is refused, and nothing of it runs).

The language's prepared data under R (R/prepared/<lang>/, shared with the runs trained
there) is decoded in length-sorted batches, scored like a trained run, and written to the
checkpoint's own folder: R/<lang>/<encoder>.released/seed_<seed>/ for a released checkpoint
(language, model and seed from its name; the encoder from its card's base model, else from
its name), R/<lang>/<encoder>.external~<tag>/seed_<seed>/ for others (give --lang, --seed and,
when the card names no base model, --encoder). --data-folder (the language's Common Voice
folder) prepares the data first with the recipe's own preparation when needed.

results.json (schema: crossling_asr/results.py) holds the WER/CER per split, where the
checkpoint came from (hub id and commit), which registry encoder it fine-tuned and how that
was found, and its vocabulary against the language (case, characters it cannot write,
characters outside the alphabet, whether it fits); each such finding is also a warning in
the log. A folder already evaluated is left alone unless --force.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from crossling_asr.cli import add_decode_batching_arguments

SPLIT_CHOICES = ("test", "dev")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="hub id (org/name) or local folder of a transformers CTC checkpoint")
    parser.add_argument("--results-root", type=Path, required=True, help="results root holding prepared/<lang>/")
    parser.add_argument("--lang", help="Common Voice code of the recipe to evaluate on (default: from a released name)")
    parser.add_argument("--data-folder", type=Path, help="the language's Common Voice folder, to prepare the data")
    parser.add_argument(
        "--splits",
        nargs="+",
        choices=SPLIT_CHOICES,
        default=list(SPLIT_CHOICES),
        help="splits to score (default: test dev)",
    )
    parser.add_argument("--encoder", help="registry name of the encoder it fine-tuned (default: from its card or name)")
    parser.add_argument("--seed", type=int, help="its fine-tuning seed (default: from a released name)")
    parser.add_argument("--revision", help="hub branch, tag or commit (default: main)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="forward pass precision")
    add_decode_batching_arguments(parser)
    parser.add_argument("--force", action="store_true", help="evaluate again a folder that has a results.json")
    args = parser.parse_args(argv)
    # torch, speechbrain and transformers load only now, so that --help answers at once.
    from crossling_asr.data.preparation import PREPARATION_ERRORS
    from crossling_asr.interop.evaluate_checkpoint import EvaluationError, evaluate_checkpoint
    from crossling_asr.interop.external_ctc import ExternalCheckpointError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        folder = evaluate_checkpoint(
            args.checkpoint,
            args.results_root,
            args.lang,
            args.data_folder,
            args.splits,
            args.encoder,
            args.seed,
            args.revision,
            args.device,
            args.precision,
            args.batch_seconds,
            args.batch_size,
            args.workers,
            args.force,
        )
    except (EvaluationError, ExternalCheckpointError, *PREPARATION_ERRORS) as err:
        sys.exit(f"error: {err}")
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    scores = ", ".join(
        f"{split} WER {results['metrics'][split]['WER']:.2f} CER {results['metrics'][split]['CER']:.2f}"
        for split in SPLIT_CHOICES
        if split in results["metrics"]
    )
    print(
        f"{folder}: {scores}"
        + (f" ({len(results['warnings'])} warnings: see results.json)" if results["warnings"] else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
