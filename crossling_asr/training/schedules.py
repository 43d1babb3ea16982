"""Learning-rate schedules the Brain drives, with one small interface.

`before_optimizer_step(brain)` runs right before every optimizer step, while
`brain.optimizer_step` is that step's 0-based index, and sets the rate that
step uses; `on_valid_end(brain, valid_loss)` runs after every validation and
returns the learning rates in force for the epoch just validated (for the
log). Both act on every optimizer in `brain.optimizers_dict` (encoder and
head), whether or not it is frozen at that step.
"""

import abc
import math

import torch
from speechbrain.nnet.schedulers import NewBobScheduler
from speechbrain.utils import checkpoints


def current_lrs(brain):
    """{optimizer name: lr of its first parameter group}."""
    return {name: opt.param_groups[0]["lr"] for name, opt in brain.optimizers_dict.items()}


def linear_warmup_decay(step, warmup_steps, total_steps):
    """Share of the peak rate that 0-based optimizer step `step` uses.

    The lr_lambda of transformers.get_linear_schedule_with_warmup, written out
    so a transformers upgrade cannot change a tuned run's schedule (the tests
    compare the two over whole runs): 0 at step 0, rising linearly to 1 at
    `warmup_steps`, then falling linearly to 0 at `total_steps`.
    """
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


@checkpoints.register_checkpoint_hooks
class StepFactorSchedule(abc.ABC):
    """A schedule whose every step's rate is the peak rate times `factor(step, total_steps)`.

    The rate follows from the Brain's optimizer step (which is checkpointed) and the run's
    total number of steps, so a resumed run continues the same curve. The checkpoint records
    the schedule's settings under `checkpoint_key`, so a resume with other settings, or from a
    checkpoint of another schedule, stops with a clear error. Subclasses give `factor`,
    `checkpoint_key` and `settings`.
    """

    checkpoint_key = ""
    settings = None

    @abc.abstractmethod
    def factor(self, step, total):
        """Share of the peak rate that 0-based optimizer step `step` of `total` uses."""

    def before_optimizer_step(self, brain):
        factor = self.factor(brain.optimizer_step, brain.total_optimizer_steps)
        for opt in brain.optimizers_dict.values():
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * factor

    def on_valid_end(self, brain, valid_loss):
        """The rates of the epoch's last optimizer step."""
        return current_lrs(brain)

    @checkpoints.mark_as_saver
    def save(self, path):
        torch.save({self.checkpoint_key: self.settings}, path)

    @checkpoints.mark_as_loader
    def load(self, path, end_of_epoch=False):
        del end_of_epoch
        saved = torch.load(path, weights_only=True)
        if self.checkpoint_key not in saved:
            raise ValueError(
                f"{path}: checkpoint of another learning-rate schedule ({', '.join(saved)}): it was written "
                "under other protocol settings; resume it with those, or start a new run folder"
            )
        if saved[self.checkpoint_key] != self.settings:
            raise ValueError(
                f"checkpoint was trained with {self.checkpoint_key} {saved[self.checkpoint_key]}, not {self.settings}"
            )


@checkpoints.register_checkpoint_hooks
class WarmupLinearDecay(StepFactorSchedule):
    """Linear warm-up over `warmup_ratio` of the run, then linear decay to zero.

    The schedule of Hugging Face's Trainer (lr_scheduler_type "linear"), which
    the tuned protocol uses (as the study did before it followed HuggingSound
    0.1.6): ceil(warmup_ratio x total) warm-up steps, as the Trainer counts
    them from a ratio, and transformers'
    get_linear_schedule_with_warmup for the rate of each step. The rate
    follows from the Brain's optimizer step (which is checkpointed) and the
    run's total number of steps, so a resumed run continues the same curve;
    the checkpoint only records the ratio, so a resumed run with a different
    ratio is noticed.
    """

    checkpoint_key = "warmup_ratio"

    def __init__(self, warmup_ratio=0.1):
        self.warmup_ratio = self.settings = warmup_ratio

    def factor(self, step, total):
        return linear_warmup_decay(step, math.ceil(total * self.warmup_ratio), total)


