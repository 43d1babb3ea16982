"""SLURM scripts through a fake sbatch: resources from the registry, the preparation's partition; squeue's
answers read, and a grid submitted again while its tasks are queued (a fake squeue)."""

import json
import re

import pytest

from crossling_asr.grid.cost import CostAssumptions
from crossling_asr.grid.job import GridJob, read_manifest
from crossling_asr.grid.runs import select_grid
from crossling_asr.grid.slurm import SlurmExecutor, SlurmOptions, SqueueError, parse_array_tasks, squeue_tasks
from tests.helpers.grid import write_prep_report
from tests.helpers.slurm import write_fake_sbatch, write_fake_squeue


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


@pytest.mark.parametrize(
    "squeue_id, expected",
    [
        ("123_4", ("123", {4})),
        ("123_[4-7]", ("123", {4, 5, 6, 7})),
        ("123_[0,3-4,9]", ("123", {0, 3, 4, 9})),
        ("123_[5-8%2]", ("123", {5, 6, 7, 8})),
        ("123_[1,3%1]", ("123", {1, 3})),
        ("456", ("456", None)),
    ],
)
def test_squeue_ids_name_their_array_tasks(squeue_id, expected):
    assert parse_array_tasks(squeue_id) == expected


def test_squeue_tasks_by_job_with_those_that_never_start_apart(tmp_path):
    squeue = write_fake_squeue(
        tmp_path,
        "101_0 None\n101_[2-3%1] JobArrayTaskLimit\n102_1 DependencyNeverSatisfied\n103 launch failed requeued held\n",
    )
    can_start, never_starts = squeue_tasks(["101", "102", "103"], str(squeue))
    assert can_start == {"101": {0, 2, 3}, "103": None}
    assert never_starts == {"102": {1}}
    assert (tmp_path / "squeue_calls").read_text() == "--noheader --array --format=%i %r --jobs=101,102,103\n"


def test_squeue_tasks_of_a_job_gone_from_the_queue_are_none(tmp_path):
    # squeue fails when the only job asked about has left the queue
    squeue = write_fake_squeue(tmp_path, "", 1, "slurm_load_jobs error: Invalid job id specified\n")
    assert squeue_tasks(["101"], str(squeue)) == ({}, {})


def test_squeue_tasks_raise_when_squeue_fails_or_is_missing(tmp_path):
    squeue = write_fake_squeue(tmp_path, "", 1, "slurm_load_jobs error: Unable to contact slurm controller\n")
    with pytest.raises(SqueueError, match="Unable to contact slurm controller"):
        squeue_tasks(["101"], str(squeue))
    with pytest.raises(SqueueError, match="No such file"):
        squeue_tasks(["101"], str(tmp_path / "no-squeue"))


def submit_twice(tmp_path, squeue):
    """Submit 4 runs (prep job 101, training array 102 with tasks 0-3), then the same grid again asking
    `squeue`; (the first submission's runs by task id, what the second printed, the runs it submitted)."""
    sbatch = write_fake_sbatch(tmp_path, 100)
    root = tmp_path / "results"
    job = GridJob(results_root=root, data_root=tmp_path / "cv", gpus_per_run=1)
    runs = select_grid(["es"], ["xlsr-53"], [1, 2, 3, 4])
    options = SlurmOptions(time="01:00:00")
    SlurmExecutor(job, options, sbatch=str(sbatch), out=lambda _: None).submit(runs, CostAssumptions(epochs=3))
    (first,) = (root / "grid").glob("slurm-*")
    out = []
    records = SlurmExecutor(job, options, sbatch=str(sbatch), squeue=str(squeue), out=out.append).submit(
        runs, CostAssumptions(epochs=3)
    )
    by_task = read_manifest(first / "manifest.json")[1]
    resubmitted = [run for run in by_task if any(run.name in record.get("runs", ()) for record in records)]
    return by_task, out, resubmitted


def test_a_grid_submitted_again_leaves_out_the_runs_still_queued(tmp_path):
    squeue = write_fake_squeue(tmp_path, "102_1 None\n102_[2-3%2] JobArrayTaskLimit\n")
    by_task, out, resubmitted = submit_twice(tmp_path, squeue)
    assert (tmp_path / "squeue_calls").read_text() == "--noheader --array --format=%i %r --jobs=102\n"
    assert out[0] == "3 runs still pending or running in SLURM (job ids 102): not submitting them again"
    assert out[1] == "0 of 4 runs already finished; submitting 1"
    assert resubmitted == [by_task[0]]
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 4 and calls[3].startswith("--parsable --dependency=afterok:103 ")


def test_a_grid_submitted_again_while_all_its_runs_are_queued_submits_nothing(tmp_path):
    _, out, resubmitted = submit_twice(tmp_path, write_fake_squeue(tmp_path, "102_[0-3] Dependency\n"))
    assert out == [
        "4 runs still pending or running in SLURM (job ids 102): not submitting them again",
        "0 of 4 runs already finished; submitting 0",
    ]
    assert resubmitted == [] and len((tmp_path / "calls").read_text().splitlines()) == 2


def test_runs_whose_tasks_never_start_are_submitted_again(tmp_path):
    squeue = write_fake_squeue(tmp_path, "102_[0-3] DependencyNeverSatisfied\n")
    by_task, out, resubmitted = submit_twice(tmp_path, squeue)
    assert out[0] == (
        "SLURM jobs 102 wait for a job that failed (DependencyNeverSatisfied) and will never start: "
        "submitting their runs again (scancel 102 removes them)"
    )
    assert out[1] == "0 of 4 runs already finished; submitting 4" and resubmitted == by_task


def test_runs_are_all_submitted_again_when_squeue_is_missing(tmp_path):
    by_task, out, resubmitted = submit_twice(tmp_path, tmp_path / "no-squeue")
    assert out[0].startswith("squeue could not tell which earlier tasks are still queued ([Errno 2] No such file")
    assert out[0].endswith("; submitting them all") and out[1] == "0 of 4 runs already finished; submitting 4"
    assert resubmitted == by_task
