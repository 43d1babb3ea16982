#!/usr/bin/env python3
"""Training-step benchmark.

1. Framework overhead: seconds per step of CTCBrain.fit_batch against a
   minimal plain PyTorch loop (forward, fp32 log-softmax, CTC loss, backward,
   clipping, two AdamW steps) on the same model and the same batch, steps
   interleaved so both see the same machine load. Goal: within 5%.
2. The true wav2vec2-large architecture (random weights, the no-pretraining
   entry of the registry): step time, activations kept for the backward pass
   and peak memory on CPU with and without gradient checkpointing, each in
   its own process so peak memory is its own.
3. The optimizer step over wav2vec2-large's parameters: fused AdamW (the
   recipe's setting) against PyTorch's default (foreach) implementation,
   same gradients, steps interleaved.

Usage: python bench/train_step.py [--steps 20] [--skip-large]
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.encoder import CTCTextEncoder

from crossling_asr.hparams import language_file, load_recipe_hparams
from crossling_asr.model.encoders import build_encoder, resolve_encoder
from crossling_asr.model.heads import CTCHead
from crossling_asr.model.tiny_encoders import make_tiny_encoder
from crossling_asr.training.brain import CTCBrain, RunState

NO_REGULARISATION = {
    "mask_time_prob": 0.0,
    "layerdrop": 0.0,
    "hidden_dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "feat_proj_dropout": 0.0,
}


def make_batch(tokenizer, n=4, seconds=4.0):
    torch.manual_seed(0)
    items = []
    for i in range(n):
        text = "hola que tal"[: 6 + i]
        items.append(
            {
                "id": f"u{i}",
                "sig": torch.randn(int(16000 * seconds * (1 - 0.1 * i))),
                "tokens": tokenizer.encode_sequence_torch(list(text)),
                "wrd": text,
            }
        )
    return PaddedBatch(items)


def make_brain(encoder_dir, tmp):
    cli = f"data_folder: {tmp}\nencoder_source: {encoder_dir}\nresults_root: {tmp}\nencoder_config: {NO_REGULARISATION}"
    hparams, _, _ = load_recipe_hparams(language_file("es"), cli)
    tokenizer = CTCTextEncoder()
    tokenizer.insert_blank("<blank>", 0)
    tokenizer.update_from_iterable(sorted(set("hola que tal")), sequence_input=False)
    encoder = hparams["encoder_module"]
    head = CTCHead(encoder.output_size, len(tokenizer))
    brain = CTCBrain(
        modules={"encoder": encoder, "head": head},
        hparams=hparams,
        run_opts={"device": "cpu", "noprogressbar": True},
        checkpointer=None,
        tokenizer=tokenizer,
        run_state=RunState(),
    )
    brain.init_optimizers()
    brain.total_optimizer_steps = 10**6
    brain.modules.train()
    return brain, tokenizer


def plain_step(encoder, head, optimizers, batch):
    wavs, lens = batch.sig
    tokens, token_lens = batch.tokens
    log_probs = head(encoder(wavs, lens)).float().log_softmax(-1)
    loss = torch.nn.functional.ctc_loss(
        log_probs.transpose(0, 1),
        tokens,
        (lens * log_probs.shape[1]).round().int(),
        (token_lens * tokens.shape[1]).round().int(),
        blank=0,
        reduction="sum",
        zero_infinity=True,
    )
    loss.backward()
    for opt in optimizers:
        torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return loss


def overhead(steps):
    with tempfile.TemporaryDirectory() as tmp:
        encoder_dir = make_tiny_encoder("wav2vec2", Path(tmp) / "enc")
        brain, tokenizer = make_brain(encoder_dir, tmp)
        batch = make_batch(tokenizer)
        modules = brain.modules
        optimizers = list(brain.optimizers_dict.values())
        brain_times, plain_times = [], []
        for step in range(steps + 2):
            start = time.perf_counter()
            brain.step = step
            brain.fit_batch(batch)
            brain_t = time.perf_counter() - start
            start = time.perf_counter()
            plain_step(modules.encoder, modules.head, optimizers, batch)
            plain_t = time.perf_counter() - start
            if step >= 2:  # warm-up steps left out
                brain_times.append(brain_t)
                plain_times.append(plain_t)
    b, p = statistics.median(brain_times), statistics.median(plain_times)
    print(
        f"CTCBrain.fit_batch {b * 1000:.1f} ms/step, plain PyTorch {p * 1000:.1f} ms/step: "
        f"ratio {b / p:.3f} (median of {steps} interleaved steps)"
    )


def large_step(checkpointing, steps=2):
    """Child process: time steps of wav2vec2-large and report peak memory as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        encoder = build_encoder(
            resolve_encoder("no-pretraining"),
            tmp,
            config_overrides=NO_REGULARISATION,
            gradient_checkpointing=checkpointing,
        )
    head = CTCHead(encoder.output_size, 32)
    opt = torch.optim.AdamW(list(encoder.parameters()) + list(head.parameters()), lr=1e-5)
    wavs, lens = torch.randn(2, 16000 * 4), torch.tensor([1.0, 0.8])
    times, saved = [], []
    for _ in range(steps):
        start = time.perf_counter()
        saved.clear()
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.nbytes) or t, lambda t: t):
            loss = head(encoder(wavs, lens)).float().log_softmax(-1).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(
        json.dumps(
            {
                "checkpointing": checkpointing,
                "step_s": min(times),
                "peak_gb": peak_gb,
                "activations_gb": sum(saved) / 1e9,
            }
        )
    )


def optimizer_steps(steps=5):
    """Fused vs default AdamW over wav2vec2-large's parameters, same gradients."""
    with tempfile.TemporaryDirectory() as tmp:
        params = [p for p in build_encoder(resolve_encoder("no-pretraining"), tmp).parameters() if p.requires_grad]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    optimizers = {
        name: torch.optim.AdamW(params, lr=1e-5, fused=fused) for name, fused in (("default", None), ("fused", True))
    }
    times = {name: [] for name in optimizers}
    for step in range(steps + 1):
        for name, opt in optimizers.items():
            start = time.perf_counter()
            opt.step()
            if step:  # the first step allocates the state
                times[name].append(time.perf_counter() - start)
    default, fused = (statistics.median(times[n]) for n in ("default", "fused"))
    print(
        f"AdamW over {sum(p.numel() for p in params) / 1e6:.0f}M parameters: default {default * 1000:.0f} ms, "
        f"fused {fused * 1000:.0f} ms: fused x{default / fused:.2f} faster (median of {steps})"
    )


def large():
    optimizer_steps()
    rows = []
    for checkpointing in (False, True):
        out = subprocess.run(
            [sys.executable, __file__, "--large-child", str(int(checkpointing))],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    for row in rows:
        print(
            f"wav2vec2-large, 2 x 4 s, CPU, gradient checkpointing {'on ' if row['checkpointing'] else 'off'}: "
            f"{row['step_s']:.1f} s/step, activations kept for backward {row['activations_gb']:.2f} GB, "
            f"peak RSS {row['peak_gb']:.2f} GB"
        )
    off, on = rows
    print(
        f"checkpointing: step time x{on['step_s'] / off['step_s']:.2f}, activations "
        f"x{on['activations_gb'] / off['activations_gb']:.2f}, peak memory x{on['peak_gb'] / off['peak_gb']:.2f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--large-child", type=int, choices=(0, 1), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.large_child is not None:
        large_step(bool(args.large_child))
        return
    overhead(args.steps)
    if not args.skip_large:
        large()


if __name__ == "__main__":
    main()