def warmup_constant_decay(step, total_steps, warmup_steps=0, decay_steps=0, min_lr_ratio=0.0):
    """Share of the peak rate that 0-based optimizer step `step` uses under HuggingSound 0.1.6's schedule.

    The lr_lambda of huggingsound/trainer.py CTCTrainer.create_scheduler, which replaces the
    Trainer's linear schedule: a linear rise over the first `warmup_steps`, a linear fall over
    the last `decay_steps`, the peak rate in between, never below `min_lr_ratio`. With
    HuggingSound's defaults (TrainingArguments.lr_warmup_steps = lr_decay_steps = 0) the rate is
    constant. Written out because HuggingSound defines it inside a method (nothing to import).
    """
    if warmup_steps and step < warmup_steps:
        return max(min_lr_ratio, step / max(1, warmup_steps))
    if decay_steps and step >= total_steps - decay_steps:
        return max(min_lr_ratio, (total_steps - step) / max(1, decay_steps))
    return 1.0


@checkpoints.register_checkpoint_hooks
class WarmupConstantDecay(StepFactorSchedule):
    """HuggingSound 0.1.6's schedule (warmup_constant_decay): constant with its defaults.

    Like WarmupLinearDecay, the rate follows from the Brain's checkpointed optimizer step and
    the run's total steps, so a resumed run continues the same curve; the checkpoint records the
    settings, so a resume with other settings, or from a checkpoint of another schedule, stops
    with a clear error.
    """

    checkpoint_key = "warmup_constant_decay"

    def __init__(self, warmup_steps=0, decay_steps=0, min_lr_ratio=0.0):
        self.settings = {"warmup_steps": warmup_steps, "decay_steps": decay_steps, "min_lr_ratio": min_lr_ratio}

    def factor(self, step, total):
        return warmup_constant_decay(step, total, **self.settings)


@checkpoints.register_checkpoint_hooks
class NewBobOnValidLoss:
    """SpeechBrain's stock schedule: anneal each optimizer's rate when dev loss stalls.

    The annealed rate applies from the next epoch on; the optimizers' own
    checkpoints carry it across a resume, the schedulers' carry the loss history.
    """

    def __init__(self, annealing_factors, improvement_threshold=0.0025, patient=0):
        self.annealing_factors = dict(annealing_factors)
        self.improvement_threshold = improvement_threshold
        self.patient = patient
        self.schedulers = {}

    def _scheduler(self, name, lr):
        if name not in self.schedulers:
            self.schedulers[name] = NewBobScheduler(
                initial_value=lr,
                annealing_factor=self.annealing_factors[name],
                improvement_threshold=self.improvement_threshold,
                patient=self.patient,
            )
        return self.schedulers[name]

    def before_optimizer_step(self, brain):
        """Nothing: the rate changes only between epochs."""

    def on_valid_end(self, brain, valid_loss):
        """Anneal for the next epoch; returns the rates the validated epoch used."""
        in_force = current_lrs(brain)
        for name, opt in brain.optimizers_dict.items():
            _, new_lr = self._scheduler(name, opt.param_groups[0]["initial_lr"])(valid_loss)
            for group in opt.param_groups:
                group["lr"] = new_lr
        return in_force

    @checkpoints.mark_as_saver
    def save(self, path):
        state = {
            name: {"value": s.hyperparam_value, "metrics": s.metric_values, "patient": s.current_patient}
            for name, s in self.schedulers.items()
        }
        torch.save(state, path)

    @checkpoints.mark_as_loader
    def load(self, path, end_of_epoch=False):
        del end_of_epoch
        state = torch.load(path, weights_only=True)
        for name, s in state.items():
            scheduler = self._scheduler(name, s["value"])
            scheduler.hyperparam_value = s["value"]
            scheduler.metric_values = s["metrics"]
            scheduler.current_patient = s["patient"]
