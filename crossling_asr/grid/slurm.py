"""The SLURM executor: the grid as sbatch job arrays that survive preemption and time limits.

One submission writes, under <results root>/grid/slurm-<stamp>/, a manifest
and batch scripts, then submits
- a preparation array (one CPU task per language; a no-op for a language
  already prepared with the same options), in its own partition
  (--prep-partition; default: the cluster's default, never the GPU one), and
- one training array per resource class (GPU type and time limit), whose
  task ids are the runs' indices in the manifest, started only once the
  preparation array succeeded (--dependency=afterok); for released
  checkpoints (crossling_asr.grid.released) the arrays evaluate them
  (eval<N>.sbatch), with time limits from their evaluation's cost.
Each task runs `python -m crossling_asr.grid.worker`, which skips finished
runs and runs claimed elsewhere, so resubmitting a grid is safe. Before submitting,
squeue is asked which tasks of the results root's earlier submissions (their
submitted.json and manifest) are still pending or running: their runs are not
submitted again, so re-running a grid command while its tasks wait in the
queue takes no second queue slot or allocation for them.

Plain sbatch scripts rather than submitit: the scripts are readable and
editable by hand, resubmittable with plain `sbatch`, need no Python package
on the submitting side, and the requeue logic (a bash trap around the
worker) is visible in them; submitit would pickle callables and hide both.

Preemption and time limits: scripts are submitted with --requeue and
--signal=B:USR1@<s>. SLURM sends USR1 to the batch shell that many seconds
before the time limit, and TERM on preemption or `scontrol requeue`; the
trap forwards TERM to the worker (which stops the recipe; the recipe keeps
its last checkpoint, and saves one on SIGTERM where it supports that), then
requeues the task with `scontrol requeue`. The requeued task runs the same
command and the recipe resumes from its last checkpoint.

GPU memory: SLURM has no generic per-GPU memory request. With --gpu-types
(e.g. a100_40g=40,a100_80g=80, as named in the cluster's gres.conf) a run
asks for the smallest type with at least the registry's gpu_memory_gb for
its encoder (an evaluation: EVALUATION_GPU_MEMORY_GB); without it, plain
--gres=gpu:N, and the needed memory is written in the script for the user to
add a --constraint via --sbatch-arg.
"""

import math
import shlex
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from crossling_asr.atomic import write_json, write_text
from crossling_asr.grid.cost import estimate
from crossling_asr.grid.job import manifest_runs, write_manifest
from crossling_asr.grid.runs import GridError, is_finished, read_json
from crossling_asr.hparams import REPO_ROOT
from crossling_asr.registry import load_registry

MAX_ARRAY_TASKS = 1000  # SLURM's default MaxArraySize is 1001 (task ids 0-1000)
OUTPUT_FILE = "slurm-%A_%a.out"  # sbatch --output of every task: %A array job id, %a task id
SQUEUE_TIMEOUT_SECONDS = 60
# squeue's reason for a task whose --dependency=afterok job failed (a failed preparation): SLURM keeps
# it pending for ever unless kill_invalid_depend is set, so its run is submitted again.
NEVER_STARTS = "DependencyNeverSatisfied"


@dataclass
class SlurmOptions:
    """sbatch settings of a submission (None: leave it to the cluster's defaults)."""

    partition: str = None
    prep_partition: str = None  # the CPU-only preparation array (None: the cluster's default partition)
    account: str = None
    qos: str = None
    time: str = None
    time_safety: float = 1.5
    cpus_per_task: int = 8
    mem: str = None
    gpu_types: dict = field(default_factory=dict)
    max_parallel: int = None
    prep_cpus: int = 8
    prep_time: str = "12:00:00"
    prep_mem: str = None
    signal_seconds: int = 300
    sbatch_args: list = field(default_factory=list)


def parse_gpu_types(text):
    """'a100_40g=40,a100_80g=80' -> {'a100_40g': 40.0, 'a100_80g': 80.0}."""
    types = {}
    for item in filter(None, (text or "").split(",")):
        name, sep, memory = item.partition("=")
        if not sep:
            raise GridError(f"--gpu-types entry {item!r} must be NAME=GB")
        types[name.strip()] = float(memory)
    return types


