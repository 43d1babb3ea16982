"""The grid (languages x encoders x seeds) and the state of each run, read from disk.

A run is done when its results.json says "finished"; running when its lock
file's heartbeat is fresh; failed when the last preparation of its language
failed or its last attempt exited non-zero; pending otherwise (with a note when a checkpoint lets it resume, or when a
previous attempt died without releasing its lock).
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from crossling_asr.hparams import recipe_languages
from crossling_asr.registry import load_registry
from crossling_asr.run_layout import (
    EVALUATION_PROTOCOLS,
    NON_RUN_FOLDERS,
    STUDY_PROTOCOL,
    normalized_source,
    output_folder,
    parse_run_name,
    run_name,
)

RESULTS_FILE = "results.json"
LOCK_FILE = "grid.lock"
ATTEMPT_FILE = "grid_attempt.json"
LOG_FILE = "grid_log.txt"
# A holder touches its lock file this often; a lock untouched for longer than
# STALE_AFTER_SECONDS belongs to a process that died without releasing it.
HEARTBEAT_SECONDS = 30
STALE_AFTER_SECONDS = 180
DEFAULT_SEEDS = (1, 2, 3)

STATES = ("done", "running", "failed", "pending")


class GridError(ValueError):
    """A grid selection or setting that cannot be used."""


@dataclass(frozen=True, order=True)
class Run:
    """One run of the grid: (language, encoder, seed) under a protocol, with the registry's
    encoder weights unless `encoder_source` replaces them. A run with a `checkpoint` (hub id or
    local folder; protocol "released") evaluates that checkpoint instead of training
    (crossling_asr.grid.released)."""

    language: str
    encoder: str
    seed: int
    protocol: str = STUDY_PROTOCOL
    encoder_source: str = None
    checkpoint: str = None

    @property
    def name(self):
        """language/run name/seed_N: the run's folder below the results root."""
        return f"{self.language}/{run_name(self.encoder, self.protocol, self.encoder_source)}/seed_{self.seed}"

    def folder(self, results_root):
        """The recipe's output folder for this run (crossling_asr.run_layout, as the recipe computes it)."""
        return Path(
            output_folder(results_root, self.language, self.encoder, self.seed, self.protocol, self.encoder_source)
        )

    def to_dict(self):
        return {
            "language": self.language,
            "encoder": self.encoder,
            "seed": self.seed,
            "protocol": self.protocol,
            "encoder_source": self.encoder_source,
            "checkpoint": self.checkpoint,
        }


def available_languages():
    """Languages with a recipe in this repository (recipes/<lang>/hparams/<lang>.yaml)."""
    return recipe_languages()


def check_selection(languages=None, encoders=None):
    """Raise GridError naming the selected languages without a recipe and encoders not in the registry."""
    known_languages = available_languages()
    unknown = [lang for lang in languages or () if lang not in known_languages]
    if unknown:
        raise GridError(f"No recipe for language(s) {unknown}; available: {', '.join(known_languages)}")
    known_encoders = list(load_registry())
    unknown = [enc for enc in encoders or () if enc not in known_encoders]
    if unknown:
        raise GridError(f"Unknown encoder(s) {unknown}; hparams/encoders.yaml has: {', '.join(known_encoders)}")


def select_grid(languages=None, encoders=None, seeds=None, protocol=STUDY_PROTOCOL, encoder_sources=None):
    """The runs of a selection; None means every language with a recipe, every encoder, seeds 1-3.

    `encoder_sources` ({encoder name: hub id or local directory}) replaces encoders'
    weights; such runs live in their own folders (crossling_asr.run_layout).

    Raises GridError naming what is unknown and what is valid.
    """
    check_selection(languages, encoders)
    known_encoders = list(load_registry())
    languages = list(languages or available_languages())
    encoders = list(encoders or known_encoders)
    seeds = list(seeds or DEFAULT_SEEDS)
    if len(set(seeds)) != len(seeds):
        raise GridError(f"Seeds repeat: {seeds}")
    sources = {name: normalized_source(source) for name, source in (encoder_sources or {}).items()}
    unknown = [name for name in sources if name not in known_encoders]
    if unknown:
        raise GridError(f"--encoder-source names unknown encoder(s) {unknown}")
    return [
        Run(lang, enc, int(seed), protocol, sources.get(enc))
        for lang in languages
        for enc in encoders
        for seed in seeds
    ]


