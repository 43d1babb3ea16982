#!/usr/bin/env python3
"""Throughput of transcription: batched + length-sorted vs one file at a time, beam+LM vs greedy.

    python bench/transcribe_throughput.py <model> INPUT [INPUT ...] [--lm LM.arpa] [--device cuda]

<model> is a run's output folder or an exported folder; INPUT as for
local/transcribe.py (files, folders, manifest CSVs). In one process, with the
model loaded once and a warm-up batch first, it measures audio seconds
transcribed per wall-clock second:

  one-at-a-time   every file read, encoded and decoded alone (batch size 1)
  batched         length-sorted batches (--batch-seconds, --batch-size)
  batched + LM    the same batches decoded by CTC beam search with --lm

and, on posteriors computed once, the decoding time alone (greedy vs beam+LM).
Results go to stdout as a table and ratios (and --json). Example on the demo:
    python local/demo.py
    python local/build_lm.py demo/results/es/xlsr-53/seed_1
    python bench/transcribe_throughput.py demo/results/es/xlsr-53/seed_1 \\
        demo/results/prepared/es/test.csv demo/results/prepared/es/dev.csv \\
        --lm demo/results/es/xlsr-53/seed_1/lm/3gram.arpa
"""

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from crossling_asr.atomic import write_json
from crossling_asr.decoding.beam_search import LM_DEFAULTS
from crossling_asr.decoding.transcribe import OK, Decoder, collect_inputs, iter_batches, transcribe
from crossling_asr.model.trained_model import TrainedModel


def timed_transcription(model, inputs, decoder, limit=None, **batching):
    """(transcripts, wall seconds) of one transcription of `inputs` (the first `limit` files)."""
    items = collect_inputs(inputs)[:limit]
    start = time.perf_counter()
    transcripts = transcribe(model, items, decoder, progress=False, **batching)
    return transcripts, time.perf_counter() - start


def decoding_seconds(model, inputs, decoders, **batching):
    """Seconds each decoder spends on the same posteriors (acoustic model run once)."""
    batches = [
        (lp, frames) for items, lp, frames, _ in iter_batches(model, collect_inputs(inputs), **batching) if items
    ]
    seconds = {}
    for name, decoder in decoders.items():
        start = time.perf_counter()
        for log_probs, frames in batches:
            decoder(log_probs, frames)
        seconds[name] = time.perf_counter() - start
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--lm", type=Path, help="ARPA word LM: also time beam search with it")
    parser.add_argument("--beam-size", type=int, default=LM_DEFAULTS["beam_size"])
    parser.add_argument("--batch-seconds", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    model = TrainedModel.load(args.model, args.device)
    greedy = Decoder(model)
    batching = {"max_batch_seconds": args.batch_seconds, "max_batch_size": args.batch_size}
    timed_transcription(model, args.inputs, greedy, limit=4, **batching)  # warm-up (allocations, kernels)

    single, single_s = timed_transcription(model, args.inputs, greedy, max_batch_size=1)
    batched, batched_s = timed_transcription(model, args.inputs, greedy, **batching)
    audio_s = sum(t.duration for t in batched if t.status == OK)
    rows = {"one-at-a-time": single_s, "batched": batched_s}
    decoders = {"greedy": greedy}
    if args.lm is not None:
        decoders["beam+LM"] = Decoder(model, args.lm, beam_size=args.beam_size)
        _, rows["batched + LM"] = timed_transcription(model, args.inputs, decoders["beam+LM"], **batching)
    decode_s = decoding_seconds(model, args.inputs, decoders, **batching)

    figures = {
        "model": str(args.model),
        "device": str(model.device),
        "cpu_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "utterances": sum(t.status == OK for t in batched),
        "audio_seconds": round(audio_s, 1),
        "batching": batching,
        "same_transcripts_batched_vs_single": [t.hypothesis for t in single] == [t.hypothesis for t in batched],
        "wall_seconds": {k: round(v, 3) for k, v in rows.items()},
        "audio_seconds_per_second": {k: round(audio_s / v, 2) for k, v in rows.items()},
        "decoding_only_seconds": {k: round(v, 3) for k, v in decode_s.items()},
        "speedup_batched_vs_one_at_a_time": round(single_s / batched_s, 2),
    }
    if args.lm is not None:
        figures["lm_decoding"] = decoders["beam+LM"].settings
        figures["slowdown_lm_vs_greedy_end_to_end"] = round(rows["batched + LM"] / batched_s, 2)
        figures["slowdown_lm_vs_greedy_decoding_only"] = round(decode_s["beam+LM"] / max(decode_s["greedy"], 1e-9), 1)

    print(
        f"{figures['utterances']} utterances, {audio_s:.1f} s of audio, device {model.device}, "
        f"{figures['cpu_threads']} threads, load average {figures['load_average_1min']}"
    )
    print(f"{'mode':<16}{'wall s':>10}{'audio s / s':>14}")
    for name, seconds in rows.items():
        print(f"{name:<16}{seconds:>10.2f}{audio_s / seconds:>14.1f}")
    print(
        f"batched vs one-at-a-time: {figures['speedup_batched_vs_one_at_a_time']}x faster "
        f"(same transcripts: {figures['same_transcripts_batched_vs_single']})"
    )
    print("decoding only: " + ", ".join(f"{k} {v:.3f} s" for k, v in decode_s.items()))
    if args.lm is not None:
        print(
            f"beam+LM vs greedy: {figures['slowdown_lm_vs_greedy_end_to_end']}x the wall time end to end, "
            f"{figures['slowdown_lm_vs_greedy_decoding_only']}x the decoding time"
        )
    if args.json:
        write_json(args.json, figures)


if __name__ == "__main__":
    main()
