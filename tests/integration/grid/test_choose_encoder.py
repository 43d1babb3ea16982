"""`local/choose_encoder.py` end to end on synthetic Spanish with three tiny encoders of clearly
different quality, as probe candidates under registry names:
- good: the shared under-trained Spanish model's encoder (conftest's usage_run: a tiny wav2vec2
  fine-tuned on the language), exported as a transformers checkpoint;
- random: a tiny random HuBERT;
- degenerate: a tiny wav2vec2 whose feature projection is zeroed, so every frame's features are
  (nearly) the same and the probe cannot tell utterances apart.
The command must recommend the good one with intervals that exclude the others, flag the
degenerate one, resume after being stopped without redoing a finished probe, and work through
the SLURM executor (a fake sbatch; the array tasks run as SLURM would run them).

Tiny models are scored by CER (`-- --primary_metric=CER`): their WER stays at 100 for far longer
than this test trains. The probe head is the linear one (--cpu-tiny), with a higher learning rate
than cpu_tiny.yaml's so that a few epochs leave the blank-only phase of CTC training.
"""

import json
import signal
import subprocess
import sys
import time

import pytest

from crossling_asr.grid.job import read_manifest
from crossling_asr.grid.runs import LOG_FILE, Run, is_finished
from crossling_asr.hparams import REPO_ROOT as ROOT
from tests.helpers.slurm import write_fake_sbatch

CANDIDATES = {"good": "xlsr-53", "random": "hubert-large-ll60k", "degenerate": "wav2vec2-large-lv60"}
PROBE_EPOCHS = 3
OVERRIDES = ["--", "--primary_metric=CER", "--head_lr=0.02"]


@pytest.fixture(scope="module")
def candidates(usage_run, tiny_encoders, tmp_path_factory):
    """{role: encoder directory} of the three candidates."""
    import torch
    from transformers import AutoModel

    from crossling_asr.interop.transformers_ctc import export_to_transformers
    from crossling_asr.model.tiny_encoders import make_tiny_encoder

    folder = tmp_path_factory.mktemp("candidates")
    output_folder, _ = usage_run
    export_to_transformers(output_folder, folder / "good", False)
    degenerate = make_tiny_encoder("wav2vec2", folder / "degenerate", seed=3)
    model = AutoModel.from_pretrained(degenerate)
    with torch.no_grad():
        model.feature_projection.projection.weight.zero_()
    model.save_pretrained(degenerate)
    return {"good": folder / "good", "random": tiny_encoders["hubert"], "degenerate": degenerate}


def choose_args(results_root, data_folder, candidates, roles=tuple(CANDIDATES)):
    args = ["--lang", "es", "--data-folder", data_folder, "--results-root", results_root]
    args += ["--encoders", *(CANDIDATES[role] for role in roles), "--epochs", PROBE_EPOCHS]
    args += ["--cpu-tiny", "--gpus-per-run", "0", "--bootstrap", "500"]
    for role in roles:
        args += ["--encoder-source", f"{CANDIDATES[role]}={candidates[role]}"]
    return [sys.executable, str(ROOT / "local" / "choose_encoder.py"), *map(str, args), *OVERRIDES]


def test_choose_recommends_the_good_encoder_flags_the_degenerate_one_and_resumes(tmp_path, make_corpus, candidates):
    data = make_corpus("es", n_train=40, n_dev=6, n_test=24, seed=11)
    root = tmp_path / "results"
    command = choose_args(root, data, candidates)
    runs = [Run("es", CANDIDATES[role], 1, "probe", str(candidates[role])) for role in CANDIDATES]

    # Stopped (SIGINT, as Ctrl-C) once the first probe has finished, then run again.
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 1800
    while not any(is_finished(run.folder(root)) for run in runs) and time.time() < deadline:
        assert first.poll() is None, first.stdout.read()
        time.sleep(2)
    first.send_signal(signal.SIGINT)
    out = first.communicate(timeout=300)[0]
    assert first.returncode == 130, out
    done_before = [run for run in runs if is_finished(run.folder(root))]
    assert done_before

    again = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(done_before)} of 3 runs already finished" in again.stdout
    for run in done_before:
        assert (run.folder(root) / LOG_FILE).read_text().count("=== grid attempt") == 1

    answer = json.loads((root / "choose" / "es" / "choice.json").read_text())
    (probe,) = answer["stages"]
    ranking = {row["encoder"].split("~")[0]: row for row in probe["ranking"]}
    good, random, degenerate = (ranking[CANDIDATES[role]] for role in CANDIDATES)
    assert answer["recommended"] == good["encoder"], answer["recommendation"]
    assert answer["recommendation"].startswith(f"Recommended: {good['encoder']} (CER")
    assert degenerate["degenerate"] and degenerate["flags"] and not good["degenerate"]
    assert random["diff_ci_low"] > 0 and degenerate["diff_ci_low"] > 0  # intervals exclude the good one
    assert good["error"] < random["error"] and good["error"] < degenerate["error"]
    assert answer["validation"]["validated"] is False and "Not yet validated" in answer["validation"]["statement"]
    assert answer["cost"]["spent_hours"]["cpu"] > 0 and answer["cost"]["fine_tuning_estimate_gpu_hours"] > 0
    markdown = (root / "choose" / "es" / "choice.md").read_text()
    assert answer["recommendation"] in markdown and (root / "choose" / "es" / "choice.png").is_file()
    assert answer["recommendation"] in again.stdout


def test_choose_through_slurm_submits_then_answers_once_the_tasks_ran(tmp_path, make_corpus, candidates):
    data = make_corpus("es", n_train=40, n_dev=6, n_test=24, seed=11)
    root = tmp_path / "results"
    sbatch = write_fake_sbatch(tmp_path, 100)
    command = choose_args(root, data, candidates, roles=("good",))
    command[-len(OVERRIDES) : -len(OVERRIDES)] = ["--executor", "slurm", "--sbatch", str(sbatch), "--time", "1:00:00"]

    submitted = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert "submitted prep.sbatch" in submitted.stdout and "Not finished yet: probe" in submitted.stdout
    (manifest,) = (root / "grid").glob("slurm-*/manifest.json")
    _, runs, languages = read_manifest(manifest)
    assert [run.protocol for run in runs] == ["probe"] and languages == ["es"]
    for task, count in (("prep", len(languages)), ("run", len(runs))):  # what the arrays' tasks run
        for index in range(count):
            worker = [sys.executable, "-m", "crossling_asr.grid.worker", "--manifest", str(manifest)]
            done = subprocess.run(
                [*worker, "--task", task, "--index", str(index)], cwd=ROOT, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stdout + done.stderr

    answered = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert answered.returncode == 0, answered.stdout + answered.stderr
    assert "1 of 1 runs already finished; submitting 0" in answered.stdout
    answer = json.loads((root / "choose" / "es" / "choice.json").read_text())
    assert answer["stages"][0]["unfinished"] == [] and len(answer["stages"][0]["ranking"]) == 1
    assert len((tmp_path / "calls").read_text().splitlines()) == 2  # prep and train arrays, submitted once
