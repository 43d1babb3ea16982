#!/usr/bin/env python3
"""Does SpeechBrain's `--compile` (torch.compile) pay off for this recipe?

Trains the same tiny wav2vec2 on the same synthetic Spanish corpus three
times, each a fresh run of recipes/es/train.py in its own process: eager
(the baseline), `--compile`, and `--compile --compile_using_dynamic_shape_tracing`.
Each variant gets a fresh TorchInductor cache. Prints for each: whether it finished, training
seconds (from results.json) as a ratio to eager, and whether the test loss matches eager's. Dynamic
batches have a new shape almost every step, which is what decides the
outcome for compile.

Usage: python bench/torch_compile.py [--epochs 3] [--train 200] [--out /tmp/bench_compile]
"""

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from crossling_asr.data.synthetic import synthesize_corpus
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.hparams import read_language_data
from crossling_asr.model.tiny_encoders import make_tiny_encoder
from crossling_asr.training.quick_run import recipe_command

VARIANTS = {
    "eager": [],
    "compile": ["--compile"],
    "compile, dynamic shapes": ["--compile", "--compile_using_dynamic_shape_tracing"],
}


def last_error(stderr):
    """The last line naming an error (SpeechBrain writes the traceback to log.txt)."""
    lines = [line for line in stderr.splitlines() if "Error" in line]
    return (lines[-1] if lines else stderr.strip().splitlines()[-1])[:200]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train", type=int, default=200, help="training utterances")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_compile"))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per variant")
    args = parser.parse_args()

    data = read_language_data("es")
    corpus = args.out / "data" / "es"
    synthesize_corpus(
        corpus,
        "es",
        data["synthetic"]["voice"],
        data["synthetic"]["words"],
        n_train=args.train,
        n_dev=20,
        n_test=20,
        n_speakers=8,
        seed=0,
    )
    encoder = args.out / "tiny" / "wav2vec2"
    if not (encoder / "config.json").is_file():
        make_tiny_encoder("wav2vec2", encoder)

    rows, eager = [], None
    for name, extra in VARIANTS.items():
        root = args.out / "runs" / name.replace(",", "").replace(" ", "_")
        shutil.rmtree(root, ignore_errors=True)
        cmd = recipe_command("es", corpus, encoder, root, args.epochs, extra)
        started = time.time()
        try:
            # A fresh compile cache per variant: what a run on a new machine or node pays.
            env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(root / "inductor_cache")}
            proc = subprocess.run(
                cmd, cwd=ROOT / "recipes" / "es", capture_output=True, text=True, timeout=args.timeout, env=env
            )
            logs = "".join(f.read_text(errors="replace") for f in root.glob("es/*/seed_*/log.txt"))
            failure = None if proc.returncode == 0 else last_error(proc.stderr + logs)
        except subprocess.TimeoutExpired:
            failure = f"over {args.timeout:.0f} s"
        wall = time.time() - started
        if failure:
            rows.append((name, f"failed: {failure}", f"{wall:.0f} s wall", "", ""))
            continue
        results = json.loads(next(root.glob("es/*/seed_*/results.json")).read_text())
        seconds, loss = results["training"]["wall_seconds"], results["metrics"]["test"]["loss"]
        eager = eager or (seconds, loss)
        recompiles = proc.stderr.count("recompile_limit")
        rows.append(
            (
                name,
                "finished",
                f"{seconds:.1f} s",
                f"x{seconds / eager[0]:.2f}",
                f"{loss:.4f} ({abs(loss - eager[1]) / eager[1]:.1e} from eager)"
                + (f"; recompile limit hit {recompiles}x" if recompiles else ""),
            )
        )
    print(f"\n{args.train} utterances, {args.epochs} epochs, tiny wav2vec2, CPU")
    print("| variant | outcome | training time | vs eager | test loss |\n|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
