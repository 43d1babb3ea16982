"""Executing a run: a stopped run is interrupted unless it had already finished."""

import json
import sys
import threading
import time

import pytest

from crossling_asr.grid.runs import ATTEMPT_FILE, Run, run_status
from crossling_asr.grid.worker import execute_run


class ScriptJob:
    """A stand-in GridJob whose "recipe" is a Python snippet (execute_run needs only these three)."""

    def __init__(self, results_root, script):
        self.results_root, self.stale_after, self.script = results_root, 180, script

    def recipe_command(self, run):
        return [sys.executable, "-c", self.script]


@pytest.mark.parametrize("finishes_first", [True, False])
def test_a_stopped_run_is_interrupted_unless_it_had_already_finished(tmp_path, finishes_first):
    """A preemption can land after the recipe wrote its finished results.json: that run is finished."""
    run = Run("es", "xlsr-53", 1)
    folder = run.folder(tmp_path)
    started = folder / "started"
    script = (
        "import json, pathlib, time\n"
        + (
            f"pathlib.Path({str(folder / 'results.json')!r}).write_text(json.dumps({{'status': 'finished'}}))\n"
            if finishes_first
            else ""
        )
        + f"pathlib.Path({str(started)!r}).touch()\ntime.sleep(60)\n"
    )
    stop = threading.Event()
    threading.Thread(target=lambda: (wait_until(started.is_file), stop.set()), daemon=True).start()
    outcome = execute_run(run, ScriptJob(tmp_path, script), "test", stop=stop, grace_seconds=5)
    attempt = json.loads((folder / ATTEMPT_FILE).read_text())
    assert outcome.returncode == -15 and attempt["returncode"] == -15  # SIGTERM reached the recipe
    expected = "finished" if finishes_first else "interrupted"
    assert outcome.result == attempt["outcome"] == expected
    status = run_status(run, tmp_path)
    assert status.state == ("done" if finishes_first else "pending"), status


def wait_until(condition, timeout=30):
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.05)
