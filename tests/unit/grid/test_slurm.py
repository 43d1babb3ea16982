"""SLURM scripts through a fake sbatch: resources from the registry, the preparation's partition."""

import json
import re

from crossling_asr.grid.cost import CostAssumptions
from crossling_asr.grid.job import GridJob
from crossling_asr.grid.runs import select_grid
from crossling_asr.grid.slurm import SlurmExecutor, SlurmOptions
from tests.helpers.grid import write_prep_report
from tests.helpers.slurm import write_fake_sbatch


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
