#!/usr/bin/env python3
"""What a probe costs against fine-tuning, per epoch on the same data and encoder.

1. The true wav2vec2-large architecture (random weights, the no-pretraining
   entry of the registry) on the CPU, over a few batches: seconds per epoch of
   CTCBrain.fit_batch for fine-tuning (the study's protocol: linear head,
   encoder trained) and for the probe (protocol probe: encoder frozen,
   weighted sum of its 25 hidden states) with its linear head and with
   MP3S's BiLSTM head, each computing the encoder's forward pass or reading
   the hidden states from the feature cache (entries loaded and checked
   inside the timed epoch; they sit in the page cache after the fill). One
   process, the probes sharing one frozen encoder, the variants' epochs
   interleaved so they see the same machine load.
2. The tiny wav2vec2 end to end: recipes/es/train.py on a synthetic Spanish
   corpus (CPU tiny settings), fine-tuning vs probe without cache vs probe
   with the language cache (its first run fills the cache; another seed
   finds it filled), all under one results root (one data preparation).
   Seconds per epoch = (training wall seconds - cache fill seconds) / epochs,
   from results.json; dev decoding included. The probes
   use the linear probe head here (the study's head, so only the encoder's
   part differs: a 1024-unit BiLSTM is larger than the tiny encoder itself).

Goal: a probe at most 0.4x fine-tuning without the cache, 0.05x with it.

Usage: python bench/probe.py [--batches 2] [--seconds 4] [--train 120] [--epochs 3] [--skip-large]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.encoder import CTCTextEncoder

from crossling_asr.data.synthetic import synthesize_corpus
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.hparams import language_file, load_recipe_hparams, read_language_data
from crossling_asr.model.layer_weights import LayerWeights
from crossling_asr.model.tiny_encoders import make_tiny_encoder
from crossling_asr.training.brain import CTCBrain, RunState
from crossling_asr.training.feature_cache import FeatureCache
from crossling_asr.training.quick_run import recipe_command

TEXT = "hola que tal"
# (label, protocol, probe head, feature cache) of the wav2vec2-large variants
LARGE_VARIANTS = (
    ("fine-tuning", "study", None, False),
    ("probe, linear head", "probe", "linear", False),
    ("probe, linear head, cache", "probe", "linear", True),
    ("probe, BiLSTM head", "probe", "bilstm", False),
    ("probe, BiLSTM head, cache", "probe", "bilstm", True),
)


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
            items.append(
                {
                    "id": f"b{b}u{i}",
                    "sig": torch.randn(int(16000 * seconds * (1 - 0.1 * i)), generator=generator),
                    "tokens": tok.encode_sequence_torch(list(TEXT[: 6 + i])),
                    "wrd": TEXT[: 6 + i],
                }
            )
        batches.append(items)
    return batches


def large_brain(protocol, probe_head, tmp, tok, encoder=None):
    """A CTCBrain on wav2vec2-large for a protocol; probes may share one frozen encoder."""
    cli = f"data_folder: {tmp}\nresults_root: {tmp}\nencoder: no-pretraining\nprotocol: {protocol}"
    if probe_head:
        cli += f"\nprobe_head: {probe_head}"
    if encoder is not None:  # do not build a second copy: the hparams' encoder is replaced
        cli += "\nencoder_module: null"
    hparams, _, _ = load_recipe_hparams(language_file("es"), cli)
    encoder = encoder or hparams["encoder_module"]
    modules = {"encoder": encoder, "head": hparams["ctc_head"](input_size=encoder.output_size, n_tokens=len(tok))}
    if hparams["layer_aggregation"] == "weighted":
        modules["layer_weights"] = LayerWeights(encoder.num_hidden_states)
    brain = CTCBrain(
        modules=modules,
        hparams=hparams,
        run_opts={"device": "cpu", "noprogressbar": True},
        checkpointer=None,
        tokenizer=tok,
        run_state=RunState(),
    )
    brain.init_optimizers()
    brain.total_optimizer_steps = 10**6
    brain.modules.train()
    return brain


def fill_cache(encoder, batches, folder):
    """The hidden states of every utterance in a FeatureCache; returns (cache, seconds)."""
    cache = FeatureCache(folder, {"num_hidden_states": encoder.num_hidden_states, "hidden_size": encoder.output_size})
    started = time.perf_counter()
    for items in batches:
        batch = PaddedBatch(items)
        with torch.no_grad():
            states = encoder.hidden_states(*batch.sig)
        frames = encoder.frame_counts(torch.tensor([len(item["sig"]) for item in items])).tolist()
        for k, item in enumerate(items):
            cache.write(item["id"], states[:, k, : frames[k]].transpose(0, 1), len(item["sig"]))
    return cache, time.perf_counter() - started


def run_epoch(brain, batches):
    """Seconds of one epoch of fit_batch, batches read from the cache when the brain has one."""
    started = time.perf_counter()
    for items in batches:
        if brain.feature_cache is not None:
            items = [
                {"id": i["id"], "feats": brain.feature_cache.load(i["id"]), "tokens": i["tokens"], "wrd": i["wrd"]}
                for i in items
            ]
        brain.step += 1
        brain.fit_batch(PaddedBatch(items))
    return time.perf_counter() - started


def large(n_batches, seconds, epochs):
    """Every variant in one process, epochs interleaved, so all see the same machine load."""
    tok = tokenizer()
    batches = utterances(n_batches, seconds, tok)
    with tempfile.TemporaryDirectory() as tmp:
        brains, frozen, cache, fill_seconds = {}, None, None, None
        for label, protocol, head, cached in LARGE_VARIANTS:
            brain = large_brain(protocol, head, tmp, tok, frozen)
            if protocol == "probe":
                frozen = brain.encoder_module
                if cached and cache is None:
                    cache, fill_seconds = fill_cache(frozen, batches, Path(tmp) / "cache")
                brain.feature_cache = cache if cached else None
            brain.step = 0
            run_epoch(brain, batches[:1])  # warm-up, not timed
            brains[label] = brain
        times = {label: [] for label in brains}
        for _ in range(epochs):
            for label, brain in brains.items():
                times[label].append(run_epoch(brain, batches))
    base = statistics.median(times["fine-tuning"])
    print(
        f"\nwav2vec2-large (random weights), CPU, epoch of {n_batches} batches of 2 x {seconds:g} s, "
        f"median of {epochs} interleaved epochs (cache fill, once: {fill_seconds:.1f} s):"
    )
    for label, values in times.items():
        median = statistics.median(values)
        print(f"  {label:27s} {median:7.2f} s/epoch (x{median / base:.3f})")


def end_to_end(out, n_train, epochs):
    data = read_language_data("es")
    corpus = out / "data" / "es"
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
    encoder = out / "tiny" / "wav2vec2"
    if not (encoder / "config.json").is_file():
        make_tiny_encoder("wav2vec2", encoder)
    probe = ["--protocol=probe", "--probe_head=linear"]
    # One results root, so one preparation and one language cache. The runs differ in protocol
    # or seed, hence in output folder: the cached probes are seeds 2 (fills it) and 3 (finds it filled).
    runs = [
        ("fine-tuning", 1, []),
        ("probe without cache", 1, probe),
        ("probe with cache, first seed (fills it)", 2, probe + ["--probe_feature_cache=language"]),
        ("probe with cache, second seed", 3, probe + ["--probe_feature_cache=language"]),
    ]
    root = out / "runs"
    shutil.rmtree(root, ignore_errors=True)
    rows = []
    for label, seed, extra in runs:
        cmd = recipe_command("es", corpus, encoder, root, epochs, extra + [f"--seed={seed}"])
        subprocess.run(cmd, cwd=ROOT / "recipes" / "es", capture_output=True, text=True, check=True)
        run_folder = "*.probe*" if extra else "xlsr-53~*"
        (path,) = root.glob(f"es/{run_folder}/seed_{seed}/results.json")
        results = json.loads(path.read_text())
        fill = (results["cost"]["feature_cache"] or {}).get("fill_seconds", 0.0)
        rows.append(
            (label, (results["training"]["wall_seconds"] - fill) / epochs, fill, results["metrics"]["test"]["CER"])
        )
    base = rows[0][1]
    print(
        f"\ntiny wav2vec2 end to end, {n_train} training utterances, {epochs} epochs, CPU "
        f"(seconds per epoch without the cache fill; dev decoding included):"
    )
    for label, per_epoch, fill, cer in rows:
        print(
            f"  {label:40s} {per_epoch:6.2f} s/epoch (x{per_epoch / base:.3f})"
            + (f", cache fill {fill:.1f} s once" if fill else "")
            + f", test CER {cer:.1f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=2, help="batches per epoch (wav2vec2-large)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per utterance (wav2vec2-large)")
    parser.add_argument("--train", type=int, default=120, help="training utterances (tiny end to end)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_probe"))
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    print(
        "NOTE: CPU figures (no GPU here). On a GPU the encoder's forward pass is far cheaper "
        "relative to reading cached states from disk; see docs/probes.md."
    )
    end_to_end(args.out, args.train, args.epochs)
    if not args.skip_large:
        large(args.batches, args.seconds, args.epochs)


if __name__ == "__main__":
    main()
