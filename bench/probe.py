#!/usr/bin/env python3
"""What a probe costs against fine-tuning, per epoch on the same data and encoder.

1. The true wav2vec2-large architecture (random weights, the no-pretraining
   entry of the registry) on the CPU, over a few batches: seconds per epoch of
   CTCBrain.fit_batch for fine-tuning (the study's protocol: linear head,
   encoder trained), the probe (protocol probe: encoder frozen, weighted sum
   of its 25 hidden states, MP3S's BiLSTM head) computing the encoder's
   forward pass, and the probe reading the hidden states from the feature
   cache (entries loaded and checked inside the timed epoch; they sit in the
   page cache after the fill). Each variant runs in its own process (peak
   memory is its own) on the same batches.
2. The tiny wav2vec2 end to end: recipes/es/train.py on a synthetic Spanish
   corpus (CPU tiny settings), fine-tuning vs probe without cache vs probe
   with the language cache (its first run fills the cache; a second seed
   finds it filled). Seconds per epoch = (training wall seconds - cache fill
   seconds) / epochs, from results.json; dev decoding included. The probes
   use the linear probe head here (the study's head, so only the encoder's
   part differs: a 1024-unit BiLSTM is larger than the tiny encoder itself).

Goal: a probe at most 0.4x fine-tuning without the cache, 0.05x with it.

Usage: python bench/probe.py [--batches 2] [--seconds 4] [--train 120] [--epochs 3] [--skip-large]
"""

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.encoder import CTCTextEncoder

from crossling_asr.brain import CTCBrain, RunState
from crossling_asr.feature_cache import FeatureCache
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.hparams import language_file, load_recipe_hparams, read_language_data
from crossling_asr.layer_weights import LayerWeights
from crossling_asr.quick_run import recipe_command
from crossling_asr.synthetic import synthesize_corpus
from crossling_asr.tiny_encoders import make_tiny_encoder

TEXT = "hola que tal"
LARGE_VARIANTS = ("fine-tuning", "probe", "probe with cache")


def tokenizer():
    encoder = CTCTextEncoder()
    encoder.insert_blank("<blank>", 0)
    encoder.update_from_iterable(sorted(set(TEXT)), sequence_input=False)
    return encoder


def utterances(n_batches, seconds, tok):
    """n_batches x 2 utterances of about `seconds` s (random audio, fixed seed)."""
    generator = torch.Generator().manual_seed(0)
    batches = []
    for b in range(n_batches):
        items = []
        for i in range(2):
            items.append({"id": f"b{b}u{i}", "sig": torch.randn(int(16000 * seconds * (1 - 0.1 * i)), generator=generator),
                          "tokens": tok.encode_sequence_torch(list(TEXT[: 6 + i])), "wrd": TEXT[: 6 + i]})
        batches.append(items)
    return batches


def large_brain(variant, tmp, tok):
    protocol = "study" if variant == "fine-tuning" else "probe"
    cli = f"data_folder: {tmp}\nresults_root: {tmp}\nencoder: no-pretraining\nprotocol: {protocol}"
    hparams, _, _ = load_recipe_hparams(language_file("es"), cli)
    encoder = hparams["encoder_module"]
    modules = {"encoder": encoder, "head": hparams["ctc_head"](input_size=encoder.output_size, n_tokens=len(tok))}
    if hparams["layer_aggregation"] == "weighted":
        modules["layer_weights"] = LayerWeights(encoder.num_hidden_states)
    brain = CTCBrain(modules=modules, hparams=hparams, run_opts={"device": "cpu", "noprogressbar": True},
                     checkpointer=None, tokenizer=tok, run_state=RunState())
    brain.init_optimizers()
    brain.total_optimizer_steps = 10**6
    brain.modules.train()
    return brain


