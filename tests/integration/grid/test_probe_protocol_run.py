"""`local/grid.py run -- --protocol=probe --probe_head=linear` on a tiny encoder, then `status` without
repeating the flags: the probe shows as done, with the options that select it."""

import json

from crossling_asr.grid.runs import Run
from tests.helpers.grid import grid_cli


def test_a_probe_grid_runs_and_status_finds_it_without_its_flags(tmp_path, make_corpus, tiny_encoders):
    data = make_corpus("es", n_train=8, n_dev=2, n_test=2, seed=21)
    root = tmp_path / "results"
    source = tiny_encoders["wav2vec2"]
    selection = ["--results-root", root, "--langs", "es", "--encoders", "xlsr-53", "--seeds", "1"]
    ran = grid_cli(
        "run",
        *selection,
        "--encoder-source",
        f"xlsr-53={source}",
        "--data-folder",
        f"es={data}",
        "--gpus-per-run",
        "0",
        "--cpu-tiny",
        "--",
        "--protocol=probe",
        "--probe_head=linear",
        "--number_of_epochs=1",
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run = Run("es", "xlsr-53", 1, "probe", str(source))
    results = json.loads((run.folder(root) / "results.json").read_text())
    assert results["hparams"]["probe_head"] == "linear" and results["run"]["protocol"] == "probe"

    status = grid_cli("status", *selection)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("1 runs: 0 done, 0 running, 0 failed, 1 pending")  # registry weights, study
    assert "1 more runs under the results root, of another protocol or encoder source than selected: 1 done" in (
        status.stdout
    )
    assert f"{run.name}  done" in status.stdout
    assert f"selected by: --encoders xlsr-53 --seeds 1 --protocol probe --encoder-source xlsr-53={source}" in (
        status.stdout
    )
