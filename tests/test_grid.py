"""The grid runner: a real tiny grid on synthetic data, and its bookkeeping piece by piece.

The end-to-end test runs 2 languages x 2 tiny encoders of different families
x 2 seeds (1 epoch) through the local executor with 2 concurrent runs, from
two grid processes at once on one results root (they must share the work,
never run a run twice and never prepare a language twice), then checks
status, that a re-run launches nothing, and the report.
"""

import datetime
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT

from crossling_asr.grid.claim import RunClaim
from crossling_asr.grid.cost import CostAssumptions, estimate, load_hours_table, measured_throughput
from crossling_asr.grid.job import GridJob
from crossling_asr.grid.runs import (
    ATTEMPT_FILE,
    LOCK_FILE,
    LOG_FILE,
    GridError,
    Run,
    prep_failure_file,
    run_status,
    select_grid,
)
from crossling_asr.grid.slurm import SlurmExecutor, SlurmOptions
from crossling_asr.grid.worker import execute_run
from crossling_asr.registry import load_registry

LANGUAGES = ("es", "it")
ENCODERS = {"wav2vec2-large-lv60": "wav2vec2", "hubert-large-ll60k": "hubert"}  # registry name -> tiny family


def grid_cli(*args, **kwargs):
    """Run local/grid.py; returns CompletedProcess (stdout and stderr as text)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "local" / "grid.py"), *map(str, args)], capture_output=True, text=True, **kwargs
    )


def selection_args(results_root, seeds=(1, 2)):
    return ["--results-root", results_root, "--langs", *LANGUAGES, "--encoders", *ENCODERS, "--seeds", *seeds]


def tiny_sources(tiny_encoders):
    """{registry name: tiny encoder directory} of the tiny grid."""
    return {name: str(tiny_encoders[family]) for name, family in ENCODERS.items()}


def tiny_selection_args(results_root, tiny_encoders):
    """The tiny grid's selection: its runs live in folders named after the tiny sources."""
    args = selection_args(results_root)
    for name, source in tiny_sources(tiny_encoders).items():
        args += ["--encoder-source", f"{name}={source}"]
    return args


def grid_args(results_root, corpora, tiny_encoders):
    """Selection and launch options of the tiny grid (CPU runs, tiny encoders)."""
    args = [*tiny_selection_args(results_root, tiny_encoders), "--gpus-per-run", "0"]
    for lang, folder in corpora.items():
        args += ["--data-folder", f"{lang}={folder}"]
    return args


def max_concurrency(attempts):
    """Most attempts running at the same moment, from their start times and durations."""
    events = []
    for attempt in attempts:
        start = datetime.datetime.fromisoformat(attempt["started"]).timestamp()
        events += [(start, 1), (start + attempt["seconds"], -1)]
    running = best = 0
    for _, change in sorted(events, key=lambda e: (e[0], e[1])):
        running += change
        best = max(best, running)
    return best


