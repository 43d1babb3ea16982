"""The study's released checkpoints as a grid: evaluated here, not trained, by the grid's executors.

The study released its fine-tuned checkpoints on the Hugging Face hub under names that
crossling_asr.interop.released_names parses. Each checkpoint is a grid
Run of the protocol "released" (crossling_asr.run_layout) whose `checkpoint` is its hub id
or local folder, so it lives where local/evaluate_checkpoint.py writes it,
<results root>/<lang>/<encoder>.released/seed_<seed>/, its state is read from that folder as
a trained run's is (done once its results.json is finished), and the executors launch the
evaluation instead of the recipe (GridJob.recipe_command) after preparing its language once
under <results root>/prepared/<lang>/.

Which checkpoints: a list file (one hub id or local folder per line), or the release
account's models listed by huggingface_hub. A name's model part maps to the registry by
`released_name` alone, so the folder is known before anything is fetched; an unknown one is
reported, never guessed (the evaluation then checks it against the checkpoint's card).
"""

from dataclasses import replace
from pathlib import Path

from crossling_asr.grid.runs import GridError, Run, check_selection
from crossling_asr.hparams import recipe_languages
from crossling_asr.interop.released_names import (
    RELEASE_ACCOUNT,
    RELEASED_NAME_PREFIX,
    parse_released_name,
    recipe_language,
    released_model_encoder,
)
from crossling_asr.registry import load_registry
from crossling_asr.run_layout import RELEASED_PROTOCOL, STUDY_PROTOCOL, is_local_source

LIST_FORMAT = "one hub id (jonatasgrosman/exp_w2v2t_<lang>_<model>_s<seed>) or local folder per line, # comments"


def read_checkpoint_list(path):
    """[(source, 'file:line')] of a checkpoint list file (LIST_FORMAT).

    A line naming an existing folder is that folder (a relative one is relative to the file's
    own folder, so the list means the same from any working directory), made absolute; any
    other line is a hub id, or a missing folder when it cannot be one.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise GridError(f"--checkpoints {path}: cannot be read ({err})") from err
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        source = line.split("#", 1)[0].strip()
        if not source:
            continue
        folder = (path.parent / Path(source).expanduser()).resolve()
        # org/name is a hub id, unless it is a folder, or names one in a folder beside the list (a typo).
        in_a_folder = folder.parent.is_dir() and source.split("/")[0] != RELEASE_ACCOUNT
        if folder.is_dir() or is_local_source(source) or in_a_folder:
            source = str(folder)
        entries.append((source, f"{path}:{number}"))
    return entries


def discover_released_checkpoints():
    """[(hub id, 'hub')] of the release account's models whose names start like a released one."""
    from huggingface_hub import HfApi  # only when listing: status from a list file stays light

    try:
        ids = sorted(model.id for model in HfApi().list_models(author=RELEASE_ACCOUNT, search=RELEASED_NAME_PREFIX))
    except Exception as err:  # the hub client's network, HTTP and offline-mode errors have no common base
        raise GridError(
            f"could not list {RELEASE_ACCOUNT}'s {RELEASED_NAME_PREFIX}* models on the Hugging Face hub "
            f"({type(err).__name__}: {err}). Offline, pass --checkpoints FILE: {LIST_FORMAT} (with HF_HUB_OFFLINE=1 "
            "set, the listing fails at once instead of retrying)"
        ) from None
    return [(hub_id, "hub") for hub_id in ids]


def released_run(source, registry, languages):
    """The grid Run evaluating the released checkpoint `source`; GridError saying why it is none."""
    released = parse_released_name(source)
    if released is None:
        raise GridError(
            f"{source}: not named like a released checkpoint, {RELEASED_NAME_PREFIX}_<lang>_<model>_s<seed>"
        )
    if is_local_source(source):
        if not Path(source).is_dir():
            raise GridError(f"{source}: no such folder (a hub id is {RELEASE_ACCOUNT}/{Path(source).name})")
    elif source.split("/")[0] != RELEASE_ACCOUNT:
        raise GridError(
            f"{source}: neither a folder nor a hub id of the release account {RELEASE_ACCOUNT} (score "
            "other checkpoints with local/evaluate_checkpoint.py)"
        )
    language = recipe_language(released.language, languages)
    if language is None:
        raise GridError(f"{source}: language {released.language} has no recipe here ({', '.join(languages)})")
    encoder, known = released_model_encoder(released.model, registry)
    if encoder is None:
        raise GridError(
            f"{source}: unknown model name {released.model!r} (hparams/encoders.yaml's released_name: {known})"
        )
    return Run(language, encoder, released.seed, RELEASED_PROTOCOL, checkpoint=source)


def released_runs(entries):
    """(runs, problems) of [(source, where)] entries: a problem is 'where: why it is no released
    checkpoint', or a second checkpoint for a folder already taken by an earlier entry."""
    registry, languages = load_registry(), recipe_languages()
    runs, problems, first = [], [], {}
    for source, where in entries:
        try:
            run = released_run(source, registry, languages)
        except GridError as err:
            problems.append(f"{where}: {err}")
            continue
        if run.name in first:
            problems.append(f"{where}: {source} is {run.name} again (already {first[run.name]})")
            continue
        first[run.name] = f"{source} at {where}"
        runs.append(run)
    return runs, problems


def released_grid(checkpoints=None, languages=None, encoders=None, seeds=None, report=print):
    """The runs of the released checkpoints in the selection (None: all of them).

    `checkpoints`: a list file, whose every bad line is an error (all of them named by
    file:line); without it the release account is listed on the hub, and names that are no
    released checkpoint of a recipe's language and a registry encoder are reported through
    `report` and left out. Seeds are released seeds.
    """
    if checkpoints is not None:
        runs, problems = released_runs(read_checkpoint_list(checkpoints))
        if problems:
            raise GridError(f"--checkpoints {checkpoints} ({LIST_FORMAT}):\n  " + "\n  ".join(problems))
    else:
        runs, problems = released_runs(discover_released_checkpoints())
        for problem in problems:
            report(f"left out: {problem}")
    check_selection(languages, encoders)
    selected = [
        run
        for run in runs
        if (not languages or run.language in languages)
        and (not encoders or run.encoder in encoders)
        and (not seeds or run.seed in seeds)
    ]
    if not selected:
        raise GridError(f"none of the {len(runs)} released checkpoints listed is in the selection")
    return sorted(selected)


def retraining_run(run):
    """The study's training run of the (language, encoder, seed) a released checkpoint was fine-tuned as."""
    return replace(run, protocol=STUDY_PROTOCOL, checkpoint=None)
