#!/usr/bin/env python3
"""What choosing an encoder costs (local/choose_encoder.py) against fine-tuning every candidate.

1. Tiny encoders end to end, CPU: on one synthetic Spanish corpus, the whole choose command
   (preparation, a probe of each candidate with the linear head and, with more than one epoch,
   the language feature cache, then the answer: scoring, bootstrap, figure) against
   `local/grid.py run` fine-tuning the same candidates for the same epochs (preparation
   included), each in a results root of its own. Wall-clock seconds of each command; the
   candidates are the tiny wav2vec2, HuBERT and WavLM encoders standing in for three
   registry encoders.
2. The true wav2vec2-large architecture (random weights, built from its config: the
   registry's no-pretraining entry) on the CPU over a few batches, in one process, the
   variants' epochs interleaved (bench/probe.py's harness): seconds of one fine-tuning epoch
   against one probe epoch reading cached hidden states, plus filling the cache once. For
   N candidates trained E epochs, choosing costs N x (fill + E x cached probe epoch) and
   fine-tuning them N x E x fine-tuning epoch; the ratio does not depend on N.

Goal: choosing at most 0.25x fine-tuning every candidate, with the feature cache.

Usage: python bench/choose_encoder.py [--train 60] [--epochs 3] [--batches 2] [--seconds 4] [--skip-large]
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/probe.py: this script's own folder is on sys.path when it runs (python bench/choose_encoder.py).
from probe import fill_cache, large_brain, run_epoch, tokenizer, utterances

from crossling_asr.data.synthetic import synthesize_corpus
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.hparams import read_language_data
from crossling_asr.model.tiny_encoders import make_tiny_encoder

# registry name -> tiny family standing in for it
CANDIDATES = {"xlsr-53": "wav2vec2", "hubert-large-ll60k": "hubert", "wavlm-large": "wavlm"}


def timed(command):
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 1: the answer was written but a run failed
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - started, proc.stdout


def end_to_end(out, n_train, epochs):
    data = read_language_data("es")
    corpus = out / "data" / "es"
    if not (corpus / "test.tsv").is_file():
        synthesize_corpus(
            corpus,
            "es",
            data["synthetic"]["voice"],
            data["synthetic"]["words"],
            n_train=n_train,
            n_dev=max(4, n_train // 10),
            n_test=max(4, n_train // 10),
            seed=0,
        )
    sources = []
    for name, family in CANDIDATES.items():
        encoder = out / "tiny" / family
        if not (encoder / "config.json").is_file():
            make_tiny_encoder(family, encoder)
        sources += ["--encoder-source", f"{name}={encoder}"]
    for root in ("choose", "fine-tune"):
        shutil.rmtree(out / root, ignore_errors=True)
    common = ["--encoders", *CANDIDATES, *sources, "--cpu-tiny", "--gpus-per-run", "0"]
    choose = [sys.executable, "local/choose_encoder.py", "--lang", "es", "--data-folder", str(corpus)]
    choose += ["--results-root", str(out / "choose"), "--epochs", str(epochs), *common]
    fine_tune = [sys.executable, "local/grid.py", "run", "--results-root", str(out / "fine-tune"), "--langs", "es"]
    fine_tune += ["--seeds", "1", "--data-folder", f"es={corpus}", *common, "--", f"--number_of_epochs={epochs}"]
    seconds_ft, _ = timed(fine_tune)
    seconds_choose, answer = timed(choose)
    sentence = next((line for line in answer.splitlines() if line.startswith("**")), "").strip("*")
    print(
        f"\ntiny encoders end to end, CPU: {len(CANDIDATES)} candidates, {n_train} training utterances, "
        f"{epochs} epochs, preparation included (wall-clock seconds of each command):"
    )
    ratio = seconds_choose / seconds_ft
    print(f"  fine-tuning every candidate (local/grid.py run)   {seconds_ft:8.1f} s")
    print(f"  choose (local/choose_encoder.py)                   {seconds_choose:8.1f} s (x{ratio:.3f})")
    print(f"  its answer: {sentence}")


def large(n_batches, seconds, epochs):
    tok = tokenizer()
    batches = utterances(n_batches, seconds, tok)
    with tempfile.TemporaryDirectory() as tmp:
        fine_tuning = large_brain("study", None, tmp, tok)
        probe = large_brain("probe", "linear", tmp, tok)
        cache, fill_seconds = fill_cache(probe.encoder_module, batches, Path(tmp) / "cache")
        probe.feature_cache = cache
        brains = {"fine-tuning": fine_tuning, "probe, cached": probe}
        for brain in brains.values():
            brain.step = 0
            run_epoch(brain, batches[:1])  # warm-up, not timed
        times = {label: [] for label in brains}
        for _ in range(epochs):
            for label, brain in brains.items():
                times[label].append(run_epoch(brain, batches))
    ft, cached = (statistics.median(times[label]) for label in brains)
    choose = fill_seconds + epochs * cached
    print(
        f"\nwav2vec2-large (random weights), CPU, epoch of {n_batches} batches of 2 x {seconds:g} s, "
        f"median of {epochs} interleaved epochs:"
    )
    print(f"  fine-tuning epoch                 {ft:8.2f} s")
    print(f"  probe epoch, cached states        {cached:8.2f} s; cache fill, once per candidate: {fill_seconds:.2f} s")
    print(
        f"  per candidate over {epochs} epochs: choose {choose:.2f} s vs fine-tune {epochs * ft:.2f} s "
        f"(x{choose / (epochs * ft):.3f})"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=60, help="training utterances (tiny end to end)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batches", type=int, default=2, help="batches per epoch (wav2vec2-large)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per utterance (wav2vec2-large)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench_choose_encoder")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-tiny", action="store_true")
    args = parser.parse_args()
    print("CPU figures; on a GPU the encoder's forward pass is cheaper relative to reading cached states.")
    if not args.skip_tiny:
        end_to_end(args.out, args.train, args.epochs)
    if not args.skip_large:
        large(args.batches, args.seconds, args.epochs)


if __name__ == "__main__":
    main()
