"""Run a recipe that SIGKILLs itself at a chosen moment: a crash at an exact point, on a real run.

    python tests/helpers/die_at.py POINT EPOCH recipes/<lang>/train.py hparams/<lang>.yaml [overrides...]

POINT is where, in epoch EPOCH, the process kills itself (no clean-up runs,
as with a power cut or the OOM killer):
  validation        inside the first dev batch
  checkpoint_write  inside the end-of-epoch checkpoint save, when the encoder,
                    head and schedule files are written and the run state and
                    optimizer files are not yet
Killing from outside at the right moment would be a race; the recipe code
that runs is the users', only two functions are wrapped.
"""

import os
import runpy
import signal
import sys
from pathlib import Path

import speechbrain as sb
from speechbrain.utils import checkpoints

from crossling_asr.training.brain import CTCBrain, RunState


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def die_in_validation(epoch):
    evaluate_batch = CTCBrain.evaluate_batch

    def wrapped(self, batch, stage):
        if stage == sb.Stage.VALID and self.hparams.epoch_counter.current == epoch:
            die()
        return evaluate_batch(self, batch, stage)

    CTCBrain.evaluate_batch = wrapped


def die_in_checkpoint_write(epoch):
    save_run_state = checkpoints.DEFAULT_SAVE_HOOKS[RunState]

    def wrapped(obj, path):
        meta = (Path(path).parent / "CKPT.yaml").read_text()  # SpeechBrain writes it first
        if "end-of-epoch: true" in meta and f"epoch: {epoch}\n" in meta:
            die()
        return save_run_state(obj, path)

    checkpoints.DEFAULT_SAVE_HOOKS[RunState] = wrapped


if __name__ == "__main__":
    point, epoch, script, *recipe_args = sys.argv[1:]
    {"validation": die_in_validation, "checkpoint_write": die_in_checkpoint_write}[point](int(epoch))
    sys.argv = [script, *recipe_args]
    runpy.run_path(script, run_name="__main__")