def test_tiny_grid_from_two_processes_then_status_rerun_and_report(tmp_path, make_corpus, tiny_encoders):
    corpora = {lang: make_corpus(lang, n_train=12, n_dev=4, n_test=4) for lang in LANGUAGES}
    root = tmp_path / "results"
    run_args = [
        "run",
        *grid_args(root, corpora, tiny_encoders),
        "--runs-per-gpu",
        "2",
        "--cpu-tiny",
        "--",
        "--number_of_epochs=1",
    ]
    command = [sys.executable, str(ROOT / "local" / "grid.py"), *map(str, run_args)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], "\n\n".join(outputs)

    runs = select_grid(LANGUAGES, ENCODERS, [1, 2], encoder_sources=tiny_sources(tiny_encoders))
    assert all("~" in run.name for run in runs)  # the folders say the weights are not the registry's
    starts = [line for out in outputs for line in out.splitlines() if "] start " in line]
    assert sorted(line.split("] start ")[1].split(" on ")[0] for line in starts) == sorted(r.name for r in runs)
    attempts = []
    for run in runs:
        folder = run.folder(root)
        assert json.loads((folder / "results.json").read_text())["status"] == "finished"
        assert (folder / LOG_FILE).read_text().count("=== grid attempt") == 1
        assert not (folder / LOCK_FILE).exists()
        attempts.append(json.loads((folder / ATTEMPT_FILE).read_text()))
        assert attempts[-1]["outcome"] == "finished" and attempts[-1]["executor"] == "local"
    assert max_concurrency(attempts) >= 2
    prep_logs = "".join(p.read_text() for p in (root / "grid").glob("local-*/prep_*.log"))
    # Each language prepared once (the other process found it prepared and skipped it).
    assert len(re.findall(r"train: \d+ of \d+ rows kept", prep_logs)) == len(LANGUAGES)
    assert prep_logs.count("already prepared with these options") >= len(LANGUAGES)

    status = grid_cli("status", *tiny_selection_args(root, tiny_encoders))
    assert status.returncode == 0 and status.stdout.startswith("8 runs: 8 done, 0 running, 0 failed, 0 pending")
    assert all(json.loads((r.folder(root) / "results.json").read_text())["hparams"]["cpu_tiny"] for r in runs)

    # Tiny encoders on CPU say nothing about the study's throughput: cost does not offer it.
    cost = grid_cli("cost", *tiny_selection_args(root, tiny_encoders))
    assert cost.returncode == 0, cost.stderr
    assert "pass it as" not in cost.stdout
    assert "Finished runs that do not measure the study's throughput: 8 encoder_source replaced" in cost.stdout

    again = grid_cli(*run_args)
    assert again.returncode == 0, again.stderr
    assert "8 of 8 runs already finished" in again.stdout and "] start " not in again.stdout
    assert all((r.folder(root) / LOG_FILE).read_text().count("=== grid attempt") == 1 for r in runs)

    # Tiny encoders are not the registry's: the study's report sets them aside unless asked.
    report_cli = [sys.executable, str(ROOT / "local" / "report.py"), "--results-root", str(root), "--bootstrap", "100"]
    default = subprocess.run([*report_cli, "--out", str(tmp_path / "default_report")], capture_output=True, text=True)
    assert default.returncode == 0, default.stderr
    assert "0 finished runs used" in (tmp_path / "default_report" / "report.md").read_text()
    report = subprocess.run(
        [*report_cli, "--out", str(tmp_path / "report"), "--include-replaced-sources"], capture_output=True, text=True
    )
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    assert "8 finished runs used; 0 expected runs missing" in text
    assert all(run.name.split("/")[1] in text for run in runs)  # tables name the runs' sources
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert images and all((tmp_path / "report" / image).is_file() for image in images)
    runs_table = (tmp_path / "report" / "tables" / "runs.csv").read_text().splitlines()
    assert len(runs_table) == 1 + 8


def test_claim_is_exclusive_heartbeated_and_respects_other_hosts(tmp_path):
    folder = tmp_path / "run"
    claim = RunClaim.acquire(folder, "test")
    assert claim is not None
    assert RunClaim.acquire(folder, "test") is None  # held (flock) by a live owner
    holder = json.loads((folder / LOCK_FILE).read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    claim.release()
    assert not (folder / LOCK_FILE).exists()

    # A fresh lock written on another host (flock does not cross hosts): left alone.
    (folder / LOCK_FILE).write_text(json.dumps({"host": "elsewhere", "pid": 1, "slurm_job": None}))
    assert RunClaim.acquire(folder, "test") is None
    # Its heartbeat stopped long ago: the owner is dead, the run can be taken over.
    old = time.time() - 3600
    os.utime(folder / LOCK_FILE, (old, old))
    taken = RunClaim.acquire(folder, "test")
    assert taken is not None
    taken.release()


class ScriptJob:
    """A stand-in GridJob whose "recipe" is a Python snippet (execute_run needs only these three)."""

    def __init__(self, results_root, script):
        self.results_root, self.stale_after, self.script = results_root, 180, script

    def recipe_command(self, run):
        return [sys.executable, "-c", self.script]


@pytest.mark.parametrize("finishes_first", [True, False])
def test_a_stopped_run_is_interrupted_unless_it_had_already_finished(tmp_path, finishes_first):
    """A preemption can land after the recipe wrote its finished results.json: that run is finished."""
    run = Run("es", "xlsr-53", 1)
    folder = run.folder(tmp_path)
    started = folder / "started"
    script = (
        "import json, pathlib, time\n"
        + (
            f"pathlib.Path({str(folder / 'results.json')!r}).write_text(json.dumps({{'status': 'finished'}}))\n"
            if finishes_first
            else ""
        )
        + f"pathlib.Path({str(started)!r}).touch()\ntime.sleep(60)\n"
    )
    stop = threading.Event()
    threading.Thread(target=lambda: (wait_until(started.is_file), stop.set()), daemon=True).start()
    outcome = execute_run(run, ScriptJob(tmp_path, script), "test", stop=stop, grace_seconds=5)
    attempt = json.loads((folder / ATTEMPT_FILE).read_text())
    assert outcome.returncode == -15 and attempt["returncode"] == -15  # SIGTERM reached the recipe
    expected = "finished" if finishes_first else "interrupted"
    assert outcome.result == attempt["outcome"] == expected
    status = run_status(run, tmp_path)
    assert status.state == ("done" if finishes_first else "pending"), status


def wait_until(condition, timeout=30):
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.05)


