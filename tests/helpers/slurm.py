"""A fake sbatch and a fake squeue: they record the arguments they are called with and answer job ids
or queued tasks, for the SLURM scripts without a cluster (the real one is started in
tests/integration/grid/test_slurm.py)."""

import shlex


def write_fake_sbatch(folder, first_job_id):
    """An sbatch that appends its arguments to folder/calls and answers job ids first_job_id + 1, + 2, ..."""
    sbatch = folder / "sbatch"
    sbatch.write_text(
        '#!/bin/bash\necho "$@" >> "$(dirname "$0")/calls"\n'
        f'n=$(wc -l < "$(dirname "$0")/calls")\necho "$(({first_job_id} + n));cluster"\n'
    )
    sbatch.chmod(0o755)
    return sbatch


def write_fake_squeue(folder, output, returncode=0, stderr=""):
    """A squeue that appends its arguments to folder/squeue_calls, prints `output` and `stderr`, and exits
    with `returncode`."""
    squeue = folder / "squeue"
    squeue.write_text(
        '#!/bin/bash\necho "$@" >> "$(dirname "$0")/squeue_calls"\n'
        f"printf %s {shlex.quote(output)}\nprintf %s {shlex.quote(stderr)} >&2\nexit {returncode}\n"
    )
    squeue.chmod(0o755)
    return squeue