@dataclass
class RunStatus:
    """What the disk says about one run."""

    run: Run
    state: str
    detail: str = ""
    log: Path = None
    returncode: int = None


def read_json(path):
    """A JSON file's object, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_finished(folder):
    """True when the folder holds a results.json of a finished run."""
    results = read_json(Path(folder) / RESULTS_FILE)
    return isinstance(results, dict) and results.get("status") == "finished"


def has_checkpoint(folder):
    """True when the recipe saved at least one checkpoint (a relaunch resumes from it)."""
    return any((Path(folder) / "save").glob("CKPT+*"))


def lock_age(folder, now=None):
    """Seconds since the lock file's last heartbeat, or None when there is no lock file."""
    try:
        mtime = (Path(folder) / LOCK_FILE).stat().st_mtime
    except FileNotFoundError:
        return None
    return (now or time.time()) - mtime


def prep_failure_file(results_root, language):
    """Where the grid records that a language's preparation failed (removed when one succeeds)."""
    return Path(results_root) / "prepared" / f"{language}.prep_failed.json"


def log_tail_lines(path, lines=1):
    """The last non-empty lines of a log file, as a list (empty if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    kept = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return kept[-lines:]


def log_tail(path, lines=1):
    """The last non-empty lines of a log file on one line ('' if it cannot be read)."""
    return " | ".join(log_tail_lines(path, lines))


def shortened(text, limit):
    """`text` cut at `limit` characters with an ellipsis: an error message's start says what failed."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_status(run, results_root, stale_after=STALE_AFTER_SECONDS, now=None):
    """The RunStatus of one run (see the module docstring for the states)."""
    folder = run.folder(results_root)
    results_path = folder / RESULTS_FILE
    if results_path.is_file():
        results = read_json(results_path)
        if isinstance(results, dict) and results.get("status") == "finished":
            test = results.get("metrics", {}).get("test", {})
            nan = float("nan")
            return RunStatus(run, "done", f"WER {test.get('WER', nan):.2f} CER {test.get('CER', nan):.2f}")
        return RunStatus(run, "failed", f"{results_path} is unreadable or not finished", log=results_path)
    age = lock_age(folder, now)
    if age is not None and age < stale_after:
        holder = read_json(folder / LOCK_FILE) or {}
        where = holder.get("slurm_job") or f"pid {holder.get('pid')}"
        return RunStatus(
            run, "running", f"on {holder.get('host')} ({where}), heartbeat {age:.0f} s ago", log=folder / LOG_FILE
        )
    prep_failure = read_json(prep_failure_file(results_root, run.language))
    if prep_failure is not None:
        log = prep_failure.get("log")
        reason = shortened(prep_failure.get("error", ""), 300)
        return RunStatus(
            run, "failed", f"preparation of {run.language} failed: {reason}", log=Path(log) if log else None
        )
    attempt = read_json(folder / ATTEMPT_FILE) or {}
    if attempt.get("outcome") == "failed":
        log = Path(attempt.get("log") or folder / LOG_FILE)
        return RunStatus(
            run,
            "failed",
            f"exit {attempt.get('returncode')} (attempt {attempt.get('attempt')}): {shortened(log_tail(log), 300)}",
            log=log,
            returncode=attempt.get("returncode"),
        )
    notes = []
    if age is not None:
        notes.append(f"previous attempt died (heartbeat {age:.0f} s old)")
    elif attempt.get("outcome") == "interrupted":
        notes.append(f"attempt {attempt.get('attempt')} was interrupted")
    if has_checkpoint(folder):
        notes.append("resumes from checkpoint")
    return RunStatus(run, "pending", "; ".join(notes))


def grid_status(runs, results_root, stale_after=STALE_AFTER_SECONDS):
    """RunStatus of every run, in the runs' order."""
    now = time.time()
    return [run_status(run, results_root, stale_after, now) for run in runs]


