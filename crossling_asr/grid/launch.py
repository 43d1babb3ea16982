"""Launching runs with the executor a command was given: the local queue or SLURM arrays.

One place that turns executor options into a launch, shared by `local/grid.py run` and
`local/choose_encoder.py` (whose probes and fine-tunes are grid runs like any other).
"""

from dataclasses import dataclass, field

from crossling_asr.grid.local import LocalExecutor, make_slots, visible_gpus
from crossling_asr.grid.slurm import SlurmExecutor, SlurmOptions


@dataclass
class ExecutorSettings:
    """Which executor runs a launch, and its options."""

    executor: str = "local"  # local | slurm
    gpus: list = None  # local: GPU ids (None: all visible)
    runs_per_gpu: int = 1  # local: concurrent runs per GPU group (CPU-only machine: CPU slots)
    slurm: SlurmOptions = field(default_factory=SlurmOptions)
    sbatch: str = "sbatch"
    squeue: str = "squeue"


@dataclass
class Launch:
    """What a launch did: the local executor's outcomes, or the SLURM submission's records."""

    outcomes: list = field(default_factory=list)
    submitted: list = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self):
        return [o for o in self.outcomes if o.result == "failed"]


def launch(job, runs, settings, assumptions, hours_table=None):
    """Run the unfinished `runs` of `job` locally (waiting for them) or submit them to SLURM (returning
    at once); finished runs are never redone, and each language is prepared once before its runs."""
    if settings.executor == "slurm":
        executor = SlurmExecutor(job, settings.slurm, sbatch=settings.sbatch, squeue=settings.squeue)
        return Launch(submitted=executor.submit(runs, assumptions, hours_table))
    gpus = [] if job.gpus_per_run == 0 else (settings.gpus if settings.gpus is not None else visible_gpus())
    executor = LocalExecutor(job, make_slots(gpus, job.gpus_per_run, settings.runs_per_gpu))
    outcomes = executor.run(runs)
    return Launch(outcomes=outcomes, interrupted=executor.stop.is_set())
