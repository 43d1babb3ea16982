"""Transcribe audio files, folders or manifests with a trained or exported model.

    python local/transcribe.py <model> INPUT [INPUT ...] --out transcripts.tsv [options]

<model>: a finished run's output folder (the checkpoint it tested) or a
folder written by export_model.py. INPUT: audio files (any format soundfile
reads), folders (searched recursively) or manifest CSVs (ID, wav[, wrd]).
Utterances are batched by length; each gets a status ("ok" or "error: ...",
an unreadable file does not stop the others) and a CTC confidence (see
crossling_asr/decoding/transcribe.py). References from a manifest's wrd column or
--references (a TSV of ID<TAB>transcript lines, or Common Voice's own
train/dev/test TSV, whose clip names without ".mp3" are the IDs of clips
transcribed by file or from their folder) give WER and CER.

Decoding is greedy unless --lm is given (CTC beam search with that ARPA word
LM, with the weights, beam size and pruning of <LM>.tuning.json written by
tune_lm.py unless --alpha/--beta/--beam-size/--token-prune-min-logp/--beam-prune-logp),
or the exported model was exported with an LM (--greedy overrides).
"""

import argparse
import logging
import sys
from pathlib import Path

from crossling_asr.cli import add_decode_batching_arguments, add_lm_weight_arguments, lm_settings_given


def make_decoder(model, args):
    """Greedy, the --lm beam search, or the exported model's own LM."""
    from crossling_asr.decoding.ngram_lm import require_word_delimiter
    from crossling_asr.decoding.transcribe import Decoder

    if args.greedy:
        return Decoder(model)
    if args.lm is not None:
        require_word_delimiter(model.language_spec)
        if not args.lm.is_file():
            raise FileNotFoundError(f"LM file {args.lm} not found")
        return Decoder(model, args.lm, **lm_settings_given(args))
    if model.exported_lm is not None:
        return Decoder(model, **model.exported_lm)
    return Decoder(model)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="run output folder or exported folder")
    parser.add_argument("inputs", nargs="+", help="audio files, folders or manifest CSVs")
    parser.add_argument("--out", type=Path, required=True, help="TSV of transcripts to write")
    parser.add_argument("--json", type=Path, help="also write everything as JSON here")
    parser.add_argument(
        "--references", type=Path, help="TSV of ID<TAB>reference transcript, or a Common Voice TSV (path, sentence)"
    )
    parser.add_argument("--lm", type=Path, help="ARPA word LM for beam search")
    add_lm_weight_arguments(parser)
    parser.add_argument("--greedy", action="store_true", help="greedy decoding even if the model has an LM")
    add_decode_batching_arguments(parser)
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    args = parser.parse_args(argv)
    # torch, speechbrain and transformers load only now, so that --help answers at once.
    from crossling_asr.decoding.ngram_lm import LMTextError
    from crossling_asr.decoding.transcribe import (
        REFERENCE_FORMATS,
        InputError,
        attach_references,
        collect_inputs,
        read_references,
        score,
        transcribe,
        write_json_report,
        write_tsv,
    )
    from crossling_asr.model.trained_model import TrainedModel, TrainedModelError

    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    try:
        items = collect_inputs(args.inputs)
        if args.references is not None:
            references = read_references(args.references)
            attached = attach_references(items, references)
            if references and not attached:
                raise InputError(
                    f"no input's ID is in {args.references} (its IDs are like {next(iter(references))!r}, "
                    f"the inputs' like {items[0].id!r}); references must be {REFERENCE_FORMATS}"
                )
            print(f"{attached} of {len(items)} utterances have a reference in {args.references}")
        model = TrainedModel.load(args.model, args.device)
        decoder = make_decoder(model, args)
        print("decoding: " + ", ".join(f"{key} {value}" for key, value in decoder.settings.items()))
    except (TrainedModelError, InputError, LMTextError, FileNotFoundError) as err:
        sys.exit(f"error: {err}")

    transcripts = transcribe(model, items, decoder, args.batch_seconds, args.batch_size, args.workers)
    scores = score(transcripts, model.normalizer)
    write_tsv(args.out, transcripts)
    if args.json is not None:
        write_json_report(args.json, transcripts, model, decoder, scores)
    print(f"{len(transcripts) - scores['n_failed']} transcribed, {scores['n_failed']} failed -> {args.out}")
    for t in transcripts:
        if t.status != "ok":
            print(f"  {t.path}: {t.status}")
    if scores["n_scored"]:
        print(f"WER {scores['WER']:.2f}  CER {scores['CER']:.2f}  ({scores['n_scored']} utterances with references)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