# GPU memory an evaluation asks for. The registry's gpu_memory_gb is for training (weights,
# gradients, AdamW state and activations kept for backward); an evaluation holds only the
# weights (~1.3 GB for the ~315M-parameter encoders, fp32) and one batch's activations
# without autograd (evaluate_checkpoint's default batch: 60 s of padded audio), a few GB.
# An assumption with a margin, not a measurement: no GPU was available to measure it.
EVALUATION_GPU_MEMORY_GB = 16.0


def gpu_gres(memory_gb, gpus, gpu_types):
    """The --gres value for `gpus` GPUs with at least `memory_gb` each, or None for a CPU run."""
    if gpus == 0:
        return None
    if not gpu_types:
        return f"gpu:{gpus}"
    fitting = [(memory, name) for name, memory in gpu_types.items() if memory >= memory_gb]
    if not fitting:
        raise GridError(f"No GPU type in --gpu-types has {memory_gb} GB (types: {gpu_types})")
    return f"gpu:{min(fitting)[1]}:{gpus}"


def hours_to_time_limit(hours):
    """Hours as an sbatch time limit HH:MM:00, rounded up to 15 minutes."""
    minutes = max(15, math.ceil(hours * 60 / 15) * 15)
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def task_output_file(submission, task):
    """The SLURM output file of array task `task` ('<array job>_<task id>'), as --output names it."""
    return Path(submission) / OUTPUT_FILE.replace("%A_%a", task)


def batch_script(name, array, resources, partition, task, manifest, submission, options, python, notes=()):
    """A job-array script running `crossling_asr.grid.worker --task <task>` with the requeue trap."""
    directives = [
        f"--job-name={name}",
        f"--array={array}",
        f"--output={submission}/{OUTPUT_FILE}",
        "--open-mode=append",
        "--requeue",
        f"--signal=B:USR1@{options.signal_seconds}",
        *resources,
        *[
            f"--{key}={value}"
            for key, value in (("partition", partition), ("account", options.account), ("qos", options.qos))
            if value
        ],
        *options.sbatch_args,
    ]
    worker = shlex.join(
        [python, "-m", "crossling_asr.grid.worker", "--manifest", str(manifest), "--task", task, "--index"]
    )
    return "\n".join(
        [
            "#!/bin/bash",
            *[f"#SBATCH {directive}" for directive in directives],
            *[f"# {note}" for note in notes],
            "# USR1 (before the time limit) or TERM (preemption, scontrol requeue): stop the worker,",
            "# which stops the recipe (its last checkpoint stays), then requeue this task; the requeued",
            "# task runs the same command and the recipe resumes from that checkpoint.",
            f"cd {shlex.quote(str(REPO_ROOT))}",
            f'export PYTHONPATH={shlex.quote(str(REPO_ROOT))}"${{PYTHONPATH:+:$PYTHONPATH}}"',
            'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
            'task="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
            "stop_and_requeue() {",
            '    echo "[grid] $(date -Is) $1 received: stopping the worker, requeueing $task"',
            '    if [[ -n "${worker:-}" ]]; then kill -TERM "$worker" 2>/dev/null; wait "$worker"; fi',
            '    scontrol requeue "$task" || echo "[grid] scontrol requeue $task failed (already requeued?)"',
            "    exit 0",
            "}",
            "trap 'stop_and_requeue USR1' USR1",
            "trap 'stop_and_requeue TERM' TERM",
            'echo "[grid] $(date -Is) task $task (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname)"',
            f'{worker} "$SLURM_ARRAY_TASK_ID" &',
            "worker=$!",
            'wait "$worker"',
            "",
        ]
    )


def array_spec(indices, max_parallel):
    """Task ids as an sbatch --array value: ranges where consecutive, %N to cap parallel tasks."""
    indices = sorted(indices)
    parts, start = [], indices[0]
    for previous, current in zip(indices, indices[1:] + [None]):
        if current != previous + 1:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = current
    return ",".join(parts) + (f"%{max_parallel}" if max_parallel else "")


class SqueueError(RuntimeError):
    """squeue could not be run or failed: which tasks SLURM still holds is unknown."""


