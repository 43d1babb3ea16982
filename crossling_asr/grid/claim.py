"""Exclusive ownership of a run folder, so two grid processes never run the same run.

The owner holds an flock on <run folder>/grid.lock (released by the kernel if
the owner dies, however it dies) and touches the file every HEARTBEAT_SECONDS
(so `status` on any host sees the run as running). A lock file whose flock is
free but whose heartbeat is fresh and was written on another host belongs to
a live owner elsewhere (flock does not reach across hosts on every shared file
system): the run is then left alone, unless the owner was the same SLURM task
(a requeued task takes its own run back at once). The owner unlinks the file
before letting go of the flock; a claimer checks that the file it locked is
still the one at the path, so an unlink racing with a claim cannot give the
run to two processes.
"""

import contextlib
import datetime
import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path

from crossling_asr.grid.runs import HEARTBEAT_SECONDS, LOCK_FILE, STALE_AFTER_SECONDS


def slurm_task_id():
    """'<array job>_<task>' (or the job id) of the SLURM task this process runs in, else None."""
    array_job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def owner_identity(executor):
    """Who is claiming: written into the lock file for `status` and for other claimers."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "executor": executor,
        "slurm_job": slurm_task_id(),
        "claimed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


class RunClaim:
    """A held claim on one run folder; release() (or leaving the `with` block) gives it up."""

    def __init__(self, path, fd):
        self.path = path
        self._fd = fd
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name=f"heartbeat {path.parent}", daemon=True)
        self._heartbeat.start()

    @classmethod
    def acquire(cls, folder, executor, stale_after=STALE_AFTER_SECONDS):
        """Claim the run in `folder`; None when a live process (here or on another host) has it."""
        path = Path(folder) / LOCK_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        me = owner_identity(executor)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            try:
                same_file = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:
                break
            os.close(fd)  # the previous owner unlinked it meanwhile: lock the new file
        previous = _read_identity(fd)
        age = time.time() - os.fstat(fd).st_mtime
        held_elsewhere = (
            previous is not None
            and previous.get("host") != me["host"]
            and age < stale_after
            and not (me["slurm_job"] and previous.get("slurm_job") == me["slurm_job"])
        )
        if held_elsewhere:
            os.close(fd)
            return None
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        os.fsync(fd)
        return cls(path, fd)

    def _beat(self):
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(OSError):
                os.utime(self._fd)

    def release(self):
        """Stop the heartbeat, remove the lock file and let go of the flock."""
        if self._fd is None:
            return
        self._stop.set()
        self._heartbeat.join()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _read_identity(fd):
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    try:
        return json.loads(os.pread(fd, size, 0).decode())
    except ValueError:
        return None
