#!/usr/bin/env python3
"""Throughput of evaluating a transformers CTC checkpoint: length-sorted batches vs one utterance at a time.

    python bench/evaluation_throughput.py [--clips 48] [--large-clips 6] [--repeats 3] [--device cuda]
        [--precision bf16] [--manifest CSV] [--checkpoint FOLDER ...] [--skip-large] [--json OUT]

Audio seconds decoded per wall-clock second by the decoding of local/evaluate_checkpoint.py
(crossling_asr.interop.evaluate_checkpoint.decode_split: reading the 16 kHz clips, the checkpoint's
feature extractor, the *ForCTC forward pass, best-path decoding, the language's text
normalisation), in one process, each model loaded once and warmed up on the longest clips, for

  batched          length-sorted batches of at most --batch-seconds padded seconds and
                   --batch-size utterances (local/evaluate_checkpoint.py's defaults)
  one-at-a-time    the same decoding with batches of one utterance

with the two modes alternating over --repeats passes (medians reported) so they see the
same machine load. Models, saved as transformers checkpoints and loaded through
crossling_asr.interop.external_ctc.load_ctc_checkpoint like a released one:

  tiny wav2vec2      crossling_asr.model.tiny_encoders' architecture (~0.3 M parameters) + CTC head
  wav2vec2-large     the registry's no-pretraining architecture (wav2vec2-large LV-60, 315 M
                     parameters), random weights, on the --large-clips clips nearest the median
                     duration (as in one batch of a length-sorted real test set)
  --checkpoint F     any local checkpoint folder (a downloaded released one, say)

The clips are --clips synthetic 16 kHz WAV files (noise, durations drawn uniformly from
--min-seconds to --max-seconds, seed 0) unless --manifest names a prepared split's CSV
(R/prepared/<lang>/test.csv). Transcripts of the two modes are compared (they should be
identical: each clip is normalised over its own samples and trimmed to its own frames).
"""

import argparse
import csv
import inspect
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import transformers

from crossling_asr.atomic import write_json
from crossling_asr.data.text import TextNormalizer, language_spec_from_hparams
from crossling_asr.decoding.batches import plan_batches
from crossling_asr.decoding.transcribe import AudioItem
from crossling_asr.hparams import read_language_data
from crossling_asr.interop.evaluate_checkpoint import decode_split, evaluate_checkpoint
from crossling_asr.interop.external_ctc import CheckpointFiles, load_ctc_checkpoint
from crossling_asr.model.tiny_encoders import TINY_ARCHITECTURE
from crossling_asr.model.trained_model import default_device
from crossling_asr.registry import load_registry

SAMPLE_RATE = 16000
# A HuggingSound-style vocabulary: the CTC blank <pad>, specials, the word delimiter, letters.
TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "|", *"abcdefghijklmnopqrstuvwxyzñáéíóú'"]
LANGUAGE = "es"
# Clips (the longest) decoded in both modes before timing: a process's first forward passes
# are several times slower than later ones (measured: ~0.65 s instead of ~0.15 s for each of
# the tiny model's first four 4-8 s clips on this CPU).
WARMUP_CLIPS = 3
# The batching an evaluation uses unless told otherwise.
DEFAULTS = {
    name: inspect.signature(evaluate_checkpoint).parameters[name].default for name in ("batch_seconds", "batch_size")
}


def save_random_ctc_checkpoint(folder, architecture):
    """A Wav2Vec2ForCTC of `architecture` with random weights, saved as a hub checkpoint is."""
    architecture = {key: value for key, value in architecture.items() if key != "model_type"}
    config = transformers.Wav2Vec2Config(**architecture, vocab_size=len(TOKENS), pad_token_id=0)
    torch.manual_seed(0)
    model = transformers.Wav2Vec2ForCTC(config)
    model.save_pretrained(folder)
    vocab = folder / "vocab.json"
    vocab.write_text(
        json.dumps({token: index for index, token in enumerate(TOKENS)}, ensure_ascii=False), encoding="utf-8"
    )
    transformers.Wav2Vec2CTCTokenizer(str(vocab), pad_token="<pad>", unk_token="<unk>").save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True, return_attention_mask=True
    ).save_pretrained(folder)
    return folder


