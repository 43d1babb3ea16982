#!/usr/bin/env python3
"""Cost of LM tuning's beam search against how flat the posteriors are, with and without harder pruning.

    python bench/lm_tuning_entropy.py <model> --lm LM.arpa [--temperatures 0.5,1,2,4] [--beam-size 100]
                                      [--token-prune-min-logp -2.5] [--json OUT]

An under-trained model's posteriors are flat, and a flat frame lets every token above SpeechBrain's
token_prune_min_logp (-5.0) extend every hypothesis. Here the entropy is controlled: the run's own dev
posteriors are computed once and re-tempered, log_softmax(log_probs / T) (T > 1 flatter, T < 1
peakier). At each temperature, crossling_asr.decoding.lm_tuning.tune_lm_weights decodes one pair
(alpha 0.5, beta 1.5: SpeechBrain's defaults) at --beam-size, once with SpeechBrain's default pruning
and once with --token-prune-min-logp, and the bench prints the mean per-frame entropy (nats), the
hypotheses LM-scored per frame (a count), seconds per decode of the whole dev set and per clip, the
first-utterance estimate tune_lm.py prints, and the dev WER of each. One tuning of the default grid
costs --decodes (3) such decodes.
"""

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from crossling_asr.atomic import write_json
from crossling_asr.cli.tune_lm import dev_posteriors, floats
from crossling_asr.decoding import lm_tuning
from crossling_asr.decoding.beam_search import LM_DEFAULTS
from crossling_asr.model.trained_model import TrainedModel, load_finished_run


def tempered(utterances, temperature):
    """The utterances with log_softmax(log_probs / temperature), and the mean per-frame entropy (nats)."""
    out, entropies = [], []
    for log_probs, frames, reference in utterances:
        lp = torch.log_softmax(log_probs[:frames].float() / temperature, dim=-1)
        entropies.append(-(lp.exp() * lp).sum(-1))
        out.append((lp, frames, reference))
    return out, torch.cat(entropies).mean().item()


def counted_decode(utterances, model, lm, beam_size, pruning):
    """(seconds, hypotheses LM-scored, tune_lm_weights result) of one decode of every utterance."""
    counts = {"scored": 0}
    make = lm_tuning.make_beam_searcher

    def counting_searcher(*args, **kwargs):
        searcher = make(*args, **kwargs)
        score = searcher.get_lm_beams

        def counted(beams, *a, **k):
            counts["scored"] += len(beams)
            return score(beams, *a, **k)

        searcher.get_lm_beams = counted
        return searcher

    lm_tuning.make_beam_searcher = counting_searcher
    try:
        start = time.perf_counter()
        result = lm_tuning.tune_lm_weights(
            utterances, model.tokenizer, lm, [LM_DEFAULTS["alpha"]], [LM_DEFAULTS["beta"]], beam_size, pruning=pruning
        )
        return time.perf_counter() - start, counts["scored"], result
    finally:
        lm_tuning.make_beam_searcher = make


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--lm", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, help="dev manifest CSV (default: the run's dev.csv)")
    parser.add_argument("--temperatures", type=floats, default=[0.5, 1.0, 2.0, 4.0])
    parser.add_argument("--beam-size", type=int, default=LM_DEFAULTS["beam_size"])
    parser.add_argument("--token-prune-min-logp", type=float, default=-2.5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    model = TrainedModel.load(args.model, "cpu")
    manifest = args.manifest or load_finished_run(args.model).manifest("dev")
    utterances, _ = dev_posteriors(model, manifest)
    frames = sum(n for _, n, _ in utterances)
    print(
        f"{len(utterances)} dev utterances, {frames} frames, vocabulary {len(model.tokenizer)}, beam {args.beam_size}; "
        f"CPU, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("  T      entropy  pruning             s/decode   s/clip  estimate  scored/frame  dev WER")
    rows = []
    for temperature in args.temperatures:
        tempered_utterances, entropy = tempered(utterances, temperature)
        for name, pruning in (
            ("SpeechBrain default", None),
            (f"token {args.token_prune_min_logp:g}", {"token_prune_min_logp": args.token_prune_min_logp}),
        ):
            seconds, scored, result = counted_decode(tempered_utterances, model, args.lm, args.beam_size, pruning)
            row = {
                "temperature": temperature,
                "entropy_nats": entropy,
                "pruning": name,
                "seconds_per_decode": seconds,
                "seconds_per_clip": seconds / len(utterances),
                "estimated_seconds_per_decode": result["estimated_seconds_per_decode"],
                "scored_per_frame": scored / frames,
                "dev_WER": result["best"]["WER"],
            }
            rows.append(row)
            print(
                f"  {temperature:<5g}  {entropy:7.2f}  {name:<18} {seconds:9.1f} {row['seconds_per_clip']:8.2f} "
                f"{row['estimated_seconds_per_decode']:9.1f} {row['scored_per_frame']:13.0f} {row['dev_WER']:8.2f}",
                flush=True,
            )
    if args.json is not None:
        write_json(
            args.json, {"rows": rows, "n_utterances": len(utterances), "frames": frames, "beam_size": args.beam_size}
        )


if __name__ == "__main__":
    main()