def test_status_reads_each_state_from_disk(tmp_path):
    done, running, failed, interrupted, fresh = (Run("es", "xlsr-53", seed) for seed in range(1, 6))
    (done.folder(tmp_path)).mkdir(parents=True)
    (done.folder(tmp_path) / "results.json").write_text(
        json.dumps({"status": "finished", "metrics": {"test": {"WER": 12.5, "CER": 4.0}}})
    )
    claim = RunClaim.acquire(running.folder(tmp_path), "test")
    failed.folder(tmp_path).mkdir(parents=True)
    (failed.folder(tmp_path) / LOG_FILE).write_text("...\nRuntimeError: out of cheese\n")
    (failed.folder(tmp_path) / ATTEMPT_FILE).write_text(
        json.dumps({"attempt": 2, "outcome": "failed", "returncode": 1, "log": str(failed.folder(tmp_path) / LOG_FILE)})
    )
    (interrupted.folder(tmp_path) / "save" / "CKPT+2026-01-01").mkdir(parents=True)
    (interrupted.folder(tmp_path) / LOCK_FILE).write_text("{}")
    os.utime(interrupted.folder(tmp_path) / LOCK_FILE, (time.time() - 3600,) * 2)
    try:
        states = {run.seed: run_status(run, tmp_path) for run in (done, running, failed, interrupted, fresh)}
    finally:
        claim.release()
    assert (states[1].state, states[1].detail) == ("done", "WER 12.50 CER 4.00")
    assert states[2].state == "running" and socket.gethostname() in states[2].detail
    assert states[3].state == "failed" and states[3].returncode == 1 and "out of cheese" in states[3].detail
    assert states[3].log == failed.folder(tmp_path) / LOG_FILE
    assert states[4].state == "pending" and "died" in states[4].detail and "checkpoint" in states[4].detail
    assert (states[5].state, states[5].detail) == ("pending", "")


def test_a_long_error_is_shown_from_its_start(tmp_path):
    run = Run("es", "xlsr-53", 1)
    run.folder(tmp_path).mkdir(parents=True)
    message = "error: the card's base model facebook/wav2vec2-large-lv60 is encoder wav2vec2-large-lv60, " + "x" * 400
    (run.folder(tmp_path) / LOG_FILE).write_text(f"INFO loading\n{message}\n")
    (run.folder(tmp_path) / ATTEMPT_FILE).write_text(json.dumps({"attempt": 1, "outcome": "failed", "returncode": 1}))
    detail = run_status(run, tmp_path).detail
    prefix = "exit 1 (attempt 1): "
    assert detail.startswith(prefix + "error: the card's base model")
    assert detail == prefix + message[:299] + "…"


def test_selection_and_overrides_are_checked():
    with pytest.raises(GridError, match="No recipe for language"):
        select_grid(["xx"], None, None)
    with pytest.raises(GridError, match="Unknown encoder"):
        select_grid(["es"], ["wav2vec3"], None)
    assert len(select_grid(["es", "de"], None, None)) == 2 * 16 * 3
    with pytest.raises(GridError, match="set by the grid"):
        GridJob(results_root="/tmp/r", recipe_overrides=["--seed=4"])
    command = GridJob(results_root="/tmp/r", data_root="/data", gpus_per_run=2).recipe_command(
        Run("es", "xlsr-53", 2, "stock", "/tiny")
    )
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert command[-5:] == [
        "--results_root=/tmp/r",
        "--encoder=xlsr-53",
        "--seed=2",
        "--protocol=stock",
        "--encoder_source=/tiny",
    ]
    with pytest.raises(GridError, match="set by the grid"):
        GridJob(results_root="/tmp/r", recipe_overrides=["--protocol=stock"])
    assert "--data_folder=/data/es" in command


def write_prep_report(root, language, hours):
    folder = root / "prepared" / language
    folder.mkdir(parents=True)
    (folder / "prep_report.json").write_text(
        json.dumps({"splits": {split: {"hours": h, "kept": 1} for split, h in zip(("train", "dev", "test"), hours)}})
    )


