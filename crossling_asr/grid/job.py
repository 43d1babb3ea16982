"""What every run of a grid submission shares, the recipe command of each run, the manifest.

A GridJob holds where the data and the results live, the protocol and the
recipe overrides passed to every run (checked against the experiment file with
that protocol applied before anything starts, so a misspelt key fails at once,
naming it) and how many GPUs one run uses (more than one: the
recipe is launched through torchrun and trains with DDP). Written to a
manifest (JSON) it is all that a worker process, local or on a SLURM node,
needs to launch one run or one language's preparation. A run of a released
checkpoint (Run.checkpoint) is launched as local/evaluate_checkpoint.py on
the data the grid prepared, with the job's `evaluation_args`.
"""

import datetime
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from crossling_asr.atomic import write_json
from crossling_asr.data.common_voice import cv_language_folder_entries, missing_cv_entries
from crossling_asr.grid.runs import STALE_AFTER_SECONDS, GridError, Run
from crossling_asr.hparams import REPO_ROOT, HparamsError, check_override_keys, experiment_text, language_file
from crossling_asr.run_layout import STUDY_PROTOCOL

# Keys the grid sets per run (passing them through would put the run's output
# somewhere the grid does not look for it), and the grid option to use instead.
GRID_KEYS = {
    "encoder": "--encoders",
    "seed": "--seeds",
    "results_root": "--results-root",
    "output_folder": "--results-root",
    "data_folder": "--data-root or --data-folder LANG=PATH",
    "encoder_source": "--encoder-source NAME=SOURCE",
    "protocol": "--protocol",
}
MANIFEST_VERSION = 1
CV_LANGUAGE_FOLDER_ENTRIES = cv_language_folder_entries()
DATA_ROOT_LAYOUT = (
    "--data-root must hold one Common Voice folder per language, <data root>/<lang>/ with "
    f"{', '.join(CV_LANGUAGE_FOLDER_ENTRIES[1:])} and clips/ (e.g. /data/cv-corpus-7.0-2021-07-21, "
    "the folder that holds es/, de/, ...)"
)


def check_recipe_overrides(overrides, protocol=STUDY_PROTOCOL):
    """Reject malformed pass-through overrides, those naming keys the grid sets itself and keys
    the experiment file does not declare once `protocol` is applied (probe_head exists only
    under the probe protocol): every run would fail on them, so they fail here, before any run."""
    keys = []
    for arg in overrides:
        if not arg.startswith("--"):
            raise GridError(f"Recipe override {arg!r} must look like --key=value")
        key = arg[2:].split("=", 1)[0]
        if key in GRID_KEYS:
            raise GridError(f"--{key} is set by the grid for each run; use the grid's {GRID_KEYS[key]} instead")
        keys.append(key)
    try:
        check_override_keys(keys, experiment_text(protocol), f"hparams/ctc_study.yaml (protocol {protocol})")
    except HparamsError as err:
        raise GridError(f"recipe overrides after --: {err}") from err


