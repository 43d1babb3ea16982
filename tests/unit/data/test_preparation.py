"""The hparams data preparation runs with: the default results root, the CPU tiny-encoder switch."""

import yaml

from crossling_asr.data.preparation import preparation_hparams
from crossling_asr.hparams import REPO_ROOT as ROOT


def test_the_default_results_root_is_the_recipe_folder_from_any_working_directory(tmp_path, monkeypatch):
    expected = ROOT / "recipes" / "es" / "results"
    for folder in (ROOT, ROOT / "recipes" / "es", tmp_path):
        monkeypatch.chdir(folder)
        hparams = preparation_hparams("es", ["--data_folder=/data/es"])
        assert hparams["results_root"] == str(expected)
        assert hparams["prep_folder"] == str(expected / "prepared" / "es")
    # A relative --results_root given on the command line stays relative to the working directory.
    assert (
        preparation_hparams("es", ["--data_folder=/data/es", "--results_root=mine"])["prep_folder"]
        == "mine/prepared/es"
    )


def test_cpu_tiny_applies_its_file_under_the_command_line(monkeypatch):
    settings = yaml.safe_load((ROOT / "hparams" / "cpu_tiny.yaml").read_text(encoding="utf-8"))
    study = preparation_hparams("es", ["--data_folder=/data/es"])
    tiny = preparation_hparams(
        "es", ["--data_folder=/data/es", "--cpu_tiny=True", "--encoder_lr=0.01", "--encoder_config={layerdrop: 0.5}"]
    )
    assert study["cpu_tiny"] is False and study["encoder_lr"] != settings["encoder_lr"]
    assert tiny["cpu_tiny"] is True
    assert tiny["encoder_lr"] == 0.01  # the command line wins
    assert tiny["head_lr"] == settings["head_lr"] and tiny["num_workers"] == settings["num_workers"] == 0
    # Nested mappings are merged key by key: the study's other loader options stay, layerdrop is the command line's.
    assert tiny["train_dataloader_options"] == {
        **study["train_dataloader_options"],
        "num_workers": 0,
        "pin_memory": False,
    }
    assert tiny["encoder_config"] == {**study["encoder_config"], **settings["encoder_config"], "layerdrop": 0.5}