def write_manifest(path, clips):
    """A manifest CSV (ID, duration, wav, wrd) of (ID, wav path, seconds) clips."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ID", "duration", "wav", "wrd"])
        writer.writerows([clip_id, f"{seconds:.3f}", wav, ""] for clip_id, wav, seconds in clips)
    return path


def synthetic_clips(folder, count, min_seconds, max_seconds):
    """[(ID, wav path, seconds)] of `count` noise clips of random durations."""
    rng = np.random.default_rng(0)
    clips = []
    for index in range(count):
        seconds = float(rng.uniform(min_seconds, max_seconds))
        wav = folder / f"clip{index:03d}.wav"
        sf.write(wav, (0.1 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32), SAMPLE_RATE)
        clips.append((wav.stem, str(wav), seconds))
    return clips


def manifest_clips(manifest):
    """[(ID, wav path, seconds)] of a prepared split's manifest."""
    with open(manifest, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    folder = Path(manifest).parent.resolve()
    return [(row["ID"], row["wav"].replace("$data_root", str(folder)), float(row["duration"])) for row in rows]


def median_neighbours(clips, count):
    """The `count` clips next to the median duration: what length sorting puts in one batch of a
    real test set of thousands of clips (a few random clips would be mostly padding)."""
    ordered = sorted(clips, key=lambda clip: clip[2])
    start = max(0, (len(ordered) - count) // 2)
    return ordered[start : start + count]


def padded_share(clips, batch_seconds, batch_size):
    """Share of the batched mode's input that is padding (crossling_asr.decoding.transcribe's batch plan)."""
    items = [AudioItem(clip_id, wav, duration=seconds) for clip_id, wav, seconds in clips]
    padded = sum(
        len(batch) * max(items[i].duration for i in batch) for batch in plan_batches(items, batch_seconds, batch_size)
    )
    return 1 - sum(item.duration for item in items) / padded


def measure(model, manifest, warmup, normalizer, repeats, batch_seconds, batch_size):
    """{mode: [wall seconds per pass]} and whether both modes wrote the same transcripts."""
    modes = {"batched": (batch_seconds, batch_size), "one-at-a-time": (batch_seconds, 1)}
    for mode in modes.values():  # the first calls of a process, and its largest inputs, set up kernels and memory
        decode_split(model, warmup, normalizer, *mode, 0)
    seconds, transcripts = {mode: [] for mode in modes}, {}
    for repeat in range(repeats):
        order = list(modes) if repeat % 2 == 0 else list(modes)[::-1]
        for mode in order:
            started = time.perf_counter()
            rows, _ = decode_split(model, manifest, normalizer, *modes[mode], 0)
            seconds[mode].append(time.perf_counter() - started)
            transcripts[mode] = rows
    return seconds, transcripts["batched"] == transcripts["one-at-a-time"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=48, help="synthetic clips (without --manifest)")
    parser.add_argument("--min-seconds", type=float, default=1.5)
    parser.add_argument("--max-seconds", type=float, default=8.0)
    parser.add_argument("--manifest", type=Path, help="a prepared split's CSV instead of synthetic clips")
    parser.add_argument("--large-clips", type=int, default=6, help="clips decoded by wav2vec2-large")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="also a local transformers CTC checkpoint folder (repeatable)",
    )
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="passes per mode, alternating")
    parser.add_argument("--batch-seconds", type=float, default=DEFAULTS["batch_seconds"])
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    device = args.device or default_device()
    if not str(device).startswith("cuda"):
        print(
            "NOTE: CPU figures (no GPU in use); run with --device cuda on a GPU for the figures that price a GPU grid."
        )
    normalizer = TextNormalizer(language_spec_from_hparams({"language": LANGUAGE, **read_language_data(LANGUAGE)}))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = (
            manifest_clips(args.manifest)
            if args.manifest
            else synthetic_clips(tmp, args.clips, args.min_seconds, args.max_seconds)
        )
        longest = sorted(clips, key=lambda clip: clip[2])[-WARMUP_CLIPS:]
        warmup = write_manifest(tmp / "warmup.csv", longest)
        models = [("tiny wav2vec2", save_random_ctc_checkpoint(tmp / "tiny", TINY_ARCHITECTURE), clips)]
        if not args.skip_large:
            architecture = load_registry()["no-pretraining"]["architecture"]
            models.append(
                (
                    "wav2vec2-large (random)",
                    save_random_ctc_checkpoint(tmp / "large", architecture),
                    median_neighbours(clips, args.large_clips),
                )
            )
        models += [(str(folder), folder, clips) for folder in args.checkpoint]

        figures = {
            "device": str(device),
            "precision": args.precision,
            "cpu_threads": torch.get_num_threads(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "platform": platform.platform(),
            "batching": {"batch_seconds": args.batch_seconds, "batch_size": args.batch_size},
            "repeats": args.repeats,
            "models": {},
        }
        for label, folder, model_clips in models:
            model = load_ctc_checkpoint(CheckpointFiles(Path(folder).resolve(), str(folder)), device, args.precision)
            manifest = write_manifest(tmp / "clips.csv", model_clips)
            seconds, same = measure(
                model, manifest, warmup, normalizer, args.repeats, args.batch_seconds, args.batch_size
            )
            audio = sum(clip[2] for clip in model_clips)
            medians = {mode: statistics.median(values) for mode, values in seconds.items()}
            figures["models"][label] = {
                "parameters_millions": round(sum(p.numel() for p in model.model.parameters()) / 1e6, 2),
                "utterances": len(model_clips),
                "audio_seconds": round(audio, 1),
                "wall_seconds": {mode: [round(s, 3) for s in values] for mode, values in seconds.items()},
                "audio_seconds_per_second": {mode: round(audio / s, 2) for mode, s in medians.items()},
                "batched_padding_share": round(padded_share(model_clips, args.batch_seconds, args.batch_size), 3),
                "batched_vs_one_at_a_time": round(medians["one-at-a-time"] / medians["batched"], 2),
                "same_transcripts": same,
            }
            del model

    print(
        f"device {device}, {args.precision}, {figures['cpu_threads']} threads, load average "
        f"{figures['load_average_1min']}; batches of at most {args.batch_seconds:g} s and {args.batch_size} "
        f"utterances; median of {args.repeats} alternating passes"
    )
    print(
        f"{'model':<26}{'M params':>9}{'clips':>7}{'audio s':>9}{'one-at-a-time':>15}{'batched':>10}"
        f"{'padding':>9}{'ratio':>8}  same transcripts"
    )
    for label, row in figures["models"].items():
        speed = row["audio_seconds_per_second"]
        print(
            f"{label:<26}{row['parameters_millions']:>9.1f}{row['utterances']:>7}{row['audio_seconds']:>9.1f}"
            f"{speed['one-at-a-time']:>15.2f}{speed['batched']:>10.2f}{row['batched_padding_share']:>9.1%}"
            f"  x{row['batched_vs_one_at_a_time']:<6.2f}{row['same_transcripts']}"
        )
    print("(audio seconds per second; padding: share of the batched input; ratio: batched vs one-at-a-time)")
    if args.json:
        write_json(args.json, figures)


if __name__ == "__main__":
    main()
