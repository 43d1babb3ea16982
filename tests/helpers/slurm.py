"""A fake sbatch: records the arguments it is called with and answers job ids, for the SLURM scripts
without a cluster (the real one is started in tests/integration/grid/test_slurm.py)."""


def write_fake_sbatch(folder, first_job_id):
    """An sbatch that appends its arguments to folder/calls and answers job ids first_job_id + 1, + 2, ..."""
    sbatch = folder / "sbatch"
    sbatch.write_text(
        '#!/bin/bash\necho "$@" >> "$(dirname "$0")/calls"\n'
        f'n=$(wc -l < "$(dirname "$0")/calls")\necho "$(({first_job_id} + n));cluster"\n'
    )
    sbatch.chmod(0o755)
    return sbatch
