#!/usr/bin/env python3
"""Cost of LM weight tuning: the exhaustive grid at the full beam vs a narrow sweep + recheck.

    python bench/lm_tuning.py <model> --lm LM.arpa [--manifest dev.csv] [--beam-size 100]

<model> is a run's output folder or an exported folder; the dev set is the
run's dev manifest unless --manifest is given. On posteriors computed once,
it times crossling_asr.lm.tune_lm_weights over tune_lm.py's default grid
twice, with the same SpeechBrain decoder:

  exhaustive      every (alpha, beta) at --beam-size (tune_lm.py's default)
  sweep+recheck   every pair at --sweep-beam-size, the best --rechecked again at
                  --beam-size (tune_lm.py --sweep-beam-size)

and prints both wall times, their ratio and the dev WER each choice gets at
--beam-size. Example on the demo:
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
from crossling_asr.lm import LM_DEFAULTS, RECHECKED_PAIRS, TUNING_ALPHAS, TUNING_BETAS, tune_lm_weights
from crossling_asr.trained_model import TrainedModel, load_finished_run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--lm", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, help="dev manifest CSV (default: the run's dev.csv)")
    parser.add_argument("--alphas", type=floats, default=TUNING_ALPHAS)
    parser.add_argument("--betas", type=floats, default=TUNING_BETAS)
    parser.add_argument("--beam-size", type=int, default=LM_DEFAULTS["beam_size"])
    parser.add_argument("--sweep-beam-size", type=int, default=8)
    parser.add_argument("--rechecked", type=int, default=RECHECKED_PAIRS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    model = TrainedModel.load(args.model, "cpu")
    manifest = args.manifest or load_finished_run(args.model).manifest("dev")
    utterances, _ = dev_posteriors(model, manifest)
    audio_seconds = sum(frames for _, frames, _ in utterances) * 0.02  # wav2vec2 family: 20 ms frames
    runs = {}
    for name, sweep in (("exhaustive", args.beam_size), ("sweep+recheck", args.sweep_beam_size)):
        start = time.perf_counter()
        result = tune_lm_weights(utterances, model.tokenizer, args.lm, args.alphas, args.betas,
                                 args.beam_size, sweep_beam_size=sweep, rechecked=args.rechecked)
        runs[name] = {"seconds": time.perf_counter() - start, "best": result["best"]}
    print(f"{len(utterances)} dev utterances ({audio_seconds:.0f} s of audio), grid "
          f"{len(args.alphas)} x {len(args.betas)}, beam {args.beam_size}; CPU, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    for name, run in runs.items():
        best = run["best"]
        print(f"  {name:<14} {run['seconds']:8.1f} s   alpha {best['alpha']} beta {best['beta']} "
              f"dev WER {best['WER']:.2f} (beam {args.beam_size})")
    ratio = runs["exhaustive"]["seconds"] / runs["sweep+recheck"]["seconds"]
    print(f"speed-up (exhaustive / sweep {args.sweep_beam_size} + {args.rechecked} rechecked): x{ratio:.1f}")
    if args.json is not None:
        write_json(args.json, {"runs": runs, "ratio": ratio, "n_utterances": len(utterances),
                               "audio_seconds": audio_seconds, "beam_size": args.beam_size,
                               "sweep_beam_size": args.sweep_beam_size, "rechecked": args.rechecked})


if __name__ == "__main__":
    main()
