#!/usr/bin/env python3
"""The `study` protocol against HuggingSound 0.1.6 itself: same encoder, same data, several seeds.

The study's released checkpoints were trained with HuggingSound 0.1.6, and `protocol: study`
reproduces its training loop. This script checks that claim by running both:

- the project: recipes/es/train.py --protocol=study --cpu_tiny=True, one run per seed;
- HuggingSound: SpeechRecognitionModel.finetune (bench/huggingsound_finetune.py, run by the Python
  of a separate environment that has HuggingSound 0.1.6), with HuggingSound's defaults except the
  settings `--cpu_tiny=True` changes, read from the project run's own recorded hparams (learning
  rate, trainable feature encoder, dropouts, masking, gradient checkpointing), one run per seed;

on the same synthetic Spanish corpus (the project's prepared 16 kHz clips and normalised
transcripts, so both read the same audio and text) and the same tiny random wav2vec2 (written for
HuggingSound under transformers 4.x's weight names; the script stops if its load leaves any
encoder weight out). Both are scored with the project's CER on the dev set after every epoch.

It prints, per epoch, the dev CER of each tool as mean [min, max] over the seeds, and whether the
project's mean falls inside HuggingSound's seed-to-seed range; and the seconds per epoch of each.

HuggingSound 0.1.6 pins torch<1.13, which has no wheel for Python 3.11; an environment that runs it:
    python -m venv /tmp/hs-venv && /tmp/hs-venv/bin/pip install --no-deps huggingsound==0.1.6
    /tmp/hs-venv/bin/pip install torch "transformers==4.24.*" "datasets<3" "librosa<0.10" "numpy<2" \
        "pyarrow<18" "setuptools<81" "jiwer<3" soundfile requests
Usage: python bench/huggingsound_parity.py --hs-python /tmp/hs-venv/bin/python [--epochs 10]
       [--train 200] [--seeds 1 2 3] [--work /tmp/tiny-spanish-bench]
"""

import csv
import json
import shutil
import statistics
import subprocess
from pathlib import Path

import torch
from tiny_spanish import argument_parser, bench_setup, run_all, run_folder, seed_spread
from transformers import AutoModel

from crossling_asr.decoding.metrics import error_rates
from crossling_asr.hparams import REPO_ROOT
from crossling_asr.interop.transformers_ctc import transformers4_state_dict

PREPROCESSOR = "preprocessor_config.json"


def transformers4_encoder(encoder: Path, folder: Path) -> Path:
    """The encoder as HuggingSound reads it: config (with the initializer_range both tools draw the
    new CTC layer from), feature extractor, pytorch_model.bin under transformers 4.x's names (its
    trainer resumes from a local folder, and only from that file)."""
    if not (folder / "pytorch_model.bin").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        model = AutoModel.from_pretrained(encoder)
        model.config.save_pretrained(folder)
        (folder / PREPROCESSOR).write_bytes((encoder / PREPROCESSOR).read_bytes())
        torch.save(transformers4_state_dict(model), folder / "pytorch_model.bin")
    return folder


def prepared_split(prep_folder: Path, split: str) -> list[dict]:
    """[{path, transcription}] of a prepared split, in its order."""
    with open(prep_folder / f"{split}.csv", encoding="utf-8", newline="") as f:
        return [
            {"path": row["wav"].replace("$data_root", str(prep_folder)), "transcription": row["wrd"]}
            for row in csv.DictReader(f)
        ]


def huggingsound_settings(run: Path) -> tuple[dict, dict]:
    """(TrainingArguments, ModelArguments) keys where the project run's hparams differ from
    HuggingSound's defaults, read from the hparams its results.json records (what --cpu_tiny=True set)."""
    hp = json.loads((run / "results.json").read_text(encoding="utf-8"))["hparams"]
    if hp["encoder_lr"] != hp["head_lr"]:
        raise SystemExit(f"{run}: encoder and head rates differ; HuggingSound has one learning rate")
    if hp["head_init_std"] != "encoder_config" or hp["grad_clipping"] != "whole_model":
        raise SystemExit(f"{run}: head_init_std or grad_clipping is not HuggingSound's")
    config = hp["encoder_config"]
    training = {
        "learning_rate": hp["encoder_lr"],
        "per_device_train_batch_size": hp["batch_size"],
        "gradient_checkpointing": hp["gradient_checkpointing"],
        "show_dataset_stats": False,
        # Dev decoded one clip at a time: HuggingSound decodes a padded batch's padded frames too,
        # the project trims them, and this compares training, not that decoding difference.
        "per_device_eval_batch_size": 1,
    }
    dropouts = ("attention_dropout", "activation_dropout", "hidden_dropout", "feat_proj_dropout")
    model = {
        "freeze_feature_extractor": hp["freeze_feature_encoder"],
        "final_dropout": hp["final_dropout"],
        **{key: config[key] for key in (*dropouts, "mask_time_prob", "mask_time_length", "layerdrop")},
    }
    return training, model


