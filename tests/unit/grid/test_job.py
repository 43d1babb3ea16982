"""The grid job: selection and overrides checked, data folders checked, the run commands."""

import pytest

from crossling_asr.grid.job import GridJob
from crossling_asr.grid.runs import GridError, Run, select_grid
from tests.helpers.grid import grid_cli, write_common_voice_folder


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