@dataclass
class GridJob:
    """The settings shared by all runs of one grid submission."""

    results_root: str
    data_root: str = None
    data_folders: dict = field(default_factory=dict)
    recipe_overrides: list = field(default_factory=list)
    gpus_per_run: int = 1
    protocol: str = STUDY_PROTOCOL  # of the trained runs: their preparation loads the recipe with it
    python: str = sys.executable
    stale_after: float = STALE_AFTER_SECONDS
    evaluation_args: list = field(default_factory=list)  # options of local/evaluate_checkpoint.py

    def __post_init__(self):
        self.results_root = str(Path(self.results_root).resolve())
        self.data_root = str(Path(self.data_root).resolve()) if self.data_root else None
        self.data_folders = {lang: str(Path(path).resolve()) for lang, path in self.data_folders.items()}
        check_recipe_overrides(self.recipe_overrides, self.protocol)
        if self.gpus_per_run < 0:
            raise GridError("--gpus-per-run must be 0 (CPU) or more")

    def data_folder(self, language):
        """The Common Voice folder of a language: --data-folder LANG=PATH, else <data root>/<lang>."""
        if language in self.data_folders:
            return self.data_folders[language]
        if self.data_root is None:
            raise GridError(f"No data folder for {language}: give --data-root or --data-folder {language}=PATH")
        return str(Path(self.data_root) / language)

    def check_data_folder(self, language):
        """Raise GridError, saying what is expected, unless a language's data folder is a Common Voice one.

        Checked before any preparation starts; a --data-root that is itself a
        language folder (one level too deep) is recognised and named.
        """
        folder = Path(self.data_folder(language))
        missing = missing_cv_entries(folder)
        if not missing:
            return
        what = "does not exist" if not folder.is_dir() else f"lacks {', '.join(missing)}"
        if language in self.data_folders:
            hint = "--data-folder LANG=PATH names one Common Voice language folder, holding " + ", ".join(
                CV_LANGUAGE_FOLDER_ENTRIES
            )
            if not missing_cv_entries(folder / language):
                hint = f"it holds {language}/, which is one: give --data-folder {language}={folder / language}"
            raise GridError(f"--data-folder {language}={folder}: {folder} {what}; {hint}")
        root = Path(self.data_root)
        if len(missing_cv_entries(root)) < len(CV_LANGUAGE_FOLDER_ENTRIES):
            raise GridError(
                f"--data-root {root} is one language's Common Voice folder (it holds "
                f"{', '.join(n for n in CV_LANGUAGE_FOLDER_ENTRIES if (root / n).exists())} itself), "
                f"one level too deep: {DATA_ROOT_LAYOUT}. Give its parent: --data-root {root.parent}"
            )
        raise GridError(f"{language}: {folder} {what}. {DATA_ROOT_LAYOUT}")

    def language_overrides(self, language):
        """Recipe overrides that decide a language's data preparation (shared by all its runs):
        the recipe's hparams as its runs load them, the job's protocol included."""
        return [
            f"--data_folder={self.data_folder(language)}",
            f"--results_root={self.results_root}",
            *([f"--protocol={self.protocol}"] if self.protocol != STUDY_PROTOCOL else []),
            *self.recipe_overrides,
        ]

    def recipe_command(self, run):
        """argv of one run: recipes/<lang>/train.py with the run's overrides (torchrun for >1 GPU);
        for a run of a released checkpoint, its evaluation_command."""
        if run.checkpoint:
            return self.evaluation_command(run)
        launcher = [self.python]
        if self.gpus_per_run > 1:
            launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={self.gpus_per_run}"]
        return [
            *launcher,
            str(REPO_ROOT / "recipes" / run.language / "train.py"),
            str(language_file(run.language)),
            f"--data_folder={self.data_folder(run.language)}",
            f"--results_root={self.results_root}",
            *self.recipe_overrides,
            f"--encoder={run.encoder}",
            f"--seed={run.seed}",
            *([f"--protocol={run.protocol}"] if run.protocol != STUDY_PROTOCOL else []),
            *([f"--encoder_source={run.encoder_source}"] if run.encoder_source else []),
        ]

    def evaluation_command(self, run):
        """argv scoring a released checkpoint: local/evaluate_checkpoint.py without --data-folder, so it
        prepares nothing itself and uses the language the grid prepared under the results root."""
        if self.gpus_per_run > 1:
            raise GridError("a checkpoint is evaluated on one GPU (or the CPU): --gpus-per-run 0 or 1")
        return [
            self.python,
            "-m",
            "crossling_asr.cli.evaluate_checkpoint",
            run.checkpoint,
            "--results-root",
            self.results_root,
            *self.evaluation_args,
        ]

    def new_submission_dir(self, executor):
        """A fresh folder under <results root>/grid/ for one submission's manifest, scripts and logs."""
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")  # two submissions of one process never share it
        folder = Path(self.results_root) / "grid" / f"{executor}-{stamp}-{os.getpid()}"
        folder.mkdir(parents=True, exist_ok=False)
        return folder


def write_manifest(path, job, runs, languages):
    """The manifest of a submission: the job, its runs (by index) and languages to prepare."""
    write_json(
        path,
        {
            "manifest_version": MANIFEST_VERSION,
            "job": asdict(job),
            "runs": [run.to_dict() for run in runs],
            "languages": list(languages),
        },
    )
    return Path(path)


def read_manifest(path):
    """(job, runs, languages) from a manifest written by write_manifest."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("manifest_version") != MANIFEST_VERSION:
        raise GridError(f"{path}: manifest version {data.get('manifest_version')}, expected {MANIFEST_VERSION}")
    return GridJob(**data["job"]), manifest_runs(data), data["languages"]


def manifest_runs(data):
    """The runs of a manifest's JSON, by index: a SLURM array task's id is its run's index."""
    return [Run(**{**r, "seed": int(r["seed"])}) for r in data["runs"]]