def parse_array_tasks(squeue_id: str) -> tuple[str, set[int] | None]:
    """(job id, task ids) of a job as squeue's %i prints it: '123_4' (one array task), '123_[4-7,9%2]'
    (pending tasks compressed, as some squeue versions print them even with --array; %2 is the array's
    throttle) or '123' (a job that is not an array: task ids None)."""
    job, _, tasks = squeue_id.partition("_")
    if not tasks:
        return job, None
    ids = set()
    for part in tasks.strip("[]").split("%")[0].split(","):
        first, _, last = part.partition("-")
        ids.update(range(int(first), int(last or first) + 1))
    return job, ids


def squeue_tasks(job_ids, squeue="squeue") -> tuple[dict, dict]:
    """The tasks of `job_ids` that SLURM still holds (pending or running), as {job id: task ids} (None:
    all of a job that is not an array): those that can start, and those that never will (NEVER_STARTS).
    Raises SqueueError when squeue cannot be run or fails."""
    command = [squeue, "--noheader", "--array", "--format=%i %r", f"--jobs={','.join(job_ids)}"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=SQUEUE_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SqueueError(str(err)) from err
    # Asked about one job that has left the queue, squeue fails; asked about several, it lists those left.
    if proc.returncode != 0 and "Invalid job id specified" not in proc.stderr:
        raise SqueueError(f"{shlex.join(command)} exited with {proc.returncode}: {proc.stderr.strip()}")
    can_start, never_starts = {}, {}
    for line in proc.stdout.splitlines():
        squeue_id, _, reason = line.strip().partition(" ")
        if squeue_id:
            job, ids = parse_array_tasks(squeue_id)
            tasks = never_starts if reason.strip() == NEVER_STARTS else can_start
            known = tasks.get(job, set())
            tasks[job] = None if ids is None or known is None else known | ids
    return can_start, never_starts


class SlurmExecutor:
    """Submits a grid to SLURM; see the module docstring."""

    def __init__(self, job, options, sbatch="sbatch", squeue="squeue", out=print):
        self.job = job
        self.options = options
        self.sbatch = sbatch
        self.squeue = squeue
        self.out = out

    def resource_classes(self, runs, assumptions, hours_table):
        """{(gres, time limit, memory GB): [run indices]} for `runs`."""
        registry = load_registry()
        if self.options.time:
            limits = [self.options.time] * len(runs)
        else:
            try:
                costs = estimate(runs, self.job.results_root, assumptions, hours_table)
            except GridError as err:
                raise GridError(f"{err}. Give --time to set the time limit directly.") from err
            limits = [hours_to_time_limit(h * self.options.time_safety) for h in costs["gpu_hours"]]
        classes = defaultdict(list)
        for index, (run, limit) in enumerate(zip(runs, limits)):
            memory = EVALUATION_GPU_MEMORY_GB if run.checkpoint else float(registry[run.encoder]["gpu_memory_gb"])
            gres = gpu_gres(memory, self.job.gpus_per_run, self.options.gpu_types)
            classes[(gres, limit, memory if gres else 0.0)].append(index)
        return classes

    def earlier_arrays(self, names):
        """{job id: (its runs, its submission's runs by task id)} of the results root's earlier training
        arrays that hold any of the runs `names`."""
        arrays = {}
        for submitted in sorted((Path(self.job.results_root) / "grid").glob("slurm-*/submitted.json")):
            records, manifest = read_json(submitted), read_json(submitted.with_name("manifest.json"))
            if not (records and manifest):
                continue
            by_task = [run.name for run in manifest_runs(manifest)]
            for record in records:
                if names & set(record.get("runs", ())):
                    arrays[record["job_id"]] = (record["runs"], by_task)
        return arrays

    def still_queued(self, runs):
        """Names of the `runs` that tasks of earlier submissions still hold in SLURM (pending or running),
        said in a line; none when squeue cannot tell, which is said too (the runs are then all submitted)."""
        names = {run.name for run in runs}
        arrays = self.earlier_arrays(names)
        if not arrays:
            return set()
        try:
            can_start, never_starts = squeue_tasks(list(arrays), self.squeue)
        except SqueueError as err:
            self.out(f"squeue could not tell which earlier tasks are still queued ({err}); submitting them all")
            return set()

        def held(tasks):
            """{job id: names of the `runs` that its tasks among `tasks` hold}."""
            by_job = {}
            for job, (job_runs, by_task) in arrays.items():
                ids = tasks.get(job, ())
                held_runs = names & set(job_runs if ids is None else [by_task[i] for i in ids if i < len(by_task)])
                if held_runs:
                    by_job[job] = held_runs
            return by_job

        queued, stuck = held(can_start), held(never_starts)
        queued_names = set().union(*queued.values())
        if queued:
            self.out(
                f"{len(queued_names)} runs still pending or running in SLURM (job ids {', '.join(queued)}): "
                "not submitting them again"
            )
        if set().union(*stuck.values()) - queued_names:
            self.out(
                f"SLURM jobs {', '.join(stuck)} wait for a job that failed ({NEVER_STARTS}) and will never start: "
                f"submitting their runs again (scancel {' '.join(stuck)} removes them)"
            )
        return queued_names

    def submit(self, runs, assumptions, hours_table=None):
        """Write the scripts and submit them; returns the submission records (also in submitted.json).
        Finished runs, and runs whose tasks of an earlier submission are still in SLURM's queue, are left out."""
        unfinished = [run for run in runs if not is_finished(run.folder(self.job.results_root))]
        queued = self.still_queued(unfinished)
        todo = [run for run in unfinished if run.name not in queued]
        self.out(f"{len(runs) - len(unfinished)} of {len(runs)} runs already finished; submitting {len(todo)}")
        if not todo:
            return []
        if len(todo) > MAX_ARRAY_TASKS:
            raise GridError(f"{len(todo)} runs exceed SLURM's default MaxArraySize; select fewer per submission")
        classes = self.resource_classes(todo, assumptions, hours_table)
        languages = list(dict.fromkeys(run.language for run in todo))
        submission = self.job.new_submission_dir("slurm")
        manifest = write_manifest(submission / "manifest.json", self.job, todo, languages)
        # Every language goes through the preparation array (a quick no-op when it is
        # prepared with the same options): it is the one place where data are prepared.
        resources = [f"--cpus-per-task={self.options.prep_cpus}", f"--time={self.options.prep_time}"]
        resources += [f"--mem={self.options.prep_mem}"] if self.options.prep_mem else []
        script = batch_script(
            "xl-asr-prep",
            array_spec(range(len(languages)), None),
            resources,
            self.options.prep_partition,
            "prep",
            manifest,
            submission,
            self.options,
            self.job.python,
            notes=[f"Prepares: {', '.join(languages)}"],
        )
        job_id = self._submit(submission / "prep.sbatch", script, [])
        records = [{"script": "prep.sbatch", "job_id": job_id, "languages": languages}]
        dependency = [f"--dependency=afterok:{job_id}"]
        for number, ((gres, limit, memory), indices) in enumerate(sorted(classes.items(), key=str)):
            resources = [f"--time={limit}", f"--cpus-per-task={self.options.cpus_per_task}"]
            resources += [f"--gres={gres}"] if gres else []
            resources += [f"--mem={self.options.mem}"] if self.options.mem else []
            encoders = sorted({todo[i].encoder for i in indices})
            notes = [f"Runs: {len(indices)} ({', '.join(encoders)})"]
            if gres:
                notes.append(f"Each run needs {self.job.gpus_per_run} GPU(s) with >= {memory:g} GB of memory")
            kind = "eval" if all(todo[i].checkpoint for i in indices) else "train"  # released checkpoints: eval
            script = batch_script(
                f"xl-asr-{kind}{number}",
                array_spec(indices, self.options.max_parallel),
                resources,
                self.options.partition,
                "run",
                manifest,
                submission,
                self.options,
                self.job.python,
                notes,
            )
            job_id = self._submit(submission / f"{kind}{number}.sbatch", script, dependency)
            records.append(
                {
                    "script": f"{kind}{number}.sbatch",
                    "job_id": job_id,
                    "runs": [todo[i].name for i in indices],
                    "time": limit,
                    "gres": gres,
                }
            )
        write_json(submission / "submitted.json", records)
        for record in records:
            what = record.get("languages") or f"{len(record['runs'])} runs"
            self.out(f"submitted {record['script']} as job {record['job_id']}: {what}")
        self.out(f"scripts, manifest and SLURM logs: {submission}")
        return records

    def _submit(self, path, script, extra_args):
        write_text(path, script)
        path.chmod(0o755)
        proc = subprocess.run([self.sbatch, "--parsable", *extra_args, str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise GridError(f"sbatch {path} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout.strip().split(";")[0]
