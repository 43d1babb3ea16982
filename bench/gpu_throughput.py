#!/usr/bin/env python3
"""GPU training throughput of wav2vec2-large: this project's settings against plain fp32.

In one run, on the same random-weight wav2vec2-large (the no-pretraining
registry entry) and Common Voice-like utterance durations:
  baseline  fp32, fixed batches of 8 utterances in random order, AdamW;
  project   bf16 autocast, duration-bucketed dynamic batches (max_batch_length
            seconds of padded audio), SDPA attention, fused AdamW;
it prints audio-hours trained per GPU-hour, model FLOPs utilisation (FLOPs of
a step counted by torch's FlopCounterMode over step time and the GPU's peak),
their ratios, and the largest batch (seconds of audio) that fits in memory
with and without gradient checkpointing.

Without a GPU (or with --device cpu) it runs a tiny configuration on CPU only
to check the script and says so: those figures are not GPU figures.

Usage: python bench/gpu_throughput.py [--steps 20] [--max-batch-length 200] [--peak-tflops 989] [--device cpu]
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from crossling_asr.data.datasets import quantile_boundaries
from crossling_asr.model.encoders import build_encoder, resolve_encoder
from crossling_asr.model.heads import CTCHead
from crossling_asr.model.tiny_encoders import make_tiny_encoder

NO_REGULARISATION = {
    "mask_time_prob": 0.0,
    "layerdrop": 0.0,
    "hidden_dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "feat_proj_dropout": 0.0,
}
VOCAB = 40


def cv_durations(n, seed=0):
    rng = random.Random(seed)
    return [min(10.0, max(1.0, rng.lognormvariate(1.4, 0.35))) for _ in range(n)]


def fixed_batches(durations, size):
    order = list(range(len(durations)))
    random.Random(1).shuffle(order)
    return [[durations[i] for i in order[k : k + size]] for k in range(0, len(order) - size + 1, size)]


def dynamic_batches(durations, max_batch_length, buckets=40):
    bounds = quantile_boundaries(durations, buckets)
    grouped = {}
    for d in durations:
        grouped.setdefault(next(b for b in bounds if d <= b), []).append(d)
    batches = []
    for bound, items in grouped.items():
        per_batch = max(1, int(max_batch_length // bound))
        batches += [items[k : k + per_batch] for k in range(0, len(items), per_batch)]
    random.Random(1).shuffle(batches)
    return batches


def build(source_dir, device, sdpa, checkpointing, tmp):
    entry = resolve_encoder("no-pretraining", source_dir)
    overrides = dict(NO_REGULARISATION)
    encoder = build_encoder(
        entry, Path(tmp) / f"{sdpa}{checkpointing}", config_overrides=overrides, gradient_checkpointing=checkpointing
    )
    if sdpa:
        encoder.model.set_attn_implementation("sdpa")
    head = CTCHead(encoder.output_size, VOCAB)
    return encoder.to(device).train(), head.to(device)


def step(encoder, head, opt, batch, device, dtype):
    lengths = torch.tensor([int(d * 16000) for d in batch])
    wavs = torch.randn(len(batch), int(lengths.max()), device=device)
    rel = (lengths / lengths.max()).to(device)
    with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype != torch.float32):
        log_probs = head(encoder(wavs, rel)).float().log_softmax(-1)
    frames = (rel * log_probs.shape[1]).round().int()
    targets = torch.randint(1, VOCAB, (len(batch), 20), device=device)
    loss = torch.nn.functional.ctc_loss(
        log_probs.transpose(0, 1), targets, frames, torch.full((len(batch),), 20, device=device), zero_infinity=True
    )
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def measure(name, encoder, head, batches, device, dtype, fused, peak_flops):
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-5, fused=fused)
    step(encoder, head, opt, batches[0], device, dtype)  # warm-up
    with FlopCounterMode(display=False) as counter:
        step(encoder, head, opt, batches[1], device, dtype)
    flops_per_audio_second = counter.get_total_flops() / sum(batches[1])
    if device.type == "cuda":
        torch.cuda.synchronize()
    start, audio = time.perf_counter(), 0.0
    for batch in batches[2:]:
        step(encoder, head, opt, batch, device, dtype)
        audio += sum(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    rate = audio / seconds
    mfu = rate * flops_per_audio_second / peak_flops
    print(f"{name:<9} {rate:8.1f} audio-h per GPU-h  MFU {100 * mfu:5.1f}%  ({len(batches) - 2} steps)")
    return rate, mfu


def largest_batch(encoder, head, device, dtype, cap_seconds):
    """Largest number of seconds (10 s utterances) a training step fits in memory."""
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-5)
    low, high = 0, int(cap_seconds // 10)
    while low < high:
        mid = (low + high + 1) // 2
        try:
            step(encoder, head, opt, [10.0] * mid, device, dtype)
            low = mid
        except torch.OutOfMemoryError:
            high = mid - 1
        opt.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
    return low * 10


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--max-batch-length", type=float, default=200.0)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100 SXM: 989)")
    parser.add_argument("--memory-cap-seconds", type=float, default=4000.0)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    cuda = args.device == "cuda"
    device = torch.device("cuda" if cuda else "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        if cuda:
            source = None  # the real wav2vec2-large architecture
            print(f"GPU: {torch.cuda.get_device_name()}")
        else:
            print(
                "NOTE: no GPU here. Running a tiny encoder on CPU only to check this script; "
                "the figures below are NOT GPU figures."
            )
            source = make_tiny_encoder("wav2vec2", Path(tmp) / "tiny")
            args.steps, args.max_batch_length = 4, 40.0
        durations = cv_durations(4000)
        peak = args.peak_tflops * 1e12
        base_model = build(source, device, sdpa=False, checkpointing=False, tmp=tmp)
        base = measure(
            "baseline",
            *base_model,
            fixed_batches(durations, 8)[: args.steps + 2],
            device,
            torch.float32,
            fused=False,
            peak_flops=peak,
        )
        del base_model
        dtype = torch.bfloat16 if (not cuda or torch.cuda.is_bf16_supported()) else torch.float16
        ours_model = build(source, device, sdpa=True, checkpointing=False, tmp=tmp)
        ours = measure(
            "project",
            *ours_model,
            dynamic_batches(durations, args.max_batch_length)[: args.steps + 2],
            device,
            dtype,
            fused=True,
            peak_flops=peak,
        )
        print(f"project / baseline: throughput x{ours[0] / base[0]:.2f}, MFU x{ours[1] / base[1]:.2f}")
        if cuda:
            for checkpointing in (False, True):
                model = build(source, device, sdpa=True, checkpointing=checkpointing, tmp=tmp)
                fits = largest_batch(*model, device, dtype, args.memory_cap_seconds)
                print(f"largest batch, gradient checkpointing {'on' if checkpointing else 'off'}: {fits} s of audio")
                del model


if __name__ == "__main__":
    main()
