"""The runs behind "which encoder for my language?": probes of every candidate, then (optionally)
short fine-tunes of the best probes and a full fine-tune of the best of those.

Every stage is a grid submission like `local/grid.py run`'s (GridJob, the local or SLURM
executor through crossling_asr.grid.launch): finished runs are never redone, a killed command
resumes where it stopped, and the language is prepared once, under <results root>/prepared/,
for every stage.

Stages and where their runs live:
- probe: the probe protocol (hparams/protocols/probe.yaml), every candidate x seed, in
  <results root>/<lang>/<encoder>.probe[~<source>]/seed_<N>/ (where the report's probe section
  and other languages' probes live too, so their rankings can be compared with fine-tuning).
  The feature cache (probe_feature_cache: language) is used when it pays: when an utterance's
  hidden states are needed more than once (more than one epoch, or several seeds).
- confirm (successive halving, off by default): the `confirm_top` best probes are fine-tuned
  (study protocol) for `confirm_epochs` epochs, in <results root>/choose/<lang>/short/<lang>/...
  (their own results root, so a short fine-tune never takes the folder of a full one; the
  preparation is the main root's, through prep_folder), then the best of them is fine-tuned with
  the study's settings in <results root>/<lang>/<encoder>[~<source>]/seed_<N>/, beside the grid's
  fine-tunes.

Cost: the device-hours the runs spent (results.json training.wall_seconds x world_size, on the
device they ran on) against the estimated GPU-hours of fine-tuning every candidate with the
study's settings (crossling_asr.grid.cost, on the prepared corpus hours).
"""

from dataclasses import dataclass, field
from pathlib import Path

from crossling_asr.grid.cost import CostAssumptions, epochs_from_overrides, estimate, study_epochs
from crossling_asr.grid.job import GridJob
from crossling_asr.grid.runs import RESULTS_FILE, grid_status, read_json, select_grid
from crossling_asr.run_layout import CHOOSE_FOLDER, STUDY_PROTOCOL, run_name
from crossling_asr.training.quick_run import CPU_TINY_OVERRIDES

PROBE_PROTOCOL = "probe"
FEATURE_CACHE_CHOICES = ("auto", "none", "run", "language")


@dataclass
class ChooseSettings:
    """What one `choose` command asks for."""

    language: str
    data_folder: str
    results_root: str
    encoders: list = None  # None: every encoder of the registry
    encoder_sources: dict = field(default_factory=dict)
    seeds: list = field(default_factory=lambda: [1])
    epochs: int = None  # of the probes; None: the study's
    train_hours: float = None  # training audio of the probes (None: the whole training set)
    probe_head: str = None  # None: the probe protocol's (linear with cpu_tiny)
    feature_cache: str = "auto"
    cpu_tiny: bool = False
    gpus_per_run: int = 1
    extra_overrides: list = field(default_factory=list)  # passed to every run
    confirm_top: int = 0  # 0: no confirm stage
    confirm_epochs: int = 1

    def __post_init__(self):
        self.results_root = str(Path(self.results_root).resolve())
        if self.feature_cache not in FEATURE_CACHE_CHOICES:
            raise ValueError(f"feature cache {self.feature_cache!r}: one of {', '.join(FEATURE_CACHE_CHOICES)}")

    @property
    def answer_folder(self):
        return Path(self.results_root) / CHOOSE_FOLDER / self.language


def label(run):
    """An encoder's name in the answer: its registry name, with its source tag when replaced."""
    return run_name(run.encoder, STUDY_PROTOCOL, run.encoder_source)


def common_overrides(settings):
    return [*(CPU_TINY_OVERRIDES if settings.cpu_tiny else []), *settings.extra_overrides]


def probe_overrides(settings):
    """The recipe overrides of every probe (module docstring: the feature cache when it pays)."""
    overrides = common_overrides(settings)
    if settings.epochs is not None:
        overrides.append(f"--number_of_epochs={settings.epochs}")
    if settings.train_hours is not None:
        overrides.append(f"--train_hours={settings.train_hours}")
    if settings.probe_head is not None:
        overrides.append(f"--probe_head={settings.probe_head}")
    cache = settings.feature_cache
    if cache == "auto":
        reuse = epochs_from_overrides(overrides) > 1 or len(settings.seeds) > 1
        cache = "language" if reuse else "none"
    overrides.append(f"--probe_feature_cache={cache}")
    return overrides


def probe_stage(settings, stale_after=None):
    """(job, runs) of the probes of every candidate."""
    job = GridJob(
        results_root=settings.results_root,
        data_folders={settings.language: settings.data_folder},
        recipe_overrides=probe_overrides(settings),
        gpus_per_run=settings.gpus_per_run,
        protocol=PROBE_PROTOCOL,
        **({"stale_after": stale_after} if stale_after else {}),
    )
    runs = select_grid([settings.language], settings.encoders, settings.seeds, PROBE_PROTOCOL, settings.encoder_sources)
    return job, runs


def short_stage(settings, encoders):
    """(job, runs) of the short fine-tunes of `encoders` (registry names) in their own results root,
    on the main root's preparation."""
    prep_folder = Path(settings.results_root) / "prepared" / settings.language
    job = GridJob(
        results_root=settings.answer_folder / "short",
        data_folders={settings.language: settings.data_folder},
        recipe_overrides=[
            *common_overrides(settings),
            f"--prep_folder={prep_folder}",
            f"--number_of_epochs={settings.confirm_epochs}",
        ],
        gpus_per_run=settings.gpus_per_run,
    )
    sources = {name: source for name, source in settings.encoder_sources.items() if name in encoders}
    return job, select_grid([settings.language], encoders, settings.seeds, STUDY_PROTOCOL, sources)


def full_stage(settings, encoder):
    """(job, runs) of the full fine-tune (the study's settings) of `encoder` (a registry name)."""
    job = GridJob(
        results_root=settings.results_root,
        data_folders={settings.language: settings.data_folder},
        recipe_overrides=common_overrides(settings),
        gpus_per_run=settings.gpus_per_run,
    )
    sources = {name: source for name, source in settings.encoder_sources.items() if name == encoder}
    return job, select_grid([settings.language], [encoder], settings.seeds, STUDY_PROTOCOL, sources)


def finished_runs(job, runs):
    """[(run, folder, results)] of the finished `runs`, and the RunStatus of the others."""
    done, others = [], []
    for status in grid_status(runs, job.results_root, job.stale_after):
        folder = status.run.folder(job.results_root)
        if status.state == "done":
            done.append((status.run, folder, read_json(folder / RESULTS_FILE)))
        else:
            others.append(status)
    return done, others


def spent_hours(finished):
    """{device kind: hours} the finished runs spent training (wall time x processes; the test
    decoding, which results.json does not time, is left out)."""
    hours = {}
    for _, _, results in finished:
        training = results.get("training", {})
        device = str(results.get("run", {}).get("device", "unknown")).split(":")[0]
        seconds = (training.get("wall_seconds") or 0.0) * (training.get("world_size") or 1)
        hours[device] = hours.get(device, 0.0) + seconds / 3600
    return hours


def fine_tuning_estimate(settings, assumptions=None):
    """(GPU-hours, assumptions) of fine-tuning every candidate x seed with the study's settings,
    from the prepared corpus hours (crossling_asr.grid.cost)."""
    assumptions = assumptions or CostAssumptions(epochs=study_epochs())
    runs = select_grid([settings.language], settings.encoders, settings.seeds, STUDY_PROTOCOL)
    table = estimate(runs, settings.results_root, assumptions)
    return float(table["gpu_hours"].sum()), assumptions
