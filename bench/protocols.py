#!/usr/bin/env python3
"""The `study` protocol (HuggingSound 0.1.6's loop) against `tuned` on the same data and encoder.

Both protocols fine-tune the same tiny random wav2vec2 on the same synthetic Spanish corpus
with the CPU settings (--cpu_tiny=True), by the recipe users run. The script prints the dev
CER of every epoch and the seconds per epoch of each, and the ratio of the seconds per epoch
(tuned / study). The runs are one after the other by default (--concurrent runs them side by
side, which is quicker on a busy machine, but then each sees the other's load).

Usage: python bench/protocols.py [--epochs 8] [--train 200] [--work /tmp/protocols-bench] [--concurrent]
"""

import argparse
import json
import subprocess
import time
from pathlib import Path

from crossling_asr.data.synthetic import synthesize_corpus
from crossling_asr.hparams import REPO_ROOT, read_language_data
from crossling_asr.model.tiny_encoders import make_tiny_encoder
from crossling_asr.run_layout import output_folder
from crossling_asr.training.quick_run import recipe_command

PROTOCOLS = ("study", "tuned")


def corpus_and_encoder(work, n_train, n_eval):
    """The synthetic es corpus and the tiny wav2vec2 under `work`, made once."""
    encoder, corpus = work / "encoder", work / f"cv_{n_train}_{n_eval}" / "es"
    if not (encoder / "config.json").is_file():
        make_tiny_encoder("wav2vec2", encoder)
    if not (corpus / "train.tsv").is_file():
        data = read_language_data("es")
        synthesize_corpus(
            corpus,
            "es",
            data["synthetic"]["voice"],
            data["synthetic"]["words"],
            word_delimiter=True,
            n_train=n_train,
            n_dev=n_eval,
            n_test=n_eval,
            seed=0,
        )
    return corpus, encoder


def start(protocol, corpus, encoder, results, epochs):
    cmd = recipe_command("es", corpus, encoder, results, epochs, [f"--protocol={protocol}", "--device=cpu"])
    log = open(results.parent / f"{protocol}.log", "w", encoding="utf-8")  # noqa: SIM115 (closed by the caller)
    return subprocess.Popen(cmd, cwd=REPO_ROOT / "recipes" / "es", stdout=log, stderr=subprocess.STDOUT), log


def summary(results_root, encoder, protocol):
    folder = Path(output_folder(results_root, "es", "xlsr-53", 1, protocol, str(encoder)))
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    training = results["training"]
    return {
        "dev_CER": [round(e["CER"], 2) for e in training["dev_history"]],
        "seconds_per_epoch": training["wall_seconds"] / training["epochs"],
        "test_CER": results["metrics"]["test"]["CER"],
        "tested_epoch": (results["metrics"].get("dev_selected") or results["metrics"]["dev_best"])["epoch"],
        "skipped_nonfinite": training["skipped_nonfinite_batches"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train", type=int, default=200, help="training clips (dev and test: a tenth)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/protocols-bench"))
    parser.add_argument("--concurrent", action="store_true")
    args = parser.parse_args()
    corpus, encoder = corpus_and_encoder(args.work, args.train, max(4, args.train // 10))
    results = args.work / f"results_{args.epochs}"
    results.mkdir(parents=True, exist_ok=True)
    started = time.time()
    running = []
    for protocol in PROTOCOLS:
        running.append(start(protocol, corpus, encoder, results, args.epochs))
        if not args.concurrent:
            running[-1][0].wait()
    for proc, log in running:
        proc.wait()
        log.close()
        if proc.returncode:
            raise SystemExit(f"a run failed: see {log.name}")
    rows = {protocol: summary(results, encoder, protocol) for protocol in PROTOCOLS}
    for protocol, row in rows.items():
        print(f"{protocol}: {json.dumps(row)}")
    ratio = rows["tuned"]["seconds_per_epoch"] / rows["study"]["seconds_per_epoch"]
    print(f"seconds per epoch tuned/study ratio {ratio:.2f}; {time.time() - started:.0f} s in all")


if __name__ == "__main__":
    main()
