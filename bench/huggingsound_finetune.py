#!/usr/bin/env python3
"""The HuggingSound side of bench/huggingsound_parity.py: run by a Python that has HuggingSound 0.1.6.

    <python with huggingsound 0.1.6> bench/huggingsound_finetune.py REQUEST.json RESULT.json

Imports nothing of this project (its environment is another one). It fine-tunes the request's
encoder folder with HuggingSound's own entry point, SpeechRecognitionModel.finetune, with
HuggingSound's defaults except the keys the request sets (the CPU settings of a tiny random
encoder), evaluating on the dev list after every epoch. It writes, per evaluation, the step, the
seconds since training started and HuggingSound's greedy hypotheses (the caller scores them with
the project's metric, so both tools are scored alike), each training step's loss, and what loading
the encoder left out.

A request with `replay` (bench/huggingsound_lockstep.py) makes HuggingSound's Trainer replay another
run's random draws: the CTC layer's initial weights (`head`: {token: {weight, bias}}; `mute`: tokens
given probability 0 and so no gradient) and the batches of every epoch (`batches`: per epoch, lists
of indices into `train`).
"""

import importlib.metadata
import json
import math
import sys
import time

import torch
import transformers
from huggingsound import ModelArguments, SpeechRecognitionModel, TokenSet, TrainingArguments
from huggingsound.trainer import CTCTrainer

MUTED_BIAS = -1e4  # exp(-1e4) is 0 in float32: the token's probability and gradient are exactly 0


class ReplayedBatches(torch.utils.data.Sampler):
    """The indices of epoch 1's batches, then epoch 2's, ...: the Trainer's DataLoader cuts them into
    batches of its batch size again, so every batch but each epoch's last must be full."""

    def __init__(self, epochs):
        self.epochs, self.epoch = epochs, 0

    def __iter__(self):
        batches = self.epochs[self.epoch]
        self.epoch += 1
        return iter([index for batch in batches for index in batch])

    def __len__(self):
        return sum(len(batch) for batch in self.epochs[0])


def replay_draws(replay):
    """Patch HuggingSound's CTCTrainer to start from `replay`'s CTC layer and to draw its batches.

    The layer is set when train() starts: after the model is built (which draws HuggingSound's own
    lm_head) and before the Trainer loads the encoder's weights, which have no lm_head."""
    original_train = CTCTrainer.train

    def train(self, *args, **kwargs):
        vocabulary = self.data_collator.processor.tokenizer.get_vocab()
        layer = self.model.lm_head
        with torch.no_grad():
            for token, row in replay["head"].items():
                layer.weight[vocabulary[token]] = torch.tensor(row["weight"])
                layer.bias[vocabulary[token]] = row["bias"]
            for token in replay["mute"]:
                layer.weight[vocabulary[token]] = 0.0
                layer.bias[vocabulary[token]] = MUTED_BIAS
        return original_train(self, *args, **kwargs)

    CTCTrainer.train = train
    CTCTrainer._get_train_sampler = lambda self: ReplayedBatches(replay["batches"])


def load_report(folder):
    """What AutoModelForCTC.from_pretrained(folder) left out: only the new lm_head may be missing."""
    _, info = transformers.AutoModelForCTC.from_pretrained(folder, output_loading_info=True)
    return {"missing": sorted(info["missing_keys"]), "unexpected": sorted(info["unexpected_keys"])}


def main(request_path, result_path):
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    steps_per_epoch = math.ceil(len(request["train"]) / request["training_args"].get("per_device_train_batch_size", 8))
    evaluations, started, losses = [], [], []
    if "replay" in request:
        replay_draws(request["replay"])

    def on_step(trainer, loss):
        if not started:
            started.append(time.perf_counter())
        losses.append(loss)

    def on_evaluation(metrics, references, predictions):
        evaluations.append(
            {
                "seconds": time.perf_counter() - started[0],
                "huggingsound_cer": 100 * metrics["cer"],
                "hypotheses": list(predictions),
            }
        )

    training_args = TrainingArguments(
        eval_steps=steps_per_epoch,
        logging_steps=steps_per_epoch,
        num_train_epochs=request["epochs"],
        seed=request["seed"],
        training_step_callbacks=[on_step],
        evaluation_callbacks=[on_evaluation],
        **request["training_args"],
    )
    model_args = ModelArguments(**request["model_args"])
    model = SpeechRecognitionModel(request["encoder"], device="cpu")
    model.finetune(
        request["output_dir"],
        train_data=request["train"],
        eval_data=request["dev"],
        token_set=TokenSet(request["tokens"]),
        training_args=training_args,
        model_args=model_args,
    )
    result = {
        "huggingsound": importlib.metadata.version("huggingsound"),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "steps_per_epoch": steps_per_epoch,
        "loading": load_report(request["encoder"]),
        "evaluations": evaluations,
        "losses": losses,
    }
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:])
