#!/usr/bin/env python3
"""The `study` protocol (HuggingSound 0.1.6's loop) against `tuned` on the same data and encoder.

Both protocols fine-tune the same tiny random wav2vec2 on the same synthetic Spanish corpus
with the CPU settings (--cpu_tiny=True), by the recipe users run, for each seed. The script
prints the dev CER of every epoch and the seconds per epoch of each run, the mean dev CER per
epoch of each protocol with its seed-to-seed range, and the ratio of the mean seconds per epoch
(tuned / study). The runs go one after the other, so each has the machine to itself; runs already
in the work folder are read, not run again (bench/huggingsound_parity.py shares the study runs).

Usage: python bench/protocols.py [--epochs 10] [--train 200] [--seeds 1 2 3] [--work /tmp/tiny-spanish-bench]
"""

import json
import statistics
import time

from tiny_spanish import argument_parser, bench_setup, run_all, seed_spread

PROTOCOLS = ("study", "tuned")


def main():
    parser = argument_parser(__doc__)
    args = parser.parse_args()
    corpus, encoder, results = bench_setup(args)
    started = time.time()
    runs = run_all([(p, s) for p in PROTOCOLS for s in args.seeds], corpus, encoder, results, args.epochs)
    for (protocol, seed), row in runs.items():
        print(f"{protocol} seed {seed}: {json.dumps(row)}")
    seconds = {}
    for protocol in PROTOCOLS:
        rows = [runs[protocol, seed] for seed in args.seeds]
        print(f"{protocol} dev CER per epoch, mean [min, max] over {len(rows)} seeds:")
        print("  " + "  ".join(seed_spread([row["dev_CER"] for row in rows])))
        seconds[protocol] = statistics.mean(row["seconds_per_epoch"] for row in rows)
        print(f"  {seconds[protocol]:.1f} s per epoch")
    ratio = seconds["tuned"] / seconds["study"]
    print(f"seconds per epoch tuned/study ratio {ratio:.2f}; {time.time() - started:.0f} s in all")


if __name__ == "__main__":
    main()