def format_status(statuses, verbose=False):
    """A status report: counts per state, then one line per run that is not done (all with verbose)."""
    counts = {state: sum(1 for s in statuses if s.state == state) for state in STATES}
    lines = [f"{len(statuses)} runs: " + ", ".join(f"{n} {state}" for state, n in counts.items())]
    width = max((len(s.run.name) for s in statuses), default=0)
    for status in statuses:
        if verbose or status.state != "done":
            line = f"  {status.run.name:<{width}}  {status.state:<8} {status.detail}"
            if status.state == "failed" and status.log:
                line += f"\n  {'':<{width}}  {'':<8} log: {status.log}"
            lines.append(line.rstrip())
    return "\n".join(lines)


def recorded_source(folder):
    """The encoder_source a run folder was made with, as its results.json or its last grid attempt's
    command records it (None: the registry's weights, or not recorded)."""
    results = read_json(Path(folder) / RESULTS_FILE) or {}
    if "encoder_source" in results.get("run", {}):
        return results["run"]["encoder_source"]
    command = (read_json(Path(folder) / ATTEMPT_FILE) or {}).get("command") or []
    given = [arg.split("=", 1)[1] for arg in command if arg.startswith("--encoder_source=")]
    return given[-1] if given else None


def selecting_flags(run):
    """The grid options that select `run` (its protocol and encoder source), as one string."""
    flags = [f"--encoders {run.encoder}", f"--seeds {run.seed}"]
    if run.protocol != STUDY_PROTOCOL:
        flags.append(f"--protocol {run.protocol}")
    if run.encoder_source:
        flags.append(f"--encoder-source {run.encoder}={run.encoder_source}")
    return " ".join(flags)


def discover_runs(results_root, languages=None, encoders=None, seeds=None):
    """(runs, unresolved): the trained runs found under `results_root` in <lang>/<run name>/seed_<N>/
    folders, whatever their protocol or encoder source, within the given languages, encoders and
    seeds (None: any), and the folders whose encoder source cannot be recovered (no results.json
    or grid attempt records it) as (folder, reason). Evaluated checkpoints (`grid released`) are
    left to their own listing."""
    root = Path(results_root)
    runs, unresolved = [], []
    registry = load_registry()
    for folder in sorted(root.glob("*/*/seed_*")):
        language, name, seed_part = folder.relative_to(root).parts
        if language in NON_RUN_FOLDERS or not folder.is_dir():
            continue
        encoder, protocol, tag = parse_run_name(name)
        try:
            seed = int(seed_part.removeprefix("seed_"))
        except ValueError:
            continue
        if protocol in EVALUATION_PROTOCOLS or encoder not in registry:
            continue
        if (languages and language not in languages) or (encoders and encoder not in encoders):
            continue
        if seeds and seed not in seeds:
            continue
        source = recorded_source(folder) if tag else None
        if source is not None and normalized_source(source) == registry[encoder]["source"]:
            source = None
        run = Run(language, encoder, seed, protocol, source)
        if run.name != f"{language}/{name}/{seed_part}":
            unresolved.append((folder, "its encoder source is not recorded (no results.json or grid attempt)"))
            continue
        runs.append(run)
    return runs, unresolved


def format_other_runs(statuses, unresolved):
    """The runs found under the results root outside a selection: counts, then each with its state
    and the options that select it."""
    if not statuses and not unresolved:
        return ""
    counts = {state: sum(1 for s in statuses if s.state == state) for state in STATES}
    lines = [
        f"{len(statuses)} more runs under the results root, of another protocol or encoder source than "
        "selected: " + ", ".join(f"{n} {state}" for state, n in counts.items())
    ]
    width = max((len(s.run.name) for s in statuses), default=0)
    for status in statuses:
        lines.append(f"  {status.run.name:<{width}}  {status.state:<8} {status.detail}".rstrip())
        lines.append(f"  {'':<{width}}  selected by: {selecting_flags(status.run)}")
    for folder, reason in unresolved:
        lines.append(f"  {folder}: {reason}")
    return "\n".join(lines)
