"""Learning-rate schedules the Brain drives, with one small interface.

`on_optimizer_step(brain)` runs after every optimizer step and
`on_valid_end(brain, valid_loss)` after every validation; each returns the
learning rates now in force, for the log. Both schedules act on every
optimizer in `brain.optimizers_dict` (encoder and head).
"""

import torch
from speechbrain.nnet.schedulers import NewBobScheduler
from speechbrain.utils import checkpoints


def current_lrs(brain):
    """{optimizer name: lr of its first parameter group}."""
    return {name: opt.param_groups[0]["lr"] for name, opt in brain.optimizers_dict.items()}


@checkpoints.register_checkpoint_hooks
class WarmupLinearDecay:
    """Linear warm-up over `warmup_ratio` of the run, then linear decay to zero.

    The schedule of Hugging Face's Trainer, which the study's runs used. The
    rate follows from the Brain's optimizer step (which is checkpointed) and
    the run's total number of steps; the checkpoint only records the ratio,
    so a resumed run with a different ratio is noticed.
    """

    def __init__(self, warmup_ratio=0.1):
        self.warmup_ratio = warmup_ratio

    def factor(self, step, total):
        warmup = max(1, int(self.warmup_ratio * total))
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    def on_optimizer_step(self, brain):
        factor = self.factor(brain.optimizer_step, brain.total_optimizer_steps)
        for opt in brain.optimizers_dict.values():
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * factor
        return current_lrs(brain)

    def on_valid_end(self, brain, valid_loss):
        return current_lrs(brain)

    @checkpoints.mark_as_saver
    def save(self, path):
        torch.save({"warmup_ratio": self.warmup_ratio}, path)

    @checkpoints.mark_as_loader
    def load(self, path, end_of_epoch=False):
        del end_of_epoch
        saved = torch.load(path, weights_only=True)["warmup_ratio"]
        if saved != self.warmup_ratio:
            raise ValueError(f"checkpoint was trained with warmup_ratio {saved}, not {self.warmup_ratio}")


@checkpoints.register_checkpoint_hooks
class NewBobOnValidLoss:
    """SpeechBrain's stock schedule: anneal each optimizer's rate when dev loss stalls."""

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

    def on_optimizer_step(self, brain):
        return current_lrs(brain)

    def on_valid_end(self, brain, valid_loss):
        for name, opt in brain.optimizers_dict.items():
            _, new_lr = self._scheduler(name, opt.param_groups[0]["initial_lr"])(valid_loss)
            for group in opt.param_groups:
                group["lr"] = new_lr
        return current_lrs(brain)

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
