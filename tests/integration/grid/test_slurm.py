"""The grid on a real SLURM: a single-node slurmctld + slurmd started on localhost by the test.

A tiny grid (1 language x 2 tiny encoders of different families x 1 seed,
6 epochs, CPU) is submitted with `local/grid.py run --executor slurm`: a
preparation array, then a training array depending on it. While the first
run trains, its task is requeued the way a preemption would (`scontrol
requeue`, then `scontrol update StartTime=now` to skip the requeue delay);
the requeued task must resume from the run's checkpoint and finish. The
same command given again while the tasks are queued submits nothing, and
squeue's answers about held, orphaned and unknown jobs are read as meant.

The daemons run from a temporary directory (slurm.conf found through
SLURM_CONF, free ports, a private munged socket: nothing of the machine's own
SLURM is touched), and are stopped at the end. The test is
skipped only where they cannot run: SLURM or munge not installed, or not root.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from crossling_asr.grid.runs import ATTEMPT_FILE, LOG_FILE, Run
from crossling_asr.grid.slurm import NEVER_STARTS, squeue_tasks
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.training.quick_run import CPU_TINY_OVERRIDES
from tests.helpers.system_packages import missing_system_package

DAEMONS = ("slurmctld", "slurmd", "munged")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo")
ENCODERS = {"wav2vec2-large-lv60": "wav2vec2", "hubert-large-ll60k": "hubert"}
# The requeue is sent when the first run's first checkpoint appears (after epoch 1); the epochs
# left must outlast the requeue's latency (signal delivery, the recipe's stop) on a fast machine.
EPOCHS = 6


def program(name):
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, what, interval=1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class LocalSlurm:
    """munged, slurmctld and slurmd for one node (this host), configured in `folder`."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.conf = self.folder / "slurm.conf"
        self.munge_socket = self.folder / "munge" / "munge.socket"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))

    def write_config(self):
        for sub in ("munge", "state", "spool"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.folder / "munge", "munge", "munge")
        (self.folder / "munge").chmod(0o755)  # munged requires its socket dir to be traversable by all
        host = socket.gethostname().split(".")[0]
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        f = self.folder
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=gridtest",
                    f"SlurmctldHost={host}",
                    "SlurmUser=root",
                    f"SlurmctldPort={free_port()}",
                    f"SlurmdPort={free_port()}",
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={self.munge_socket}",
                    f"StateSaveLocation={f}/state",
                    f"SlurmdSpoolDir={f}/spool",
                    f"SlurmctldPidFile={f}/slurmctld.pid",
                    f"SlurmdPidFile={f}/slurmd.pid",
                    f"SlurmctldLogFile={f}/slurmctld.log",
                    f"SlurmdLogFile={f}/slurmd.log",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "MpiDefault=none",
                    "SwitchType=switch/none",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "JobCompType=jobcomp/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_CPU",
                    "ReturnToService=2",
                    "KillWait=30",
                    f"NodeName={host} CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN",
                    "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def run(self, *args, check=True):
        proc = subprocess.run([program(args[0]), *map(str, args[1:])], env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, args))} failed: {proc.stderr}{self.logs()}")
        return proc.stdout

    def logs(self):
        return "".join(
            f"\n--- {p.name}\n{p.read_text()[-2000:]}"
            for p in sorted(self.folder.glob("*.log")) + sorted((self.folder / "munge").glob("*.log"))
        )

    def start(self):
        self.write_config()
        munge = self.folder / "munge"
        subprocess.run(
            [
                "runuser",
                "-u",
                "munge",
                "--",
                program("munged"),
                f"--socket={self.munge_socket}",
                f"--pid-file={munge}/munged.pid",
                f"--log-file={munge}/munged.log",
                f"--seed-file={munge}/munged.seed",
            ],
            check=True,
        )
        self.run("slurmctld", "-c", "-i")
        self.run("slurmd", "-c")
        wait_for(
            lambda: self.run("sinfo", "-h", "-o", "%T", check=False).strip() == "idle",
            30,
            f"the node to be idle{self.logs()}",
            interval=0.5,
        )

    def stop(self):
        self.run("scancel", "--user=root", check=False)
        for name in ("slurmd", "slurmctld", "munge/munged"):
            pid_file = self.folder / f"{name}.pid"
            if pid_file.is_file():
                pid = int(pid_file.read_text().split()[0])
                try:
                    os.kill(pid, 15)
                    wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 30, f"{name} to exit", 0.2)
                except ProcessLookupError:
                    pass

    def task_state(self, task):
        return self.run("squeue", "-h", "-j", task, "-o", "%T", check=False).strip()

    def idle(self):
        return self.run("squeue", "-h", "-o", "%i", check=False).strip() == ""


