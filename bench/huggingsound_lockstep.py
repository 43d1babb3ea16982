#!/usr/bin/env python3
"""The `study` protocol against HuggingSound 0.1.6 in lock-step: the same random draws in both.

bench/huggingsound_parity.py compares the two tools' seed-to-seed spreads. This script takes the
spread away to test the training loops themselves. Under `--cpu_tiny=True` (no masking or dropout
inside the encoder, no layerdrop) and with `final_dropout` 0, nothing in either loop draws a
random number after the start except the CTC layer's initial weights and the order of the batches.
So:

1. the project runs (recipes/es/train.py --protocol=study --cpu_tiny=True --final_dropout=0.0, in
   this process), recorded, not altered: its CTC layer's initial weights, and each training step's
   utterances and loss;
2. HuggingSound replays those draws (bench/huggingsound_finetune.py's `replay`): the same initial
   weights row by row (matched by token: the project's blank is HuggingSound's <pad>, its space
   HuggingSound's "|") and the same batches in the same order.

Identical loops then give the same loss at every step, up to float rounding (the two read the same
clips through different code: soundfile vs librosa, torch vs numpy normalisation, torch 2.11 vs
2.13, fused vs foreach AdamW), which the optimizer carries forward and which can grow over the
steps. How far rounding alone carries is measured by a control: the project run again with one CPU
thread instead of two, which sums the same products in another order and changes nothing else.

HuggingSound's vocabulary has two outputs the project's lacks, <s> and </s> (both have <unk>), and
no target uses them. The replay runs twice: with them muted (bias -1e4, so their probability and
gradient are exactly 0 and the two models compute the same function), and as HuggingSound leaves
them (its own draws), whose difference from the first is theirs alone.

It prints, per epoch, the mean training loss of each, the largest relative difference of a step's
loss from the project's, and the dev CER of each (the project's metric for both).

HuggingSound's environment: see bench/huggingsound_parity.py.
Usage: python bench/huggingsound_lockstep.py --hs-python /tmp/hs-venv/bin/python [--epochs 20] [--seeds 1]
"""

import contextlib
import csv
import json
import os
import statistics
from pathlib import Path

import torch
from huggingsound_parity import huggingsound_run, huggingsound_settings, prepared_split, transformers4_encoder
from tiny_spanish import argument_parser, corpus_and_encoder, run_folder, run_summary

from crossling_asr import recipe
from crossling_asr.data.datasets import BLANK, WORD_DELIMITER
from crossling_asr.decoding.metrics import error_rates
from crossling_asr.hparams import REPO_ROOT
from crossling_asr.training.brain import CTCBrain
from crossling_asr.training.quick_run import recipe_command

# The project's token names in HuggingSound's vocabulary (TokenSet: blank "<pad>", silence "|").
HUGGINGSOUND_TOKEN = {BLANK: "<pad>", WORD_DELIMITER: "|"}
LOCKSTEP_OPTIONS = ["--protocol=study", "--final_dropout=0.0", "--device=cpu"]


@contextlib.contextmanager
def recording(record: dict):
    """CTCBrain, while inside, writes its CTC layer's initial weights and every training step's
    utterance ids and loss into `record`; what it computes is unchanged."""
    on_fit_start, fit_batch = CTCBrain.on_fit_start, CTCBrain.fit_batch

    def recorded_fit_start(self):
        on_fit_start(self)
        layer = self.modules.head[-1]
        record["head"] = {
            self.tokenizer.ind2lab[i]: {"weight": layer.weight[i].tolist(), "bias": layer.bias[i].item()}
            for i in range(layer.out_features)
        }

    def recorded_fit_batch(self, batch):
        loss = fit_batch(self, batch)
        epoch = self.hparams.epoch_counter.current
        record["steps"].append({"epoch": epoch, "ids": list(batch.id), "loss": loss.item()})
        return loss

    record["steps"] = []
    CTCBrain.on_fit_start, CTCBrain.fit_batch = recorded_fit_start, recorded_fit_batch
    try:
        yield record
    finally:
        CTCBrain.on_fit_start, CTCBrain.fit_batch = on_fit_start, fit_batch


def project_run(seed: int, corpus: Path, encoder: Path, results: Path, epochs: int, threads: int) -> dict:
    """The recorded project run of `seed` on `threads` CPU threads (kept as record.json in its run folder)."""
    folder = run_folder(results, encoder, "study", seed)
    record_file = folder / "record.json"
    if not record_file.is_file() or not (folder / "results.json").is_file():
        print(f"running the project, seed {seed}, {threads} thread(s) ({epochs} epochs, in this process)", flush=True)
        argv = recipe_command("es", corpus, encoder, results, epochs, [*LOCKSTEP_OPTIONS, f"--seed={seed}"])[2:]
        here, threads_before = Path.cwd(), torch.get_num_threads()
        os.chdir(REPO_ROOT / "recipes" / "es")
        torch.set_num_threads(threads)
        try:
            with recording({}) as record:
                recipe.main(argv)
        finally:
            os.chdir(here)
            torch.set_num_threads(threads_before)
        record_file.write_text(json.dumps(record), encoding="utf-8")
    return {**json.loads(record_file.read_text(encoding="utf-8")), **run_summary(folder)}


