#!/usr/bin/env python3
"""Cost of LM weight tuning: the exhaustive grid vs N-best rescoring, both at the full beam.

    python bench/lm_tuning.py <model> --lm LM.arpa [--manifest dev.csv] [--beam-size 100] [--decodes 3]

<model> is a run's output folder or an exported folder; the dev set is the
run's dev manifest unless --manifest is given. On posteriors computed once,
it times crossling_asr.decoding.lm_tuning.tune_lm_weights over tune_lm.py's default grid
twice, with the same SpeechBrain decoder at --beam-size:

  exhaustive   every (alpha, beta) decoded (tune_lm.py --search exhaustive)
  rescore      N-best rescoring, --decodes pairs decoded (tune_lm.py's default)

and prints both wall times, their ratio, each choice, its dev WER at
--beam-size and where the rescoring choice ranks in the exhaustive grid.
Example on the demo:
    python local/demo.py
    python local/build_lm.py demo/results/es/<run>/seed_1
    python bench/lm_tuning.py demo/results/es/<run>/seed_1 --lm demo/results/es/<run>/seed_1/lm/3gram.arpa
"""

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from crossling_asr.atomic import write_json
from crossling_asr.cli.tune_lm import dev_posteriors, floats
from crossling_asr.decoding.beam_search import LM_DEFAULTS
from crossling_asr.decoding.lm_tuning import RESCORING_DECODES, TUNING_ALPHAS, TUNING_BETAS, tune_lm_weights
from crossling_asr.model.trained_model import TrainedModel, load_finished_run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--lm", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, help="dev manifest CSV (default: the run's dev.csv)")
    parser.add_argument("--alphas", type=floats, default=TUNING_ALPHAS)
    parser.add_argument("--betas", type=floats, default=TUNING_BETAS)
    parser.add_argument("--beam-size", type=int, default=LM_DEFAULTS["beam_size"])
    parser.add_argument("--decodes", type=int, default=RESCORING_DECODES)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    model = TrainedModel.load(args.model, "cpu")
    manifest = args.manifest or load_finished_run(args.model).manifest("dev")
    utterances, _ = dev_posteriors(model, manifest)
    audio_seconds = sum(frames for _, frames, _ in utterances) * 0.02  # wav2vec2 family: 20 ms frames
    runs = {}
    for search in ("exhaustive", "rescore"):
        start = time.perf_counter()
        result = tune_lm_weights(
            utterances,
            model.tokenizer,
            args.lm,
            args.alphas,
            args.betas,
            args.beam_size,
            search=search,
            decodes=args.decodes,
        )
        runs[search] = {"seconds": time.perf_counter() - start, "best": result["best"], "decoded": result["decoded"]}
    full_beam = {(g["alpha"], g["beta"]): g["WER"] for g in runs["exhaustive"]["decoded"]}
    chosen = runs["rescore"]["best"]
    # Pairs of the exhaustive grid strictly better than the rescoring choice.
    better = sum(1 for wer in full_beam.values() if wer < full_beam[chosen["alpha"], chosen["beta"]])
    print(
        f"{len(utterances)} dev utterances ({audio_seconds:.0f} s of audio), grid "
        f"{len(args.alphas)} x {len(args.betas)}, beam {args.beam_size}; CPU, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name, run in runs.items():
        best = run["best"]
        print(
            f"  {name:<11} {run['seconds']:8.1f} s  {len(run['decoded']):3d} decodes   alpha {best['alpha']} "
            f"beta {best['beta']}  dev WER {best['WER']:.2f} (beam {args.beam_size})"
        )
    print(
        "  rescoring decoded: "
        + ", ".join(f"({g['alpha']}, {g['beta']}) {g['WER']:.2f}" for g in runs["rescore"]["decoded"])
    )
    ratio = runs["exhaustive"]["seconds"] / runs["rescore"]["seconds"]
    print(
        f"speed-up (exhaustive / rescoring): x{ratio:.1f}; grid pairs better than the rescoring choice "
        f"at beam {args.beam_size}: {better}"
    )
    if args.json is not None:
        write_json(
            args.json,
            {
                "runs": runs,
                "ratio": ratio,
                "pairs_better_than_rescoring_choice": better,
                "n_utterances": len(utterances),
                "audio_seconds": audio_seconds,
                "beam_size": args.beam_size,
                "decodes": args.decodes,
            },
        )


if __name__ == "__main__":
    main()