def huggingsound_run(python, request, folder: Path) -> dict:
    """bench/huggingsound_finetune.py's result for `request` (run once; kept in `folder`)."""
    result, request_file = folder / "result.json", folder / "request.json"
    if result.is_file() and json.loads(request_file.read_text(encoding="utf-8")) != request:
        shutil.rmtree(folder)  # another request's run (HuggingSound would resume from its checkpoints)
    if not result.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "request.json").write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
        log = folder / "huggingsound.log"
        print(f"running HuggingSound seed {request['seed']} (log: {log})", flush=True)
        with open(log, "w", encoding="utf-8") as out:
            command = [python, str(REPO_ROOT / "bench" / "huggingsound_finetune.py"), folder / "request.json", result]
            if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode:
                raise SystemExit(f"HuggingSound failed: see {log}")
    return json.loads(result.read_text(encoding="utf-8"))


def main():
    parser = argument_parser(__doc__)
    parser.add_argument("--hs-python", required=True, help="the Python of an environment with HuggingSound 0.1.6")
    args = parser.parse_args()
    corpus, encoder, results = bench_setup(args)
    # One project run first: it prepares the data both tools read and records the settings.
    project = run_all([("study", args.seeds[0])], corpus, encoder, results, args.epochs)
    prep = results / "prepared" / "es"
    train, dev = prepared_split(prep, "train"), prepared_split(prep, "dev")
    references = [row["transcription"] for row in dev]
    training_args, model_args = huggingsound_settings(run_folder(results, encoder, "study", args.seeds[0]))
    hs_encoder = transformers4_encoder(encoder, args.work / "encoder_transformers4")
    hs = {}
    for seed in args.seeds:
        request = {
            "encoder": str(hs_encoder),
            "output_dir": str(args.work / f"huggingsound_{args.epochs}" / f"seed_{seed}" / "model"),
            "train": train,
            "dev": dev,
            "tokens": sorted({c for row in train for c in row["transcription"]} - {" "}),
            "epochs": args.epochs,
            "seed": seed,
            "training_args": training_args,
            "model_args": model_args,
        }
        hs[seed] = huggingsound_run(args.hs_python, request, args.work / f"huggingsound_{args.epochs}" / f"seed_{seed}")
        left_out = [k for k in hs[seed]["loading"]["missing"] if not k.startswith("lm_head.")]
        if left_out or hs[seed]["loading"]["unexpected"]:
            raise SystemExit(f"HuggingSound's load of {hs_encoder} left weights out: {hs[seed]['loading']}")

    project.update(run_all([("study", seed) for seed in args.seeds[1:]], corpus, encoder, results, args.epochs))

    hs_curves = [
        [error_rates([h.strip() for h in e["hypotheses"]], references)["CER"] for e in hs[s]["evaluations"]]
        for s in args.seeds
    ]
    project_curves = [project["study", s]["dev_CER"] for s in args.seeds]
    versions = hs[args.seeds[0]]
    print(
        f"HuggingSound {versions['huggingsound']} (transformers {versions['transformers']}, torch {versions['torch']})"
    )
    print(f"settings changed from HuggingSound's defaults: {training_args} {model_args}")
    range_ = json.loads((hs_encoder / "config.json").read_text(encoding="utf-8"))["initializer_range"]
    print(f"CTC layer initialised from N(0, {range_}^2) in both (the encoder config's initializer_range)")
    print(f"dev CER per epoch, mean [min, max] over seeds {args.seeds}:")
    print(f"{'epoch':>5}  {'project study':>22}  {'HuggingSound':>22}  project mean inside HuggingSound's range")
    inside = []
    for epoch, (p, h) in enumerate(zip(seed_spread(project_curves), seed_spread(hs_curves)), start=1):
        mean = statistics.mean(c[epoch - 1] for c in project_curves)
        low, high = min(c[epoch - 1] for c in hs_curves), max(c[epoch - 1] for c in hs_curves)
        inside.append(low <= mean <= high)
        print(f"{epoch:>5}  {p:>22}  {h:>22}  {'yes' if inside[-1] else 'no'}")
    print(f"inside in {sum(inside)} of {len(inside)} epochs")
    project_seconds = statistics.mean(project["study", s]["seconds_per_epoch"] for s in args.seeds)
    hs_seconds = statistics.mean(hs[s]["evaluations"][-1]["seconds"] / args.epochs for s in args.seeds)
    print(
        f"seconds per epoch (training and dev decoding): project {project_seconds:.1f}, HuggingSound "
        f"{hs_seconds:.1f}, ratio project/HuggingSound {project_seconds / hs_seconds:.2f}"
    )
    own = [round(hs[s]["evaluations"][-1]["huggingsound_cer"], 2) for s in args.seeds]
    print(f"HuggingSound's own last-epoch dev CER (its metric, its references): {own}")
    summary = {
        "project": project_curves,
        "huggingsound": hs_curves,
        "inside": inside,
        "seconds_per_epoch": {"project": project_seconds, "huggingsound": hs_seconds},
    }
    (args.work / f"parity_{args.epochs}.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
