"""The grid runner end to end on synthetic data with the local executor.

A tiny grid of 2 languages x 2 tiny encoders of different families x 2 seeds (1 epoch), with 2
concurrent runs, from two grid processes at once on one results root (they must share the work,
never run a run twice and never prepare a language twice); then status, a re-run that launches
nothing, and the report. A failed preparation is shown until one succeeds."""

import datetime
import json
import re
import subprocess
import sys
import time

import pytest

from crossling_asr.grid.runs import ATTEMPT_FILE, LOCK_FILE, LOG_FILE, prep_failure_file, select_grid
from crossling_asr.hparams import REPO_ROOT as ROOT
from tests.helpers.grid import grid_cli, write_common_voice_folder

LANGUAGES = ("es", "it")


ENCODERS = {"wav2vec2-large-lv60": "wav2vec2", "hubert-large-ll60k": "hubert"}  # registry name -> tiny family


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
