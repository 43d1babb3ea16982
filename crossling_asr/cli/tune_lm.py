"""Choose the LM weight (alpha) and word insertion bonus (beta) by dev WER.

    python local/tune_lm.py <model> --lm LM.arpa [--manifest dev.csv] [--alphas A1,A2,...] [--betas B1,B2,...]

<model> is a finished run's output folder or an exported folder; the dev set
is the run's dev manifest unless --manifest is given (never tune on test).
The acoustic model runs once; decoding is SpeechBrain's CTCBeamSearcher at
--beam-size, the decoder that transcribes. By default (--search rescore) it
decodes --decodes pairs (3), not every pair of the grid: first the grid's
middle one; after each decode it rescores every (alpha, beta) pair over the
hypotheses the final beams kept (N-best rescoring) and decodes next the
undecoded pair with the lowest rescored dev WER: on the default 35-pair grid
x10-13 faster than --search exhaustive, which decodes every pair, with the
same dev WER (docs/benchmarks.md). The choice is the decoded pair with the lowest
dev WER at --beam-size. A choice at the edge of the grid is warned about.
Cost: before the rest of the search it logs an estimate of the whole
tuning's time, from the timed first utterance; flat posteriors (an
under-trained model) make beam search slow, as every token above
--token-prune-min-logp extends every hypothesis at every frame. --max-seconds
caps the estimate: the rescoring search decodes fewer pairs, and tuning that
cannot fit stops with an error naming what to change (docs/lm-tuning-cost.md).
--token-prune-min-logp and --beam-prune-logp prune harder than SpeechBrain's
defaults (-5 and -10).
The tuning file records the LM's SHA-256: transcribe.py and export_model.py
use its weights only with that very LM (an LM rebuilt at the same path needs
tuning again).
The pairs decoded, the rescored grid and the best pair go to <LM>.tuning.json
with the beam size and pruning they were decoded with, where transcribe.py and
export_model.py find them: they decode with that same beam size and pruning
unless given others.
"""

import argparse
import logging
import sys
from pathlib import Path

from crossling_asr.cli import add_pruning_arguments, positive_float, positive_int
from crossling_asr.decoding.beam_search import LM_DEFAULTS
from crossling_asr.decoding.lm_tuning import RESCORING_DECODES, TUNING_ALPHAS, TUNING_BETAS, TUNING_SEARCHES


def floats(text):
    return [float(v) for v in text.split(",")]


def dev_posteriors(model, manifest):
    """(utterances, greedy hypotheses) of a manifest for tune_lm_weights: the acoustic model runs once.

    utterances: [(log_probs, frames, normalised reference)]; unreadable files are skipped with a warning.
    """
    from crossling_asr.decoding.transcribe import Decoder, InputError, iter_batches, read_manifest

    greedy_decoder = Decoder(model)
    items = read_manifest(manifest)
    if any(item.reference is None for item in items):
        raise InputError(f"{manifest} has no wrd column: tuning needs references")
    utterances, greedy = [], []
    for batch_items, log_probs, frames, failures in iter_batches(model, items):
        for item, message in failures:
            logging.warning("%s skipped: %s", item.path, message)
        if batch_items:
            greedy += greedy_decoder(log_probs, frames)
            refs = [model.normalizer(item.reference, out_of_alphabet="keep").text for item in batch_items]
            utterances += [(lp, int(n), ref) for lp, n, ref in zip(log_probs, frames, refs)]
    return utterances, greedy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="run output folder or exported folder")
    parser.add_argument("--lm", type=Path, required=True, help="ARPA word LM (local/build_lm.py)")
    parser.add_argument("--manifest", type=Path, help="dev manifest CSV (default: the run's dev.csv)")
    parser.add_argument(
        "--alphas",
        type=floats,
        default=TUNING_ALPHAS,
        help=f"comma-separated LM weights to try (default {','.join(map(str, TUNING_ALPHAS))})",
    )
    parser.add_argument(
        "--betas",
        type=floats,
        default=TUNING_BETAS,
        help=f"comma-separated word insertion bonuses to try (default {','.join(map(str, TUNING_BETAS))})",
    )
    parser.add_argument(
        "--beam-size", type=positive_int, default=LM_DEFAULTS["beam_size"], help="beam width (default %(default)s)"
    )
    parser.add_argument(
        "--search",
        choices=TUNING_SEARCHES,
        default=TUNING_SEARCHES[0],
        help="rescore: N-best rescoring, a few decodes; exhaustive: decode every pair (default %(default)s)",
    )
    parser.add_argument(
        "--decodes",
        type=int,
        default=RESCORING_DECODES,
        help="pairs the rescoring search decodes (default %(default)s)",
    )
    add_pruning_arguments(parser, tuned=False)
    parser.add_argument(
        "--max-seconds",
        type=positive_float,
        help="time allowed for decoding, by the estimate: fewer pairs decoded, or an error (default: no cap)",
    )
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    args = parser.parse_args(argv)
    if args.decodes < 1:
        parser.error("--decodes must be at least 1")
    # torch, speechbrain and transformers load only now, so that --help answers at once.
    from crossling_asr.atomic import write_json
    from crossling_asr.decoding.beam_search import lm_sha256, tuning_file
    from crossling_asr.decoding.lm_tuning import LMTuningCostError, tune_lm_weights
    from crossling_asr.decoding.ngram_lm import LMTextError, require_word_delimiter
    from crossling_asr.decoding.transcribe import InputError
    from crossling_asr.model.trained_model import TrainedModel, TrainedModelError, load_finished_run

    logging.basicConfig(level=logging.INFO, format="%(message)s")

    try:
        if not args.lm.is_file():
            raise FileNotFoundError(f"LM file {args.lm} not found")
        if args.manifest is None and not (args.model / "results.json").is_file():
            raise InputError(f"{args.model} is not a run output folder: give the dev set with --manifest")
        manifest = args.manifest or load_finished_run(args.model).manifest("dev")
        model = TrainedModel.load(args.model, args.device)
        require_word_delimiter(model.language_spec)
        utterances, greedy = dev_posteriors(model, manifest)
        result = tune_lm_weights(
            utterances,
            model.tokenizer,
            args.lm,
            args.alphas,
            args.betas,
            args.beam_size,
            greedy,
            args.search,
            args.decodes,
            pruning={"beam_prune_logp": args.beam_prune_logp, "token_prune_min_logp": args.token_prune_min_logp},
            max_seconds=args.max_seconds,
        )
    except (TrainedModelError, InputError, LMTextError, LMTuningCostError, FileNotFoundError) as err:
        sys.exit(f"error: {err}")
    result.update(lm=str(args.lm), lm_sha256=lm_sha256(args.lm), manifest=str(manifest), model=str(args.model))
    write_json(tuning_file(args.lm), result)
    best = result["best"]
    pruning = ", ".join(f"{name} {value}" for name, value in result["pruning"].items()) or "SpeechBrain's default"
    print(
        f"dev WER: greedy {result['greedy_WER']:.2f}, with LM {best['WER']:.2f} "
        f"(alpha {best['alpha']}, beta {best['beta']}, beam {result['beam_size']}, "
        f"pruning: {pruning}; "
        f"{len(result['decoded'])} of {len(args.alphas) * len(args.betas)} pairs decoded) -> {tuning_file(args.lm)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
