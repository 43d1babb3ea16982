"""training_curves: SpeechBrain's TensorBoard / W&B loggers on request, a clear error without the package."""

import importlib.util

import pytest
from speechbrain.utils.train_logger import FileTrainLogger

from crossling_asr.training.curves import CurveLoggerError, FanOutTrainLogger, curve_logger_names, with_training_curves


def without_package(monkeypatch, package):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else find_spec(name, *a))


@pytest.mark.parametrize("name", ["tensorboard", "wandb"])
def test_a_logger_whose_package_is_missing_is_refused_naming_the_package(monkeypatch, name):
    without_package(monkeypatch, name)
    with pytest.raises(CurveLoggerError) as err:
        curve_logger_names([name])
    assert str(err.value) == (
        f"training_curves: {name} needs the `{name}` package, which is not installed here: "
        f"pip install {name}, or leave {name} out of training_curves"
    )


def test_an_unknown_logger_is_refused():
    with pytest.raises(CurveLoggerError, match="unknown logger 'tensorbord'; expected a list of tensorboard, wandb"):
        curve_logger_names(["tensorbord"])


def test_off_by_default_the_file_logger_is_left_as_it_is(tmp_path):
    file_logger = FileTrainLogger(tmp_path / "train_log.txt")
    assert with_training_curves(file_logger, [], tmp_path) is file_logger
    assert curve_logger_names(None) == [] and curve_logger_names("none") == []


def test_the_fan_out_passes_each_epoch_to_every_logger(tmp_path):
    first, second = FileTrainLogger(tmp_path / "a.txt"), FileTrainLogger(tmp_path / "b.txt")
    FanOutTrainLogger([first, second]).log_stats({"epoch": 1}, train_stats={"loss": 2.5}, valid_stats={"CER": 40.0})
    expected = "epoch: 1 - train loss: 2.50 - valid CER: 40.00\n"
    assert (tmp_path / "a.txt").read_text() == expected
    assert (tmp_path / "b.txt").read_text() == expected
