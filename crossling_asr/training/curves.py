"""Training curves in TensorBoard or Weights & Biases, beside train_log.txt (off by default).

The hparams key `training_curves` lists where else the per-epoch statistics
that train_log.txt holds (train loss, dev loss, CER, WER, learning rates) go:
`tensorboard` (event files in <output_folder>/tensorboard) and `wandb` (a run
named after the output folder, resumed with it). SpeechBrain's own loggers
(speechbrain.utils.train_logger.TensorboardLogger and WandBLogger) write
them; neither package is a dependency of the recipes, so a run asking for
one that is not installed is refused at start-up, naming the package.
"""

import hashlib
import importlib.util
import os
from pathlib import Path

# Logger name -> the package it needs.
CURVE_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}
# The Weights & Biases project of runs that do not set WANDB_PROJECT.
WANDB_DEFAULT_PROJECT = "crossling-asr"


class CurveLoggerError(ValueError):
    """A training_curves value that names an unknown logger or one whose package is missing."""


def curve_logger_names(value):
    """The logger names of a training_curves value (null, one name, or a list of names), checked:
    each must be known and its package installed."""
    names = [] if value in (None, "", "none") else [value] if isinstance(value, str) else list(value)
    for name in names:
        if name not in CURVE_PACKAGES:
            raise CurveLoggerError(
                f"training_curves: unknown logger {name!r}; expected a list of {', '.join(CURVE_PACKAGES)}"
            )
        package = CURVE_PACKAGES[name]
        if importlib.util.find_spec(package) is None:
            raise CurveLoggerError(
                f"training_curves: {name} needs the `{package}` package, which is not installed here: "
                f"pip install {package}, or leave {name} out of training_curves"
            )
    return names


class FanOutTrainLogger:
    """Passes every log_stats call to each of `loggers` (the file logger first, then the curves)."""

    def __init__(self, loggers):
        self.loggers = list(loggers)

    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None, verbose=False):
        for train_logger in self.loggers:
            train_logger.log_stats(stats_meta, train_stats, valid_stats, test_stats, verbose)


def with_training_curves(train_logger, value, output_folder):
    """`train_logger`, or a FanOutTrainLogger adding the loggers `value` names (see curve_logger_names)."""
    from speechbrain.utils.train_logger import TensorboardLogger, WandBLogger

    names = curve_logger_names(value)
    if not names:
        return train_logger
    loggers = [train_logger]
    for name in names:
        if name == "tensorboard":
            loggers.append(TensorboardLogger(save_dir=str(Path(output_folder) / "tensorboard")))
        else:
            import wandb

            folder = Path(output_folder).resolve()
            loggers.append(
                WandBLogger(
                    wandb.init,
                    project=os.environ.get("WANDB_PROJECT", WANDB_DEFAULT_PROJECT),
                    name="/".join(folder.parts[-3:]),  # <language>/<run name>/seed_<seed>
                    id=hashlib.sha256(str(folder).encode()).hexdigest()[:16],  # a resumed run continues its curves
                    resume="allow",
                    dir=str(folder),
                )
            )
    return FanOutTrainLogger(loggers)