def replayed_batches(record: dict, train_ids: list[str], epochs: int, batch_size: int) -> list[list[list[int]]]:
    """Per epoch, the project's batches as indices into the training list HuggingSound reads."""
    index = {utterance: i for i, utterance in enumerate(train_ids)}
    batches = [[] for _ in range(epochs)]
    for step in record["steps"]:
        batches[step["epoch"] - 1].append([index[u] for u in step["ids"]])
    for epoch in batches:
        if any(len(batch) != batch_size for batch in epoch[:-1]):
            raise SystemExit("a batch other than an epoch's last is short: the Trainer would cut them elsewhere")
    return batches


def per_epoch(values: list[float], steps_per_epoch: int) -> list[list[float]]:
    return [values[i : i + steps_per_epoch] for i in range(0, len(values), steps_per_epoch)]


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--hs-python", required=True, help="the Python of an environment with HuggingSound 0.1.6")
    parser.set_defaults(epochs=20, seeds=[1])
    args = parser.parse_args()
    corpus, encoder = corpus_and_encoder(args.work, args.train, max(4, args.train // 10))
    results = args.work / f"lockstep_{args.epochs}"
    hs_encoder = transformers4_encoder(encoder, args.work / "encoder_transformers4")
    threads = torch.get_num_threads()
    for seed in args.seeds:
        project = project_run(seed, corpus, encoder, results, args.epochs, threads)
        control = project_run(seed, corpus, encoder, results / "one_thread", args.epochs, 1)
        training_args, model_args = huggingsound_settings(run_folder(results, encoder, "study", seed))
        prep = results / "prepared" / "es"
        train, dev = prepared_split(prep, "train"), prepared_split(prep, "dev")
        with open(prep / "train.csv", encoding="utf-8", newline="") as f:
            train_ids = [row["ID"] for row in csv.DictReader(f)]
        head = {HUGGINGSOUND_TOKEN.get(token, token): row for token, row in project["head"].items()}
        tokens = sorted({c for row in train for c in row["transcription"]} - {" "})
        replay = {
            "head": head,
            "batches": replayed_batches(project, train_ids, args.epochs, training_args["per_device_train_batch_size"]),
        }
        references = [row["transcription"] for row in dev]
        runs = {
            "project": (project["dev_CER"], [s["loss"] for s in project["steps"]]),
            "project, 1 thread": (control["dev_CER"], [s["loss"] for s in control["steps"]]),
        }
        for name, mute in (("HuggingSound, <s> </s> muted", ["<s>", "</s>"]), ("HuggingSound as it is", [])):
            folder = results / "huggingsound" / f"seed_{seed}_{'muted' if mute else 'as_is'}"
            request = {
                "encoder": str(hs_encoder),
                "output_dir": str(folder / "model"),
                "train": train,
                "dev": dev,
                "tokens": tokens,
                "epochs": args.epochs,
                "seed": seed,
                "training_args": training_args,
                "model_args": model_args,
                "replay": {**replay, "mute": mute},
            }
            hs = huggingsound_run(args.hs_python, request, folder)
            cers = [error_rates([h.strip() for h in e["hypotheses"]], references)["CER"] for e in hs["evaluations"]]
            runs[name] = (cers, hs["losses"])
        steps = len(project["steps"]) // args.epochs
        print(f"seed {seed}: the same initial CTC layer and batches in all; final_dropout 0; {threads} threads")
        names = list(runs)
        print(f"{'epoch':>5}  " + "  ".join(f"{n:>34}" for n in names))
        project_losses = per_epoch(runs["project"][1], steps)
        for epoch in range(args.epochs):
            cells = []
            for name in names:
                cer, losses = runs[name][0][epoch], per_epoch(runs[name][1], steps)[epoch]
                worst = max(abs(a - b) / abs(b) for a, b in zip(losses, project_losses[epoch]))
                cells.append(f"loss {statistics.mean(losses):6.1f} (<={100 * worst:7.3f}%) CER {cer:5.1f}")
            print(f"{epoch + 1:>5}  " + "  ".join(f"{c:>34}" for c in cells))
        print("(<= x %: the largest relative difference of one step's loss from the project's in that epoch)")
        summary = {name: {"dev_CER": cer, "losses": losses} for name, (cer, losses) in runs.items()}
        (results / f"lockstep_seed{seed}.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
