"""Run claims: exclusive, heartbeated, and respectful of other hosts."""

import json
import os
import socket
import time

from crossling_asr.grid.claim import RunClaim
from crossling_asr.grid.runs import LOCK_FILE


def test_claim_is_exclusive_heartbeated_and_respects_other_hosts(tmp_path):
    folder = tmp_path / "run"
    claim = RunClaim.acquire(folder, "test")
    assert claim is not None
    assert RunClaim.acquire(folder, "test") is None  # held (flock) by a live owner
    holder = json.loads((folder / LOCK_FILE).read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    claim.release()
    assert not (folder / LOCK_FILE).exists()

    # A fresh lock written on another host (flock does not cross hosts): left alone.
    (folder / LOCK_FILE).write_text(json.dumps({"host": "elsewhere", "pid": 1, "slurm_job": None}))
    assert RunClaim.acquire(folder, "test") is None
    # Its heartbeat stopped long ago: the owner is dead, the run can be taken over.
    old = time.time() - 3600
    os.utime(folder / LOCK_FILE, (old, old))
    taken = RunClaim.acquire(folder, "test")
    assert taken is not None
    taken.release()
