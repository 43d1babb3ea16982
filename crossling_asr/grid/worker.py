"""One grid task: a run (claim it, launch the recipe, record the attempt) or a language's preparation.

Both executors go through `execute_run`: the local executor calls it from a
thread per slot, a SLURM array task runs this module (the languages' data
are prepared beforehand, by `--task prep`, which both executors run first):

    python -m crossling_asr.grid.worker --manifest M --task run --index I
    python -m crossling_asr.grid.worker --manifest M --task prep --index I

A run is launched only if it is not finished and this process can claim it;
the recipe's output goes to <run folder>/grid_log.txt (appended, one header
per attempt) and the attempt's outcome to grid_attempt.json. Re-launching an
interrupted run is all resuming takes: the recipe continues from its last
checkpoint. On SIGTERM or SIGINT the worker stops the recipe (SIGTERM to its
process group, SIGKILL after a grace period), records the attempt as
interrupted (finished, if the recipe had already written its finished
results.json) and exits with 143.
"""

import argparse
import datetime
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from crossling_asr.atomic import write_json
from crossling_asr.grid.claim import RunClaim, slurm_task_id
from crossling_asr.grid.job import read_manifest
from crossling_asr.grid.runs import ATTEMPT_FILE, LOG_FILE, is_finished, read_json
from crossling_asr.hparams import REPO_ROOT

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 120
EXIT_INTERRUPTED = 143


@dataclass
class RunOutcome:
    """How one launch of a run ended: finished, failed, interrupted or skipped."""

    run: object
    result: str
    returncode: int = None
    detail: str = ""
    seconds: float = 0.0


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def wait_or_stop(proc, stop, grace_seconds):
    """Wait for the recipe; when `stop` is set, SIGTERM its process group, SIGKILL after the grace."""
    while True:
        try:
            return proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            if stop is None or not stop.is_set():
                continue
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait()


def execute_run(run, job, executor, env=None, stop=None, grace_seconds=STOP_GRACE_SECONDS, on_launch=None):
    """Launch one run unless it is finished or claimed elsewhere; returns a RunOutcome.

    `on_launch(run)` is called once the run is claimed, just before the recipe starts.
    """
    folder = run.folder(job.results_root)
    if is_finished(folder):
        return RunOutcome(run, "skipped", 0, "already finished")
    claim = RunClaim.acquire(folder, executor, job.stale_after)
    if claim is None:
        return RunOutcome(run, "skipped", None, "claimed by another live process")
    with claim:
        if is_finished(folder):  # finished between the check and the claim
            return RunOutcome(run, "skipped", 0, "already finished")
        if stop is not None and stop.is_set():
            return RunOutcome(run, "skipped", None, "stopping")
        attempt = (read_json(folder / ATTEMPT_FILE) or {}).get("attempt", 0) + 1
        command = job.recipe_command(run)
        log_path = folder / LOG_FILE
        if on_launch is not None:
            on_launch(run)
        started = time.time()
        with open(log_path, "a", encoding="utf-8") as log:
            where = f"{socket.gethostname()}, {executor}" + (f" {slurm_task_id()}" if slurm_task_id() else "")
            log.write(f"\n=== grid attempt {attempt} started {_utc_now()} ({where}) ===\n$ {shlex.join(command)}\n")
            log.flush()
            proc = subprocess.Popen(
                command,
                cwd=REPO_ROOT / "recipes" / run.language,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            returncode = wait_or_stop(proc, stop, grace_seconds)
        seconds = time.time() - started
        if is_finished(folder):
            # results.json is written atomically as the recipe's last step: a signal that
            # arrives after it (a late preemption) stops nothing that still had to be done.
            result, detail = "finished", "" if returncode == 0 else f"signalled after finishing (exit {returncode})"
        elif stop is not None and stop.is_set():
            result, detail = "interrupted", "stopped by a signal; a relaunch resumes from the last checkpoint"
        else:
            result = "failed"
            detail = f"exit {returncode}" if returncode else "exit 0 but no finished results.json"
        write_json(
            folder / ATTEMPT_FILE,
            {
                "attempt": attempt,
                "outcome": result,
                "returncode": returncode,
                "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(
                    timespec="seconds"
                ),
                "seconds": round(seconds, 1),
                "host": socket.gethostname(),
                "executor": executor,
                "slurm_job": slurm_task_id(),
                "command": command,
                "log": str(log_path),
            },
        )
    return RunOutcome(run, result, returncode, detail, seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", required=True, help="manifest.json written by local/grid.py run")
    parser.add_argument("--task", choices=("run", "prep"), required=True)
    parser.add_argument("--index", type=int, required=True, help="index into the manifest's runs or languages")
    parser.add_argument("--executor", default="slurm", help="recorded in the lock file and attempt record")
    parser.add_argument(
        "--log",
        help="the file this task's output goes to, recorded when a preparation fails "
        "(default under SLURM: the task's output file)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    job, runs, languages = read_manifest(args.manifest)
    if args.task == "prep":
        from crossling_asr.data.preparation import PREPARATION_ERRORS  # imports torch
        from crossling_asr.grid.prep import prepare_for_grid
        from crossling_asr.grid.slurm import task_output_file

        language = languages[args.index]
        log = args.log or (task_output_file(Path(args.manifest).parent, slurm_task_id()) if slurm_task_id() else None)
        try:
            prepare_for_grid(job, language, args.executor, log=log)
        except PREPARATION_ERRORS as err:
            print(f"error: preparing {language} failed: {err}", file=sys.stderr, flush=True)
            return 1
        return 0
    run = runs[args.index]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    outcome = execute_run(run, job, args.executor, stop=stop)
    logger.info("%s: %s %s (%.0f s)", run.name, outcome.result, outcome.detail, outcome.seconds)
    if outcome.result == "interrupted":
        return EXIT_INTERRUPTED
    if outcome.result == "failed":
        return outcome.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
