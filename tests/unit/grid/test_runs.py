"""A run's status, read from disk."""

import json
import os
import socket
import time

from crossling_asr.grid.claim import RunClaim
from crossling_asr.grid.runs import ATTEMPT_FILE, LOCK_FILE, LOG_FILE, Run, run_status


def test_status_reads_each_state_from_disk(tmp_path):
    done, running, failed, interrupted, fresh = (Run("es", "xlsr-53", seed) for seed in range(1, 6))
    (done.folder(tmp_path)).mkdir(parents=True)
    (done.folder(tmp_path) / "results.json").write_text(
        json.dumps({"status": "finished", "metrics": {"test": {"WER": 12.5, "CER": 4.0}}})
    )
    claim = RunClaim.acquire(running.folder(tmp_path), "test")
    failed.folder(tmp_path).mkdir(parents=True)
    (failed.folder(tmp_path) / LOG_FILE).write_text("...\nRuntimeError: out of cheese\n")
    (failed.folder(tmp_path) / ATTEMPT_FILE).write_text(
        json.dumps({"attempt": 2, "outcome": "failed", "returncode": 1, "log": str(failed.folder(tmp_path) / LOG_FILE)})
    )
    (interrupted.folder(tmp_path) / "save" / "CKPT+2026-01-01").mkdir(parents=True)
    (interrupted.folder(tmp_path) / LOCK_FILE).write_text("{}")
    os.utime(interrupted.folder(tmp_path) / LOCK_FILE, (time.time() - 3600,) * 2)
    try:
        states = {run.seed: run_status(run, tmp_path) for run in (done, running, failed, interrupted, fresh)}
    finally:
        claim.release()
    assert (states[1].state, states[1].detail) == ("done", "WER 12.50 CER 4.00")
    assert states[2].state == "running" and socket.gethostname() in states[2].detail
    assert states[3].state == "failed" and states[3].returncode == 1 and "out of cheese" in states[3].detail
    assert states[3].log == failed.folder(tmp_path) / LOG_FILE
    assert states[4].state == "pending" and "died" in states[4].detail and "checkpoint" in states[4].detail
    assert (states[5].state, states[5].detail) == ("pending", "")


def test_a_long_error_is_shown_from_its_start(tmp_path):
    run = Run("es", "xlsr-53", 1)
    run.folder(tmp_path).mkdir(parents=True)
    message = "error: the card's base model facebook/wav2vec2-large-lv60 is encoder wav2vec2-large-lv60, " + "x" * 400
    (run.folder(tmp_path) / LOG_FILE).write_text(f"INFO loading\n{message}\n")
    (run.folder(tmp_path) / ATTEMPT_FILE).write_text(json.dumps({"attempt": 1, "outcome": "failed", "returncode": 1}))
    detail = run_status(run, tmp_path).detail
    prefix = "exit 1 (attempt 1): "
    assert detail.startswith(prefix + "error: the card's base model")
    assert detail == prefix + message[:299] + "…"