@pytest.fixture(scope="module")
def slurm(pytestconfig):
    missing = [name for name in DAEMONS + CLIENTS if program(name) is None]
    if missing:
        missing_system_package(
            pytestconfig,
            f"SLURM/munge not installed ({', '.join(missing)} missing): "
            "bash local/install_system_packages.sh --with-slurm",
        )
    if os.geteuid() != 0:
        missing_system_package(pytestconfig, "starting munged and slurmd needs root")
    if not Path("/etc/munge/munge.key").is_file():
        missing_system_package(pytestconfig, "/etc/munge/munge.key missing (the munge package creates it)")
    # Not under pytest's tmp_path: that is private to root (0700) and munged runs as `munge`.
    folder = Path(tempfile.mkdtemp(prefix="grid-slurm-"))
    folder.chmod(0o755)
    cluster = LocalSlurm(folder)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def requeued_grid(slurm, tmp_path_factory, make_corpus, tiny_encoders):
    """Submit the tiny grid, requeue the first run's task after its first checkpoint, wait for the end."""
    root = tmp_path_factory.mktemp("slurm_grid") / "results"
    corpus = make_corpus("es", n_train=12, n_dev=4, n_test=4)
    args = [
        "run",
        "--executor",
        "slurm",
        "--results-root",
        root,
        "--langs",
        "es",
        "--encoders",
        *ENCODERS,
        "--seeds",
        "1",
        "--data-folder",
        f"es={corpus}",
        "--gpus-per-run",
        "0",
        "--cpus-per-task",
        "1",
        "--prep-cpus",
        "1",
        "--time",
        "60",
        "--prep-time",
        "30",
        *[a for name, family in ENCODERS.items() for a in ("--encoder-source", f"{name}={tiny_encoders[family]}")],
        "--",
        f"--number_of_epochs={EPOCHS}",
        *CPU_TINY_OVERRIDES,
    ]
    submitted = subprocess.run(
        [sys.executable, str(ROOT / "local" / "grid.py"), *map(str, args)],
        env=slurm.env,
        capture_output=True,
        text=True,
    )
    assert submitted.returncode == 0, submitted.stderr + slurm.logs()
    train_job = re.search(r"submitted train0.sbatch as job (\d+)", submitted.stdout).group(1)
    again = subprocess.run(  # at once: the runs' tasks are pending or running
        [sys.executable, str(ROOT / "local" / "grid.py"), *map(str, args)],
        env=slurm.env,
        capture_output=True,
        text=True,
    )

    first = Run("es", "wav2vec2-large-lv60", 1, encoder_source=str(tiny_encoders["wav2vec2"]))  # task 0
    task = f"{train_job}_0"
    wait_for(lambda: any((first.folder(root) / "save").glob("CKPT+*")), 600, f"a checkpoint of {first.name}")
    slurm.run("scontrol", "requeue", task)
    wait_for(lambda: slurm.task_state(task) == "PENDING", 90, f"{task} to be pending again", 0.5)
    slurm.run("scontrol", "update", f"JobId={task}", "StartTime=now")
    wait_for(slurm.idle, 900, "every job to finish", 2)
    sources = {name: str(tiny_encoders[family]) for name, family in ENCODERS.items()}
    return {
        "root": root,
        "args": args,
        "task": task,
        "first": first,
        "submission": submitted.stdout,
        "again_while_queued": again,
        "train_job": train_job,
        "sources": sources,
    }


