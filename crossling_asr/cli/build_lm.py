"""Build a word n-gram LM (ARPA, interpolated Kneser-Ney) for a finished run's language.

    python local/build_lm.py <output_folder> [--order 3] [--text FILE ...] [--include-train] [--out LM.arpa]

Text is normalised with the language's rules used for the training targets.
By default it is the run's training transcripts; --text takes text files (one
sentence a line; a .csv is read as a manifest's wrd column) instead, or in
addition with --include-train. Never give dev or test text. Languages written
without spaces (ja, th, zh-CN) have no words to model and are decoded greedily.
Next: local/tune_lm.py chooses the LM weight and word bonus on dev.
"""

import argparse
import json
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_folder", type=Path, help="a finished run (holds results.json)")
    parser.add_argument("--order", type=int, default=3, help="n-gram order, 2 to 6")
    parser.add_argument("--text", type=Path, action="append", default=[], help="LM text file (repeatable)")
    parser.add_argument("--include-train", action="store_true", help="add the training transcripts to --text")
    parser.add_argument("--out", type=Path, help="ARPA file to write (default <output_folder>/lm/<order>gram.arpa)")
    args = parser.parse_args(argv)
    # torch, speechbrain and transformers load only now, so that --help answers at once.
    from crossling_asr.decoding.ngram_lm import LMTextError, build_run_lm
    from crossling_asr.model.trained_model import TrainedModelError, load_finished_run

    logging.basicConfig(level=logging.INFO, format="%(message)s")

    out = args.out or args.output_folder / "lm" / f"{args.order}gram.arpa"
    try:
        run = load_finished_run(args.output_folder)
        report = build_run_lm(run, out, args.order, args.text, args.include_train)
    except (TrainedModelError, LMTextError, FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
