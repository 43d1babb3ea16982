"""Grid cost estimates: from preparation reports and an hours table, measured throughput, bad options refused."""

import json
import re

import pytest

from crossling_asr.grid.cost import CostAssumptions, estimate, load_hours_table, measured_throughput
from crossling_asr.grid.runs import GridError, Run, select_grid
from crossling_asr.registry import load_registry
from tests.helpers.grid import grid_cli, write_prep_report


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