@pytest.mark.needs_slurm
def test_grid_runs_through_sbatch(requeued_grid, slurm):
    root = requeued_grid["root"]
    for name in ENCODERS:
        folder = Run("es", name, 1, encoder_source=requeued_grid["sources"][name]).folder(root)
        results = json.loads((folder / "results.json").read_text())
        assert results["status"] == "finished" and results["training"]["epochs"] == EPOCHS
        attempt = json.loads((folder / ATTEMPT_FILE).read_text())
        assert attempt["outcome"] == "finished" and attempt["executor"] == "slurm" and attempt["slurm_job"]
    assert "submitted prep.sbatch" in requeued_grid["submission"]
    again = requeued_grid["again_while_queued"]
    assert again.returncode == 0, again.stderr
    train_job = requeued_grid["train_job"]
    assert f"2 runs still pending or running in SLURM (job ids {train_job}): not submitting them again" in again.stdout
    assert "0 of 2 runs already finished; submitting 0" in again.stdout

    status = subprocess.run(
        [
            sys.executable,
            str(ROOT / "local" / "grid.py"),
            "status",
            "--results-root",
            root,
            "--langs",
            "es",
            "--encoders",
            *ENCODERS,
            "--seeds",
            "1",
            *[a for name, source in requeued_grid["sources"].items() for a in ("--encoder-source", f"{name}={source}")],
        ],
        capture_output=True,
        text=True,
    )
    assert status.stdout.startswith("2 runs: 2 done"), status.stdout
    again = subprocess.run(
        [sys.executable, str(ROOT / "local" / "grid.py"), *map(str, requeued_grid["args"])],
        env=slurm.env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0 and "2 of 2 runs already finished; submitting 0" in again.stdout
    assert "submitted" not in again.stdout


@pytest.mark.needs_slurm
def test_requeued_run_resumes_from_its_checkpoint(requeued_grid):
    folder = requeued_grid["first"].folder(requeued_grid["root"])
    attempts = (folder / LOG_FILE).read_text().split("=== grid attempt ")[1:]
    assert len(attempts) == 2
    assert "Would load a checkpoint here, but none found yet" in attempts[0]
    assert "none found yet" not in attempts[1] and "Loading a checkpoint from" in attempts[1]
    assert json.loads((folder / ATTEMPT_FILE).read_text())["attempt"] == 2
    results = json.loads((folder / "results.json").read_text())
    # The first attempt's epochs come back from the checkpoint: the record covers every epoch.
    assert results["training"]["epochs"] == EPOCHS
    assert [e["epoch"] for e in results["training"]["dev_history"]] == list(range(1, EPOCHS + 1))
    assert attempts[1].count("Going into epoch") < EPOCHS  # the second attempt did not start over
    slurm_log = next(folder.parents[2].glob(f"grid/slurm-*/slurm-{requeued_grid['task']}.out")).read_text()
    assert "TERM received: stopping the worker" in slurm_log
    assert "(restart 1)" in slurm_log


@pytest.mark.needs_slurm
def test_squeue_tasks_read_this_squeue(slurm, monkeypatch):
    def sbatch(*args):
        return slurm.run("sbatch", "--parsable", "--output=/dev/null", *args).strip().split(";")[0]

    failing = sbatch("--wrap", "exit 1")
    held = sbatch("--hold", "--array=0-3,7%2", "--wrap", "true")
    orphaned = sbatch(f"--dependency=afterok:{failing}", "--array=0-1", "--wrap", "true")
    monkeypatch.setenv("SLURM_CONF", str(slurm.conf))
    try:
        wait_for(
            lambda: NEVER_STARTS in slurm.run("squeue", "-h", "-j", orphaned, "-o", "%r", check=False),
            120,
            f"{orphaned} to wait on the failed {failing}",
        )
        assert squeue_tasks([held, orphaned, failing], program("squeue")) == (
            {held: {0, 1, 2, 3, 7}},
            {orphaned: {0, 1}},
        )
        assert squeue_tasks(["999999"], program("squeue")) == ({}, {})  # a job SLURM does not know
    finally:
        slurm.run("scancel", held, orphaned, check=False)