def test_cost_estimate_from_prep_reports_and_a_hours_table(tmp_path):
    write_prep_report(tmp_path, "es", (10.0, 1.0, 2.0))
    (tmp_path / "hours.yaml").write_text("de: {train: 20, dev: 2, test: 2}\nit: 5\n")
    hours = load_hours_table(tmp_path / "hours.yaml")
    assumptions = CostAssumptions(
        epochs=3,
        audio_hours_per_gpu_hour=50.0,
        reference_params_millions=317.4,
        eval_cost_ratio=0.5,
        overhead_gpu_hours=0.25,
    )
    table = estimate(select_grid(["es", "de", "it"], ["xlsr-53", "xls-r-300m"], [1]), tmp_path, assumptions, hours)
    by_run = table.set_index(["language", "encoder"])
    # es, xlsr-53 (317.4M): (3 x 10 + 0.5 x (3 x 1 + 2)) / 50 + 0.25
    assert by_run.loc[("es", "xlsr-53"), "gpu_hours"] == pytest.approx((30 + 2.5) / 50 + 0.25)
    # xls-r-300m has 315.4M parameters: proportionally faster
    assert by_run.loc[("de", "xls-r-300m"), "gpu_hours"] == pytest.approx(
        (60 + 0.5 * (6 + 2)) / (50 * 317.4 / 315.4) + 0.25
    )
    assert by_run.loc[("it", "xlsr-53"), "gpu_hours"] == pytest.approx(15 / 50 + 0.25)
    assert set(table["hours_from"]) == {"prep_report.json", "--hours-per-lang"}
    with pytest.raises(GridError, match="No corpus hours for fr"):
        estimate(select_grid(["fr"], ["xlsr-53"], [1]), tmp_path, assumptions, hours)

    out = grid_cli(
        "cost",
        "--results-root",
        tmp_path,
        "--langs",
        "es",
        "--encoders",
        "xlsr-53",
        "--seeds",
        "1",
        "--audio-hours-per-gpu-hour",
        "50",
        "--",
        "--number_of_epochs=3",
    )
    assert out.returncode == 0, out.stderr
    expected = (30 + (3 * 1 + 2) / 3) / 50 + 0.1
    assert f"Total: 1 runs, {expected:.1f} GPU-hours" in out.stdout
    assert re.search(rf"^  es +1 runs +{expected:.1f}$", out.stdout, re.M), out.stdout  # a count, not "1.0 runs"
    assert '"epochs": 3' in out.stdout


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--audio-hours-per-gpu-hour", "0", "must be > 0, got 0"),
        ("--audio-hours-per-gpu-hour", "-5", "must be > 0, got -5"),
        ("--reference-params-millions", "0", "must be > 0, got 0"),
        ("--eval-cost-ratio", "-1", "must be >= 0, got -1"),
    ],
)
def test_cost_refuses_options_that_make_no_sense(tmp_path, option, value, message):
    write_prep_report(tmp_path, "es", (10.0, 1.0, 2.0))
    out = grid_cli(
        "cost", "--results-root", tmp_path, "--langs", "es", "--encoders", "xlsr-53", "--seeds", "1", option, value
    )
    assert out.returncode == 2 and f"argument {option}: {message}" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def write_results(
    root,
    encoder,
    seed,
    device,
    source=None,
    train_hours=10.0,
    dev_hours=1.0,
    epochs=3,
    wall_seconds=3600.0,
    world_size=1,
):
    """A finished results.json with the fields the throughput measurement reads."""
    folder = Run("es", encoder, seed).folder(root)
    folder.mkdir(parents=True)
    run = {"encoder": encoder, "encoder_source": source or load_registry()[encoder]["source"]}
    if device:
        run["device"] = device
    (folder / "results.json").write_text(
        json.dumps(
            {
                "status": "finished",
                "run": run,
                "data": {"splits": {"train": {"hours": train_hours}, "dev": {"hours": dev_hours}}},
                "training": {"epochs": epochs, "wall_seconds": wall_seconds, "world_size": world_size},
                "parameters": {"encoder_total": 317.4e6},
            }
        )
    )


