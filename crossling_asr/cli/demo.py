"""The built-in example: synthetic Spanish speech, a tiny encoder, CTC, scored.

1. espeak-ng speaks a small Common Voice-style Spanish corpus (demo/data/es);
2. a tiny random wav2vec2 encoder is saved locally (demo/tiny/wav2vec2);
3. recipes/es/train.py runs exactly as with real data and a real encoder,
   with the settings that suit a tiny encoder on a 2-core CPU
   (--cpu_tiny=True: hparams/cpu_tiny.yaml);
4. the test WER and CER are printed from results.json.

Usage: `python local/demo.py [--epochs N] [--out demo]`
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from crossling_asr.cli import positive_int
from crossling_asr.hparams import REPO_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="es", help="recipe language to synthesise and train (default %(default)s)")
    parser.add_argument("--epochs", type=positive_int, default=25, help="training epochs (default %(default)s)")
    parser.add_argument("--train", type=positive_int, default=200, help="training utterances (default %(default)s)")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "demo", help="where everything goes (default %(default)s)"
    )
    args = parser.parse_args(argv)
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
    cmd = recipe_command(args.lang, data_folder, encoder_dir, args.out / "results", args.epochs)
    subprocess.run(cmd, check=True, cwd=REPO_ROOT / "recipes" / args.lang)

    results_file = next((args.out / "results" / args.lang).glob("*/seed_*/results.json"))
    results = json.loads(results_file.read_text())
    test = results["metrics"]["test"]
    print(f"\nTest WER {test['WER']:.1f}%  CER {test['CER']:.1f}%  ({test['n_utterances']} utterances)")
    print(f"Everything about this run: {results_file.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