def large_child(variant, n_batches, seconds, epochs):
    """Child process: seconds per epoch of one variant on wav2vec2-large, as JSON."""
    tok = tokenizer()
    batches = utterances(n_batches, seconds, tok)
    with tempfile.TemporaryDirectory() as tmp:
        brain = large_brain(variant, tmp, tok)
        fill_seconds = None
        if variant == "probe with cache":
            encoder = brain.encoder_module
            cache = FeatureCache(Path(tmp) / "cache", {"num_hidden_states": encoder.num_hidden_states,
                                                       "hidden_size": encoder.output_size})
            started = time.perf_counter()
            for items in batches:
                batch = PaddedBatch(items)
                with torch.no_grad():
                    states = encoder.hidden_states(*batch.sig)
                frames = encoder.frame_counts(torch.tensor([len(item["sig"]) for item in items])).tolist()
                for k, item in enumerate(items):
                    cache.write(item["id"], states[:, k, :frames[k]].transpose(0, 1), len(item["sig"]))
            fill_seconds = time.perf_counter() - started
            brain.feature_cache = cache

        def make_batch(items):
            if brain.feature_cache is None:
                return PaddedBatch(items)
            return PaddedBatch([{"id": i["id"], "feats": brain.feature_cache.load(i["id"]), "tokens": i["tokens"],
                                 "wrd": i["wrd"]} for i in items])

        step, times = 0, []
        brain.step = step
        brain.fit_batch(make_batch(batches[0]))  # warm-up, not timed
        for _ in range(epochs):
            started = time.perf_counter()
            for items in batches:
                step += 1
                brain.step = step
                brain.fit_batch(make_batch(items))
            times.append(time.perf_counter() - started)
    print(json.dumps({"variant": variant, "epoch_s": statistics.median(times), "fill_s": fill_seconds,
                      "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))


def large(n_batches, seconds, epochs):
    rows = {}
    for variant in LARGE_VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--large-child", variant, "--batches", str(n_batches),
                              "--seconds", str(seconds), "--epochs", str(epochs)],
                             capture_output=True, text=True, check=True).stdout
        rows[variant] = json.loads(out.strip().splitlines()[-1])
    base = rows["fine-tuning"]["epoch_s"]
    print(f"\nwav2vec2-large (random weights), CPU, epoch of {n_batches} batches of 2 x {seconds:g} s, "
          f"median of {epochs} epochs:")
    for variant, row in rows.items():
        fill = f", cache fill {row['fill_s']:.1f} s once" if row["fill_s"] is not None else ""
        print(f"  {variant:17s} {row['epoch_s']:7.2f} s/epoch (x{row['epoch_s'] / base:.3f}), "
              f"peak RSS {row['peak_gb']:.2f} GB{fill}")


def end_to_end(out, n_train, epochs):
    data = read_language_data("es")
    corpus = out / "data" / "es"
    synthesize_corpus(corpus, "es", data["synthetic"]["voice"], data["synthetic"]["words"],
                      n_train=n_train, n_dev=max(4, n_train // 10), n_test=max(4, n_train // 10), seed=0)
    encoder = out / "tiny" / "wav2vec2"
    if not (encoder / "config.json").is_file():
        make_tiny_encoder("wav2vec2", encoder)
    probe = ["--protocol=probe", "--probe_head=linear"]
    # (label, results root, seed, extra options): the cached runs share a root, hence a language cache.
    runs = [
        ("fine-tuning", "study", 1, []),
        ("probe without cache", "probe", 1, probe),
        ("probe with cache, first seed (fills it)", "cached", 1, probe + ["--probe_feature_cache=language"]),
        ("probe with cache, second seed", "cached", 2, probe + ["--probe_feature_cache=language"]),
    ]
    shutil.rmtree(out / "runs", ignore_errors=True)
    rows = []
    for label, root, seed, extra in runs:
        root = out / "runs" / root
        cmd = recipe_command("es", corpus, encoder, root, epochs, extra + [f"--seed={seed}"])
        subprocess.run(cmd, cwd=ROOT / "recipes" / "es", capture_output=True, text=True, check=True)
        (path,) = root.glob(f"es/*/seed_{seed}/results.json")
        results = json.loads(path.read_text())
        fill = (results["cost"]["feature_cache"] or {}).get("fill_seconds", 0.0)
        rows.append((label, (results["training"]["wall_seconds"] - fill) / epochs, fill,
                     results["metrics"]["test"]["CER"]))
    base = rows[0][1]
    print(f"\ntiny wav2vec2 end to end, {n_train} training utterances, {epochs} epochs, CPU "
          f"(seconds per epoch without the cache fill; dev decoding included):")
    for label, per_epoch, fill, cer in rows:
        print(f"  {label:40s} {per_epoch:6.2f} s/epoch (x{per_epoch / base:.3f})"
              + (f", cache fill {fill:.1f} s once" if fill else "") + f", test CER {cer:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=2, help="batches per epoch (wav2vec2-large)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per utterance (wav2vec2-large)")
    parser.add_argument("--train", type=int, default=120, help="training utterances (tiny end to end)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_probe"))
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--large-child", choices=LARGE_VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.large_child:
        large_child(args.large_child, args.batches, args.seconds, args.epochs)
        return
    print("NOTE: CPU figures (no GPU here). On a GPU the encoder's forward pass is far cheaper "
          "relative to reading cached states from disk; see README.")
    end_to_end(args.out, args.train, args.epochs)
    if not args.skip_large:
        large(args.batches, args.seconds, args.epochs)


if __name__ == "__main__":
    main()
