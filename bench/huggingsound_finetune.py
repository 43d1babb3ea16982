#!/usr/bin/env python3
"""The HuggingSound side of bench/huggingsound_parity.py: run by a Python that has HuggingSound 0.1.6.

    <python with huggingsound 0.1.6> bench/huggingsound_finetune.py REQUEST.json RESULT.json

Imports nothing of this project (its environment is another one). It fine-tunes the request's
encoder folder with HuggingSound's own entry point, SpeechRecognitionModel.finetune, with
HuggingSound's defaults except the keys the request sets (the CPU settings of a tiny random
encoder), evaluating on the dev list after every epoch. It writes, per evaluation, the step, the
seconds since training started and HuggingSound's greedy hypotheses (the caller scores them with
the project's metric, so both tools are scored alike), and what loading the encoder left out.
"""

import importlib.metadata
import json
import math
import sys
import time

import torch
import transformers
from huggingsound import ModelArguments, SpeechRecognitionModel, TokenSet, TrainingArguments


def load_report(folder):
    """What AutoModelForCTC.from_pretrained(folder) left out: only the new lm_head may be missing."""
    _, info = transformers.AutoModelForCTC.from_pretrained(folder, output_loading_info=True)
    return {"missing": sorted(info["missing_keys"]), "unexpected": sorted(info["unexpected_keys"])}


def main(request_path, result_path):
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    steps_per_epoch = math.ceil(len(request["train"]) / request["training_args"].get("per_device_train_batch_size", 8))
    evaluations, started = [], []

    def on_step(trainer, loss):
        if not started:
            started.append(time.perf_counter())

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
    }
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:])
