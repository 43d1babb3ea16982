"""Data preparation of one language, once, before any of its runs start.

The recipe prepares its data itself (idempotently), but two runs of a
language starting together would convert the same clips at the same time.
The grid therefore prepares each language first, through the recipe's own
`prepare` with the recipe's own hparams (so the preparation fingerprint
matches and the runs skip it), holding a per-language lock so concurrent grid
processes never prepare the same language at once.

The hparams are loaded without building any object (encoder, checkpointer,
...): every key of the shared experiment file that constructs an object is
overridden with null, so preparing needs no model download and no GPU.

A failed preparation is recorded in <results root>/prepared/<lang>.prep_failed.json
(the error, where it ran, its log), where `status` finds it to show the
language's runs as failed; the next successful preparation removes it.
"""

import datetime
import logging
import socket
from pathlib import Path

import ruamel.yaml
import speechbrain as sb
import yaml

from crossling_asr.atomic import write_json
from crossling_asr.common_voice import CommonVoiceFormatError
from crossling_asr.grid.claim import FileLock, slurm_task_id
from crossling_asr.grid.runs import prep_failure_file
from crossling_asr.hparams import HparamsError, language_file, load_recipe_hparams, read_language_data

logger = logging.getLogger(__name__)

OBJECT_TAGS = ("!new:", "!apply:", "!applyref:")
# Failures caused by the input or the machine (an unknown hparams key, a bad TSV, a
# missing file, a full disk): reported by their message alone, without a traceback.
PREPARATION_ERRORS = (HparamsError, CommonVoiceFormatError, OSError)


def object_keys(base_file):
    """Top-level keys of a HyperPyYAML file whose value is built by calling code."""
    tree = ruamel.yaml.YAML(typ="rt").load(Path(base_file).read_text(encoding="utf-8"))
    keys = []
    for key, node in tree.items():
        tag = getattr(getattr(node, "tag", None), "value", None) or ""
        if tag.startswith(OBJECT_TAGS):
            keys.append(key)
    return keys


def preparation_hparams(language, recipe_args):
    """The recipe's hparams for `language` with `recipe_args` (--key=value), objects left unbuilt."""
    lang_file = language_file(language)
    _, _, overrides_text = sb.parse_arguments([str(lang_file), *recipe_args])
    overrides = yaml.safe_load(overrides_text) or {}
    base_rel = overrides.get("base_hparams") or read_language_data(language).get("base_hparams")
    if not base_rel:
        raise HparamsError(f"{lang_file}: missing `base_hparams` (the shared experiment file)")
    base_file = (lang_file.parent / base_rel).resolve()
    overrides.update({key: None for key in object_keys(base_file)})
    hparams, _, _ = load_recipe_hparams(lang_file, yaml.safe_dump(overrides, allow_unicode=True))
    return hparams


def prepare_language(language, recipe_args):
    """Prepare `language` (no-op when already prepared with these options); returns the prep report."""
    from crossling_asr.recipe import prepare  # imports torch: only where a preparation runs

    hparams = preparation_hparams(language, recipe_args)
    prep_folder = Path(hparams["prep_folder"])
    lock = FileLock(prep_folder.parent / f".{prep_folder.name}.prep.lock")
    if not lock.acquire(blocking=False):
        logger.info("Another process is preparing %s in %s; waiting for it", language, prep_folder)
        lock.acquire(blocking=True)
    try:
        return prepare(hparams)
    finally:
        lock.release()


def prepare_for_grid(job, language, executor, log=None):
    """prepare_language with the grid job's overrides, recording a failure for `status`.

    Any exception is recorded (with `log`, the file holding this process's
    output, when known) and raised again; success removes the record.
    """
    record = prep_failure_file(job.results_root, language)
    try:
        report = prepare_language(language, job.language_overrides(language))
    except Exception as err:
        write_json(record, {
            "language": language,
            "error": str(err) or type(err).__name__,
            "error_type": type(err).__name__,
            "failed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "executor": executor,
            "slurm_job": slurm_task_id(),
            "log": str(log) if log else None,
        })
        raise
    record.unlink(missing_ok=True)
    return report
