"""Data preparation of one language for the grid, once, before any of its runs start.

The preparation itself is crossling_asr.data.preparation's (the recipe's own, under a lock);
here a failure is recorded in <results root>/prepared/<lang>.prep_failed.json (the error,
where it ran, its log), where `status` finds it to show the language's runs as failed; the
next successful preparation removes it.
"""

import datetime
import socket

from crossling_asr.atomic import write_json
from crossling_asr.data.preparation import prepare_language
from crossling_asr.grid.claim import slurm_task_id
from crossling_asr.grid.runs import prep_failure_file


def prepare_for_grid(job, language, executor, log=None):
    """prepare_language with the grid job's overrides, recording a failure for `status`.

    Any exception is recorded (with `log`, the file holding this process's
    output, when known) and raised again; success removes the record.
    """
    record = prep_failure_file(job.results_root, language)
    try:
        report = prepare_language(language, job.language_overrides(language))
    except Exception as err:
        write_json(
            record,
            {
                "language": language,
                "error": str(err) or type(err).__name__,
                "error_type": type(err).__name__,
                "failed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "host": socket.gethostname(),
                "executor": executor,
                "slurm_job": slurm_task_id(),
                "log": str(log) if log else None,
            },
        )
        raise
    record.unlink(missing_ok=True)
    return report
