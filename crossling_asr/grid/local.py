"""The local executor: a queue of runs over the GPUs of one machine, or over N CPU slots.

Each slot owns `gpus_per_run` GPUs (CUDA_VISIBLE_DEVICES) and there are
`runs_per_gpu` slots per GPU group; on a machine without GPUs there are
`runs_per_gpu` CPU slots, each with its share of the cores as torch threads.
Languages are prepared one after another in a subprocess (each under the
per-language lock), and a language's runs enter the queue only once its
preparation is done, so training of one language overlaps with preparing
the next. SIGINT/SIGTERM stop the queue and the running recipes (which keep
their last checkpoint); running the same command again resumes.
"""

import datetime
import os
import queue
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass

from crossling_asr.grid.job import write_manifest
from crossling_asr.grid.runs import LOG_FILE, GridError, is_finished, log_tail_lines
from crossling_asr.grid.worker import RunOutcome, execute_run, wait_or_stop
from crossling_asr.hparams import REPO_ROOT

PREP_FAILURE_LINES = 5  # lines of a failed preparation's log shown on the console


def visible_gpus():
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES if set, else those nvidia-smi lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(line for line in listing.splitlines() if line.startswith("GPU "))]


@dataclass
class Slot:
    """Where one run at a time executes: a group of GPUs, or a share of the CPU."""

    name: str
    env: dict


def make_slots(gpus, gpus_per_run, runs_per_gpu):
    """The slots for `gpus` (ids; empty: CPU only), `gpus_per_run` GPUs each, `runs_per_gpu` per group."""
    if runs_per_gpu < 1:
        raise GridError("--runs-per-gpu must be at least 1")
    base = dict(os.environ, PYTHONUNBUFFERED="1")
    if not gpus:
        threads = str(max(1, (os.cpu_count() or 1) // runs_per_gpu))
        cpu_env = dict(base, CUDA_VISIBLE_DEVICES="")
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            cpu_env.setdefault(var, threads)
        return [Slot(f"CPU slot {i}", cpu_env) for i in range(runs_per_gpu)]
    per_run = max(1, gpus_per_run)
    if len(gpus) < per_run:
        raise GridError(f"{per_run} GPUs per run requested but only {len(gpus)} visible ({gpus})")
    groups = [gpus[i : i + per_run] for i in range(0, len(gpus) - per_run + 1, per_run)]
    return [
        Slot(f"GPU {','.join(group)}", dict(base, CUDA_VISIBLE_DEVICES=",".join(group)))
        for group in groups
        for _ in range(runs_per_gpu)
    ]


class LocalExecutor:
    """Runs a grid on this machine; see the module docstring."""

    def __init__(self, job, slots):
        self.job = job
        self.slots = slots
        self.stop = threading.Event()
        self.outcomes = []
        self._lock = threading.Lock()

    def say(self, message):
        """One progress line (under a lock: slot threads print concurrently)."""
        with self._lock:
            print(f"[grid {datetime.datetime.now():%H:%M:%S}] {message}", flush=True)

    def run(self, runs):
        """Prepare and run every unfinished run of `runs`; returns their RunOutcomes."""
        todo = [run for run in runs if not is_finished(run.folder(self.job.results_root))]
        self.say(
            f"{len(runs) - len(todo)} of {len(runs)} runs already finished; "
            f"{len(todo)} to run on {len(self.slots)} slot(s)"
        )
        if not todo:
            return []
        languages = list(dict.fromkeys(run.language for run in todo))
        submission = self.job.new_submission_dir("local")
        manifest = write_manifest(submission / "manifest.json", self.job, todo, languages)
        work = queue.Queue()
        threads = [
            threading.Thread(
                target=self._prepare_all, args=(manifest, submission, languages, todo, work), name="prepare"
            )
        ]
        threads += [threading.Thread(target=self._serve, args=(slot, work), name=slot.name) for slot in self.slots]
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.5)  # short joins keep signal handlers responsive
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.outcomes

    def _on_signal(self, signum, frame):
        self.say(f"{signal.Signals(signum).name}: stopping; running recipes keep their last checkpoint")
        self.stop.set()

    def _record(self, outcome):
        with self._lock:
            self.outcomes.append(outcome)

    def _prepare_all(self, manifest, submission, languages, runs, work):
        """Prepare each language in turn, then queue its runs; finally one end marker per slot."""
        try:
            for index, language in enumerate(languages):
                if self.stop.is_set():
                    break
                log_path = submission / f"prep_{language}.log"
                self.say(f"preparing {language} (log: {log_path})")
                with open(log_path, "w", encoding="utf-8") as log:
                    proc = subprocess.Popen(
                        [
                            self.job.python,
                            "-m",
                            "crossling_asr.grid.worker",
                            "--manifest",
                            str(manifest),
                            "--task",
                            "prep",
                            "--index",
                            str(index),
                            "--executor",
                            "local",
                            "--log",
                            str(log_path),
                        ],
                        cwd=REPO_ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                    returncode = wait_or_stop(proc, self.stop, grace_seconds=30)
                language_runs = [run for run in runs if run.language == language]
                if returncode != 0:
                    tail = "".join(f"\n    {line}" for line in log_tail_lines(log_path, PREP_FAILURE_LINES))
                    self.say(
                        f"preparing {language} FAILED (exit {returncode}); its {len(language_runs)} runs "
                        f"are not started. Log: {log_path}; its last lines:{tail}"
                    )
                    for run in language_runs:
                        self._record(RunOutcome(run, "failed", returncode, f"preparation failed, see {log_path}"))
                    continue
                for run in language_runs:
                    work.put(run)
        finally:
            for _ in self.slots:
                work.put(None)

    def _serve(self, slot, work):
        """Take runs from the queue until the end marker; one at a time on this slot."""
        while (run := work.get()) is not None:
            if self.stop.is_set():
                continue
            outcome = execute_run(
                run,
                self.job,
                "local",
                env=slot.env,
                stop=self.stop,
                on_launch=lambda r: self.say(f"start {r.name} on {slot.name}"),
            )
            self._record(outcome)
            log = run.folder(self.job.results_root) / LOG_FILE
            if outcome.result == "failed":
                self.say(f"FAILED {run.name}: {outcome.detail} after {outcome.seconds:.0f} s; log: {log}")
            else:
                self.say(f"{outcome.result} {run.name} {outcome.detail} ({outcome.seconds:.0f} s)".replace("  ", " "))
