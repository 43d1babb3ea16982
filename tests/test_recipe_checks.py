"""The recipe's start-up: device and precision refused before data preparation, the default
results root, the CPU tiny-encoder switch, the resume message, the tiny-encoder command."""

import json
import logging
import subprocess
import sys
import time

import pytest
import speechbrain as sb
import torch
import yaml
from conftest import ROOT, run_recipe
from speechbrain.utils.epoch_loop import EpochCounter

from crossling_asr.data.preparation import preparation_hparams
from crossling_asr.recipe import check_device_and_precision, log_resume
from crossling_asr.training.checkpoints import AtomicCheckpointer

STUDY = {"precision": "fp32", "eval_precision": "fp32"}  # the keys as hparams/ctc_study.yaml sets them


def run_options(*args):
    """SpeechBrain's run options parsed from a real command line."""
    return sb.parse_arguments(["hparams/es.yaml", *args])[1]


@pytest.mark.parametrize(
    "hparams, args, message",
    [
        (STUDY, ["--device=cpu", "--precision=fp16"], "--precision=fp16 needs a CUDA GPU"),
        (STUDY, ["--device=cpu", "--eval_precision=fp16"], "--eval_precision=fp16 needs a CUDA GPU"),
        ({**STUDY, "precision": "fp16"}, ["--device=cpu"], "--precision=fp16 needs a CUDA GPU"),
        # SpeechBrain's parser checks the run option's value; a value from hparams is checked here.
        ({**STUDY, "eval_precision": "fp8"}, [], "--eval_precision=fp8: expected one of fp32, fp16, bf16"),
    ],
)
def test_a_precision_the_device_cannot_run_is_refused(hparams, args, message):
    with pytest.raises(SystemExit) as stop:
        check_device_and_precision(hparams, run_options(*args))
    assert message in str(stop.value)


def test_bf16_and_fp32_on_cpu_are_accepted():
    for args in (["--device=cpu"], ["--device=cpu", "--precision=bf16", "--eval_precision=bf16"]):
        assert check_device_and_precision(STUDY, run_options(*args)) is None
    # The command line wins over the hparams key, as in sb.Brain.
    assert (
        check_device_and_precision({**STUDY, "precision": "fp16"}, run_options("--device=cpu", "--precision=bf16"))
        is None
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_a_cuda_device_without_a_gpu_is_refused():
    with pytest.raises(SystemExit, match=r"--device=cuda:0, but no CUDA GPU is visible here"):
        check_device_and_precision(STUDY, run_options("--device=cuda:0"))


def test_fp16_on_cpu_stops_the_recipe_before_data_preparation(make_corpus, tiny_encoders, tmp_path):
    corpus = make_corpus("es", n_train=12, n_dev=4, n_test=4)
    started = time.time()
    proc = run_recipe(
        "es", corpus, tiny_encoders["wav2vec2"], tmp_path, extra=["--device=cpu", "--precision=fp16"], check=False
    )
    assert proc.returncode != 0
    assert "error: --precision=fp16 needs a CUDA GPU" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "prepared").exists()  # refused before any clip was converted
    assert time.time() - started < 120


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


def test_resuming_says_from_which_checkpoint_and_epoch(tmp_path, caplog):
    counter = EpochCounter(limit=5)
    checkpointer = AtomicCheckpointer(tmp_path / "save", recoverables={"counter": counter})
    hparams = {"checkpointer": checkpointer, "output_folder": str(tmp_path)}
    with caplog.at_level(logging.INFO, logger="crossling_asr.recipe"):
        log_resume(hparams)
        assert "Resuming" not in caplog.text  # nothing to resume from
        next(counter), next(counter)
        end_of_epoch = checkpointer.save_checkpoint(meta={"epoch": 2})
        log_resume(hparams)
        assert f"Resuming {tmp_path} from checkpoint {end_of_epoch.path.name} (after epoch 2)" in caplog.text
        next(counter)
        time.sleep(0.01)  # checkpoints are ordered by their save time
        mid_epoch = checkpointer.save_checkpoint(end_of_epoch=False)
        log_resume(hparams)
        assert f"from checkpoint {mid_epoch.path.name} (during epoch 3)" in caplog.text


@pytest.mark.slow
def test_tiny_encoders_command_writes_loadable_encoders(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "local" / "tiny_encoders.py"), tmp_path, "--families", "wav2vec2"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    config = json.loads((tmp_path / "wav2vec2" / "config.json").read_text())
    assert config["model_type"] == "wav2vec2" and config["hidden_size"] == 96
    assert str(tmp_path / "wav2vec2") in proc.stdout and "xlsr-53" in proc.stdout
    assert not (tmp_path / "hubert").exists()
