"""The recipe's start-up: device and precision refused before anything runs, SpeechBrain's
non-finite patience refused for the project's own option, the resume message."""

import logging
import time

import pytest
import speechbrain as sb
import torch
from speechbrain.utils.epoch_loop import EpochCounter

from crossling_asr.hparams import language_file
from crossling_asr.recipe import check_device_and_precision, log_resume, main
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


class HparamsLoaded(Exception):
    """Raised in place of loading the hparams: start-up got that far."""


@pytest.mark.parametrize("option", [["--nonfinite_patience=3"], ["--nonfinite_patience", "3"]])
def test_speechbrains_nonfinite_patience_is_refused_at_start_up_naming_the_hparam_to_use(option, monkeypatch):
    def load_recipe_hparams(*args):
        raise HparamsLoaded

    monkeypatch.setattr("crossling_asr.recipe.load_recipe_hparams", load_recipe_hparams)
    with pytest.raises(SystemExit, match=r"--nonfinite_patience .*--max_consecutive_nonfinite=3"):
        main([str(language_file("es")), *option])
    with pytest.raises(HparamsLoaded):
        main([str(language_file("es")), "--max_consecutive_nonfinite=3"])
