"""One run on two processes (torchrun + SpeechBrain DDP, gloo on CPU) against the same run on one.

The relation checked: with dynamic batching, SpeechBrain wraps the batch
sampler in a DistributedSamplerWrapper, which deals the single process's
list of B batches out to the ranks, padded to a multiple of the world size;
with one epoch each rank therefore takes ceil(B / 2) optimizer steps where
the single process takes B (the learning-rate schedule is sized from the
same per-rank loader length). Dev and test are split between the ranks, and
the scores come from both ranks' hypotheses. Data preparation runs once, on rank 0, while
rank 1 waits at SpeechBrain's barrier (the other ranks must not read a half-written
manifest). LayerDrop is on, so the run also checks that DDP accepts steps where a
layer was skipped (with find_unused_parameters, which the recipe turns on for it).
"""

import csv
import json
import math
import os
import subprocess
import sys

import pytest

from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.hparams import language_file
from crossling_asr.training.quick_run import CPU_TINY_OVERRIDES
from tests.helpers.recipes import run_folder

# Small batches (4 utterances; at most 8 s of audio under dynamic batching) so that one epoch
# has several steps; LayerDrop on, as in the tuned protocol's settings: a skipped layer leaves
# parameters without a gradient, which DDP accepts only with find_unused_parameters (set by the
# recipe when layerdrop > 0).
OVERRIDES = [
    *CPU_TINY_OVERRIDES,
    "--encoder_config={layerdrop: 0.5}",  # merged into the CPU settings' encoder_config
    "--dynamic_batch_sampler={max_batch_length: 8, num_buckets: 4, max_batch_ex: 4}",
    "--batch_size=4",
]


def results_of(root, encoder_source):
    return json.loads((run_folder(root, "es", "wav2vec2-large-lv60", 1, encoder_source) / "results.json").read_text())


def read_test_hypotheses(root, encoder_source):
    run = run_folder(root, "es", "wav2vec2-large-lv60", 1, encoder_source)
    with open(run / "test_hypotheses.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def edit_distance(ref, hyp):
    """Levenshtein distance between two strings (an independent check of the CER)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def test_two_process_ddp_takes_half_the_steps(tmp_path, make_corpus, tiny_encoders):
    corpus = make_corpus("es", n_train=12, n_dev=4, n_test=4)
    recipe = [
        str(ROOT / "recipes" / "es" / "train.py"),
        str(language_file("es")),
        f"--data_folder={corpus}",
        "--encoder=wav2vec2-large-lv60",
        f"--encoder_source={tiny_encoders['wav2vec2']}",
        "--number_of_epochs=1",
        *OVERRIDES,
    ]
    assert any("layerdrop: 0.5" in o for o in OVERRIDES)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    single = subprocess.run(
        [sys.executable, *recipe, f"--results_root={tmp_path / 'single'}"],
        cwd=ROOT / "recipes" / "es",
        capture_output=True,
        text=True,
        env=env,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            *recipe,
            f"--results_root={tmp_path / 'ddp'}",
            "--distributed_backend=gloo",
        ],
        cwd=ROOT / "recipes" / "es",
        capture_output=True,
        text=True,
        env=env,
    )
    assert ddp.returncode == 0, ddp.stdout[-3000:] + ddp.stderr[-5000:]

    source = tiny_encoders["wav2vec2"]
    one, two = results_of(tmp_path / "single", source), results_of(tmp_path / "ddp", source)
    assert one["data"]["splits"] == two["data"]["splits"]  # the same data
    single_steps, ddp_steps = one["training"]["optimizer_steps"], two["training"]["optimizer_steps"]
    assert single_steps >= 3, "too few batches for the comparison to say anything"
    assert ddp_steps == math.ceil(single_steps / 2)

    for results in (one, two):
        assert results["status"] == "finished" and results["training"]["epochs"] == 1
        assert all(math.isfinite(epoch["loss"]) for epoch in results["training"]["dev_history"])
        test = results["metrics"]["test"]
        assert math.isfinite(test["loss"]) and 0 <= test["CER"] <= 150 and test["n_utterances"] == 4
    # Dev and test decoded half by each rank; the scores and the hypotheses file hold all.
    output = ddp.stdout + ddp.stderr
    # (Only rank 0 logs; the other two test utterances in the file came from rank 1.)
    assert output.count("Rank 0 decoded 2 of 4 utterances") == 2  # one dev epoch, one test
    rows = read_test_hypotheses(tmp_path / "ddp", source)
    assert sorted(r["ID"] for r in rows) == sorted(r["ID"] for r in read_test_hypotheses(tmp_path / "single", source))
    errors = sum(edit_distance(r["reference"], r["hypothesis"]) for r in rows)
    assert two["metrics"]["test"]["CER"] == pytest.approx(100 * errors / sum(len(r["reference"]) for r in rows))
    # Prepared once: one conversion (tqdm bar of rank 0), one report of kept rows.
    assert output.count("Converting clips: 100%") == 1
    assert output.count("train: 12 of 12 rows kept") == 1
