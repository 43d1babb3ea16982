"""The built-in example: synthetic Spanish speech, a tiny encoder, CTC, scored.

1. espeak-ng speaks a small Common Voice-style Spanish corpus (demo/data/es);
2. a tiny random wav2vec2 encoder is saved locally (demo/tiny/wav2vec2);
3. recipes/es/train.py runs exactly as with real data and a real encoder,
   with the settings that suit a tiny encoder on a 2-core CPU
   (--cpu_tiny=True: hparams/cpu_tiny.yaml) and the protocol named on its
   command line, which is printed;
4. what it learned is printed from results.json: the dev CER after the first
   epoch, at the epoch tested and at its best, the test WER and CER, and a few
   test references beside their hypotheses.

Usage: `python local/demo.py [--epochs N] [--out demo]`
"""

import argparse
import csv
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from crossling_asr.cli import positive_int
from crossling_asr.hparams import REPO_ROOT
from crossling_asr.results import tested_dev_scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="es", help="recipe language to synthesise and train (default %(default)s)")
    parser.add_argument("--epochs", type=positive_int, default=25, help="training epochs (default %(default)s)")
    parser.add_argument("--train", type=positive_int, default=200, help="training utterances (default %(default)s)")
    parser.add_argument(
        "--protocol",
        default=DEMO_PROTOCOL,
        help="the recipe protocol it trains with, stated on its command line (default %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "demo", help="where everything goes (default %(default)s)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    # torch, speechbrain and transformers load only now, so that --help answers at once.
    from crossling_asr.data.synthetic import synthesize_corpus
    from crossling_asr.hparams import read_language_data
    from crossling_asr.model.tiny_encoders import make_tiny_encoder
    from crossling_asr.training.quick_run import recipe_command

    data = read_language_data(args.lang)
    data_folder = args.out / "data" / args.lang
    print(f"[1/3] Synthesising a Common Voice-style corpus in {data_folder}")
    synthesize_corpus(
        data_folder,
        args.lang,
        data["synthetic"]["voice"],
        data["synthetic"]["words"],
        word_delimiter=data.get("text", {}).get("word_delimiter", True),
        n_train=args.train,
        n_dev=20,
        n_test=20,
        n_speakers=8,
        seed=0,
    )
    encoder_dir = args.out / "tiny" / "wav2vec2"
    if not (encoder_dir / "config.json").is_file():
        print(f"[2/3] Saving a tiny random wav2vec2 encoder in {encoder_dir}")
        make_tiny_encoder("wav2vec2", encoder_dir)
    print(f"[3/3] Training (recipes/{args.lang}/train.py); the log is in the output folder")
    cmd = recipe_command(
        args.lang, data_folder, encoder_dir, args.out / "results", args.epochs, [f"--protocol={args.protocol}"]
    )
    print("      " + shlex.join(str(part) for part in cmd))
    subprocess.run(cmd, check=True, cwd=REPO_ROOT / "recipes" / args.lang)

    results_file = next((args.out / "results" / args.lang).glob("*/seed_*/results.json"))
    print()
    print(run_summary(results_file))
    print(f"\nThe demo took {time.monotonic() - started:.0f} s. Everything about this run: {results_file.parent}")
    return 0


# The protocol the demo trains with, named on its command line so that its settings do not
# change unnoticed when the recipe's default protocol does.
DEMO_PROTOCOL = "study"
# Test utterances shown beside their references.
EXAMPLES_SHOWN = 5


def run_summary(results_file, n_examples=EXAMPLES_SHOWN):
    """What a finished run learned: the dev CER after its first epoch, at the epoch tested and at its
    best, the test WER and CER, and the first `n_examples` test references beside their hypotheses.
    The study protocol tests the last epoch, which need not be the best one, so both are named."""
    results = json.loads(Path(results_file).read_text(encoding="utf-8"))
    history = results["training"]["dev_history"]
    best, test = results["metrics"]["dev_best"], results["metrics"]["test"]
    tested = tested_dev_scores(results)
    best_text = "its best" if tested["epoch"] == best["epoch"] else f"best: {best['CER']:.1f}% at epoch {best['epoch']}"
    lines = [
        f"Dev CER {history[0]['CER']:.1f}% after epoch 1, {tested['CER']:.1f}% after epoch {tested['epoch']} "
        f"of {len(history)}, the one tested ({best_text})",
        f"Test WER {test['WER']:.1f}%  CER {test['CER']:.1f}%  ({test['n_utterances']} utterances)",
    ]
    with open(Path(results_file).parent / "test_hypotheses.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))[:n_examples]
    if rows:
        width = max(len(row["reference"]) for row in rows)
        lines += ["", f"  {'reference':<{width}}   hypothesis"]
        lines += [f"  {row['reference']:<{width}}   {row['hypothesis'] or '(nothing)'}" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