def test_measured_throughput_counts_only_gpu_runs_of_the_registry_encoders(tmp_path):
    write_results(tmp_path, "xlsr-53", 1, "cuda:0", world_size=2)
    write_results(tmp_path, "xlsr-53", 2, "cpu")
    write_results(tmp_path, "xlsr-53", 3, "cuda:0", source="/tiny/wav2vec2")
    write_results(tmp_path, "xlsr-53", 4, None)
    measured = measured_throughput(tmp_path, CostAssumptions(epochs=3, eval_cost_ratio=1 / 3))
    # 3 epochs x (10 h train + 1/3 x 1 h dev) of audio in 1 h on 2 GPUs
    assert measured.audio_hours_per_gpu_hour == pytest.approx(3 * (10 + 1 / 3) / 2)
    assert measured.runs == 1
    assert measured.left_out == {"ran on cpu": 1, "encoder_source replaced": 1, "device not recorded": 1}


def write_common_voice_folder(folder, train_header="client_id\tpath\tsentence"):
    """A Common Voice language folder without clips: enough for preparation to read its TSVs."""
    (folder / "clips").mkdir(parents=True)
    (folder / "train.tsv").write_text(train_header + "\n")
    for split in ("dev", "test", "validated"):
        (folder / f"{split}.tsv").write_text("client_id\tpath\tsentence\n")


@pytest.mark.slow  # four grid processes, one of them preparing a language
def test_a_failed_preparation_is_shown_on_the_console_and_in_status_until_one_succeeds(tmp_path):
    data = tmp_path / "cv" / "es"
    write_common_voice_folder(data, train_header="client_id\tpath")  # no sentence column
    root = tmp_path / "results"
    selection = ["--results-root", root, "--langs", "es", "--encoders", "xlsr-53", "wavlm-large", "--seeds", "1"]
    run = grid_cli("run", *selection, "--data-root", data.parent, "--gpus-per-run", "0")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "preparing es FAILED" in run.stdout
    reason = f"{data / 'train.tsv'}:1: header lacks required column(s) ['sentence']"
    assert reason in run.stdout  # the error itself, not only the log's path
    assert "] start " not in run.stdout

    status = grid_cli("status", *selection)
    assert status.stdout.startswith("2 runs: 0 done, 0 running, 2 failed, 0 pending"), status.stdout
    assert f"preparation of es failed: {reason}" in status.stdout
    (prep_log,) = (root / "grid").glob("local-*/prep_es.log")
    assert f"log: {prep_log}" in status.stdout

    (data / "train.tsv").write_text("client_id\tpath\tsentence\n")
    prepare = grid_cli("prepare", *selection, "--data-root", data.parent)
    assert prepare.returncode == 0, prepare.stderr
    assert not prep_failure_file(root, "es").exists()
    assert grid_cli("status", *selection).stdout.startswith("2 runs: 0 done, 0 running, 0 failed, 2 pending")


def test_a_data_root_one_level_too_deep_is_named_before_anything_runs(tmp_path):
    data = tmp_path / "cv-corpus-7.0" / "es"
    write_common_voice_folder(data)
    root = tmp_path / "results"
    for command in ("prepare", "run"):
        out = grid_cli(
            command,
            "--results-root",
            root,
            "--langs",
            "es",
            "--encoders",
            "xlsr-53",
            "--seeds",
            "1",
            "--data-root",
            data,
        )
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"--data-root {data} is one language's Common Voice folder" in out.stderr
        assert "one level too deep" in out.stderr and f"Give its parent: --data-root {data.parent}" in out.stderr
        assert "Traceback" not in out.stderr and not root.exists()


def test_data_folders_are_checked_with_what_they_must_hold(tmp_path):
    write_common_voice_folder(tmp_path / "cv" / "es")
    assert GridJob(results_root=tmp_path / "r", data_root=tmp_path / "cv").check_data_folder("es") is None
    with pytest.raises(
        GridError,
        match=r"de: .*/cv/de does not exist\. --data-root must hold one Common Voice "
        r"folder per language, <data root>/<lang>/ with train\.tsv, dev\.tsv, "
        r"test\.tsv and clips/",
    ):
        GridJob(results_root=tmp_path / "r", data_root=tmp_path / "cv").check_data_folder("de")
    with pytest.raises(GridError, match=r"it holds es/, which is one: give --data-folder es=.*/cv/es$"):
        GridJob(results_root=tmp_path / "r", data_folders={"es": tmp_path / "cv"}).check_data_folder("es")
    (tmp_path / "cv" / "es" / "test.tsv").unlink()
    with pytest.raises(GridError, match=r"/cv/es lacks test\.tsv"):
        GridJob(results_root=tmp_path / "r", data_root=tmp_path / "cv").check_data_folder("es")


