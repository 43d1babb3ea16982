#!/usr/bin/env python3
"""Padding benchmark: share of padded audio per epoch under three batchings.

On a corpus with Common Voice-like durations (log-normal, 1-10 s):
  (a) this project: dynamic batches from equal-count duration buckets, reshuffled each epoch;
  (a') SpeechBrain's DynamicBatchSampler with its default bucket boundaries;
  (b) random batches of a fixed size (shuffling, no grouping);
  (c) the stock recipe: fixed-size batches of ascending duration (no shuffling at all).
Goal: under 5% padding for (a) while still shuffling between epochs.

Usage: python bench/padding.py [--utterances 20000]
"""

import argparse
import random

import speechbrain as sb
from speechbrain.dataio.sampler import DynamicBatchSampler

from crossling_asr.data.datasets import make_dynamic_batch_sampler


def padding_share(batches, durations):
    real = sum(durations[i] for b in batches for i in b)
    padded = sum(len(b) * max(durations[i] for i in b) for b in batches)
    return 1 - real / padded


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=20000)
    parser.add_argument("--max-batch-length", type=float, default=200.0)
    parser.add_argument("--buckets", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    rng = random.Random(0)
    durations = [min(10.0, max(1.0, rng.lognormvariate(1.4, 0.35))) for _ in range(args.utterances)]
    dataset = sb.dataio.dataset.DynamicItemDataset({f"u{i}": {"duration": d} for i, d in enumerate(durations)})

    ours = make_dynamic_batch_sampler(dataset, args.max_batch_length, args.buckets, seed=1)
    ours.set_epoch(0)
    default = DynamicBatchSampler(
        dataset,
        args.max_batch_length,
        num_buckets=args.buckets,
        length_func=lambda x: x["duration"],
        shuffle=True,
        seed=1,
    )
    order = list(range(len(durations)))
    rng.shuffle(order)
    random_batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    ascending = sorted(range(len(durations)), key=durations.__getitem__)
    sorted_batches = [ascending[i : i + args.batch_size] for i in range(0, len(ascending), args.batch_size)]

    rows = [
        ("this project (quantile buckets, shuffled)", list(ours)),
        ("SpeechBrain default buckets (shuffled)", list(default)),
        (f"random batches of {args.batch_size} (shuffled)", random_batches),
        (f"stock: ascending, batches of {args.batch_size} (never shuffled)", sorted_batches),
    ]
    print(f"{args.utterances} utterances, {sum(durations) / 3600:.1f} h")
    for name, batches in rows:
        print(f"{name:<55} padding {100 * padding_share(batches, durations):5.1f}%  ({len(batches)} batches)")


if __name__ == "__main__":
    main()