def test_cpu_tiny_switch_reaches_every_run_command(tmp_path):
    out = grid_cli(
        "plan",
        "--results-root",
        tmp_path,
        "--langs",
        "es",
        "--encoders",
        "xlsr-53",
        "--seeds",
        "1",
        "--data-root",
        tmp_path / "cv",
        "--cpu-tiny",
        "--",
        "--number_of_epochs=1",
    )
    assert out.returncode == 0, out.stderr
    (command,) = [line for line in out.stdout.splitlines() if "train.py" in line]
    assert "--cpu_tiny=True --number_of_epochs=1" in command


def write_fake_sbatch(folder, first_job_id):
    """An sbatch that appends its arguments to folder/calls and answers job ids first_job_id + 1, + 2, ..."""
    sbatch = folder / "sbatch"
    sbatch.write_text(
        '#!/bin/bash\necho "$@" >> "$(dirname "$0")/calls"\n'
        f'n=$(wc -l < "$(dirname "$0")/calls")\necho "$(({first_job_id} + n));cluster"\n'
    )
    sbatch.chmod(0o755)
    return sbatch


def test_slurm_scripts_request_resources_from_the_registry(tmp_path):
    fake_sbatch = write_fake_sbatch(tmp_path, 100)
    root = tmp_path / "results"
    write_prep_report(root, "es", (100.0, 1.0, 1.0))
    job = GridJob(results_root=root, data_root=tmp_path / "cv", gpus_per_run=1)
    options = SlurmOptions(gpu_types={"a100_40g": 40, "a100_80g": 80}, partition="gpu", prep_partition="cpu", mem="64G")
    runs = select_grid(["es"], ["xlsr-53", "wavlm-large"], [1, 2])
    records = SlurmExecutor(job, options, sbatch=str(fake_sbatch), out=lambda _: None).submit(
        runs, CostAssumptions(epochs=3)
    )

    assert [r["job_id"] for r in records] == ["101", "102", "103"]
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0].endswith("prep.sbatch")
    assert all(call.startswith("--parsable --dependency=afterok:101 ") for call in calls[1:])
    scripts = {r["gres"]: (root / "grid").glob(f"slurm-*/{r['script']}").__next__().read_text() for r in records[1:]}
    assert set(scripts) == {"gpu:a100_40g:1", "gpu:a100_80g:1"}  # wavlm-large needs 48 GB
    wavlm = scripts["gpu:a100_80g:1"]
    # (3 x 100 + (3 x 1 + 1) / 3) / 60 + 0.1 GPU-hours, x 1.5, rounded up to 15 minutes: 07:45:00
    for directive in (
        "--requeue",
        "--signal=B:USR1@300",
        "--time=07:45:00",
        "--gres=gpu:a100_80g:1",
        "--partition=gpu",
        "--mem=64G",
        "--open-mode=append",
    ):
        assert f"#SBATCH {directive}\n" in wavlm
    assert "trap 'stop_and_requeue USR1' USR1" in wavlm and 'scontrol requeue "$task"' in wavlm
    array = re.search(r"#SBATCH --array=(\S+)", wavlm).group(1)
    manifest = json.loads(next((root / "grid").glob("slurm-*/manifest.json")).read_text())
    assert {manifest["runs"][int(i)]["encoder"] for i in re.split(r"[,-]", array)} == {"wavlm-large"}
    # The CPU-only preparation goes to its own partition, never to the GPU one.
    prep = next((root / "grid").glob("slurm-*/prep.sbatch")).read_text()
    assert re.findall(r"#SBATCH --partition=.*", prep) == ["#SBATCH --partition=cpu"]
    assert "--gres" not in prep


def test_slurm_preparation_uses_the_default_partition_unless_given(tmp_path):
    fake_sbatch = tmp_path / "sbatch"
    fake_sbatch.write_text('#!/bin/bash\necho "1;cluster"\n')
    fake_sbatch.chmod(0o755)
    root = tmp_path / "results"
    job = GridJob(results_root=root, data_root=tmp_path / "cv", gpus_per_run=1)
    SlurmExecutor(
        job, SlurmOptions(partition="gpu", time="01:00:00"), sbatch=str(fake_sbatch), out=lambda _: None
    ).submit(select_grid(["es"], ["xlsr-53"], [1]), CostAssumptions(epochs=3))
    (submission,) = (root / "grid").glob("slurm-*")
    assert "--partition" not in (submission / "prep.sbatch").read_text()
    assert "#SBATCH --partition=gpu\n" in (submission / "train0.sbatch").read_text()
