"""The study's released checkpoints against the same cells trained here: the reproduction table.

A results root can hold, for one language x encoder cell, both the study's released
checkpoints scored here (protocol "released", local/evaluate_checkpoint.py) and runs
trained here (protocol "study", the registry's weights); crossling_asr.analysis.aggregate
reads and checks each side. For every cell with both, the table shows the mean over each
side's seeds of the test error (the language's primary metric, WER and CER), the number
of seeds behind each mean and the difference trained - released (positive: the runs
trained here do worse). The two sides' seeds are unrelated numbers (a released seed is
whatever the study drew), so cells are paired, never seeds.

Only results scored on the same test set are compared: every seed of both sides must
have scored the same number of test utterances and, where results.json records it, the
same prepared test split (utterances, hours, speakers and skipped rows of
prep_report.json), with the same primary metric; a cell where they differ is set aside
with the reason. Cells with only one side are counted and listed.

Per language, the mean paired difference over its cells with a 95% percentile bootstrap
CI resampling cells, and the number of cells where the reproduction does better, worse
or the same; pooled, the mean over all paired cells with a cluster bootstrap over
languages (the cells of a language share its test set and are not independent).
"""

import json

import pandas as pd

from crossling_asr.analysis.aggregate import METRICS, collect, summarize
from crossling_asr.analysis.stats import BOOTSTRAP_RESAMPLES, bootstrap_mean_ci
from crossling_asr.run_layout import RELEASED_PROTOCOL, STUDY_PROTOCOL, parse_run_name

SIDES = ("released", "trained")
# What must be the same on both sides for two cells to be scored on one test set:
# runs-table column (aggregate.RUN_COLUMNS), what it is, and whether results may lack it.
TEST_SET_FIELDS = (
    ("primary", "primary metric", False),
    ("test_utterances", "scored test utterances", False),
    ("test_set", "prepared test split", True),
)
CELL_COLUMNS = (
    "language",
    "encoder",
    "primary",
    "n_released",
    "released_seeds",
    "n_trained",
    "trained_seeds",
    *(f"{metric}_{part}" for metric in METRICS for part in ("released", "trained", "difference")),
    "test_utterances",
)
LANGUAGE_COLUMNS = (
    "scope",
    "n_cells",
    "error_released",
    "error_trained",
    "mean_difference",
    "ci_low",
    "ci_high",
    "reproduction_better",
    "reproduction_worse",
    "same",
)
POOLED = "pooled (all languages)"


def different_test_sets(released, trained):
    """Why the runs of one cell's two sides were not scored on the same test set, or None."""
    sides = dict(zip(SIDES, (released, trained)))
    for column, what, optional in TEST_SET_FIELDS:
        found = {side: set(runs[column].dropna()) for side, runs in sides.items()}
        for side, runs in sides.items():
            if not optional and runs[column].isna().any():
                seeds = ", ".join(str(seed) for seed in sorted(runs.loc[runs[column].isna(), "seed"]))
                return f"{what} not recorded by {side} seed(s) {seeds}"
            if len(found[side]) > 1:
                return f"{side} seeds differ in {what}: " + "; ".join(
                    f"seed {seed}: {value}" for seed, value in zip(runs["seed"], runs[column])
                )
        if all(found.values()) and found["released"] != found["trained"]:
            released_value, trained_value = (next(iter(found[side])) for side in SIDES)
            return f"{what}: {value_difference(column, released_value, trained_value)}"
    return None


def value_difference(column, released, trained):
    """'released X, trained Y'; for the prepared test split (JSON), only the fields that differ."""
    if column != "test_set":
        return f"released {released}, trained {trained}"
    released, trained = json.loads(released), json.loads(trained)
    return "; ".join(
        f"{field} released {released.get(field)}, trained {trained.get(field)}"
        for field in sorted(set(released) | set(trained))
        if released.get(field) != trained.get(field)
    )


def compare_cells(released_runs, trained_runs):
    """(cells, set_aside, unpaired) of two aggregate.collect runs tables.

    cells: one row per cell with both sides on the same test set (CELL_COLUMNS);
    set_aside: language, encoder, reason; unpaired: language, encoder, side (which
    one it has), seeds.
    """
    sides = dict(zip(SIDES, (released_runs, trained_runs)))
    groups = {side: dict(iter(runs.groupby(["language", "encoder"], sort=True))) for side, runs in sides.items()}
    means = {
        side: summarize(runs).set_index(["language", "encoder"]) if not runs.empty else None
        for side, runs in sides.items()
    }
    rows, set_aside, unpaired = [], [], []
    for language, encoder in sorted(set(groups["released"]) | set(groups["trained"])):
        key = (language, encoder)
        present = [side for side in SIDES if key in groups[side]]
        if len(present) == 1:
            unpaired.append(
                {
                    "language": language,
                    "encoder": encoder,
                    "side": f"{present[0]} only",
                    "seeds": means[present[0]].loc[key, "seeds"],
                }
            )
            continue
        reason = different_test_sets(groups["released"][key], groups["trained"][key])
        if reason:
            set_aside.append({"language": language, "encoder": encoder, "reason": reason})
            continue
        released, trained = means["released"].loc[key], means["trained"].loc[key]
        row = {
            "language": language,
            "encoder": encoder,
            "primary": released["primary"],
            "n_released": int(released["n_seeds"]),
            "released_seeds": released["seeds"],
            "n_trained": int(trained["n_seeds"]),
            "trained_seeds": trained["seeds"],
            "test_utterances": int(groups["released"][key]["test_utterances"].iloc[0]),
        }
        for metric in METRICS:
            row[f"{metric}_released"] = released[f"{metric}_mean"]
            row[f"{metric}_trained"] = trained[f"{metric}_mean"]
            row[f"{metric}_difference"] = trained[f"{metric}_mean"] - released[f"{metric}_mean"]
        rows.append(row)
    return (
        pd.DataFrame(rows, columns=list(CELL_COLUMNS)),
        pd.DataFrame(set_aside, columns=["language", "encoder", "reason"]),
        pd.DataFrame(unpaired, columns=["language", "encoder", "side", "seeds"]),
    )


def differences_by_language(cells, n_resamples=BOOTSTRAP_RESAMPLES, level=0.95, seed=0):
    """Per language and pooled (LANGUAGE_COLUMNS): the mean over cells of the primary error of
    each side and of the paired difference, its bootstrap CI (cells; pooled: languages as
    clusters) and how many cells the reproduction does better (lower error), worse or the same."""
    if cells.empty:
        return pd.DataFrame([], columns=list(LANGUAGE_COLUMNS))
    rows = []
    scopes = [(language, group, None) for language, group in cells.groupby("language", sort=True)]
    for scope, group, clusters in scopes + [(POOLED, cells, cells["language"])]:
        difference = group["error_difference"].to_numpy(dtype=float)
        low, high = bootstrap_mean_ci(difference, clusters, n_resamples, level, seed)
        rows.append(
            {
                "scope": scope,
                "n_cells": len(group),
                "error_released": group["error_released"].mean(),
                "error_trained": group["error_trained"].mean(),
                "mean_difference": difference.mean(),
                "ci_low": low,
                "ci_high": high,
                "reproduction_better": int((difference < 0).sum()),
                "reproduction_worse": int((difference > 0).sum()),
                "same": int((difference == 0).sum()),
            }
        )
    return pd.DataFrame(rows, columns=list(LANGUAGE_COLUMNS))


def reproduction_tables(results_root, languages=None, encoders=None, n_resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """(cells, by_language, set_aside, unpaired) of `results_root`: its released results against
    its runs trained with the registry's weights, restricted to `languages` and `encoders`
    (default: all)."""
    released, trained = (collect(results_root, protocol).runs for protocol in (RELEASED_PROTOCOL, STUDY_PROTOCOL))
    if languages:
        released, trained = (runs[runs["language"].isin(languages)] for runs in (released, trained))
    if encoders:
        released, trained = (runs[runs["encoder"].isin(encoders)] for runs in (released, trained))
    cells, set_aside, unpaired = compare_cells(released, trained)
    return cells, differences_by_language(cells, n_resamples, seed=seed), set_aside, unpaired


def replaced_trained_runs(results_root, released_cells):
    """The runs trained here of `released_cells` ({(language, encoder)}) that are not compared
    because their encoder weights are not the registry's (tiny smoke runs, other checkpoints):
    a table of language, encoder, run and reason."""
    rows = []
    for entry in collect(results_root, STUDY_PROTOCOL).set_aside.itertuples(index=False):
        language, name, _ = entry.run.split("/")
        encoder, protocol, tag = parse_run_name(name)
        if protocol == STUDY_PROTOCOL and tag and (language, encoder) in released_cells:
            rows.append({"language": language, "encoder": encoder, "run": entry.run, "reason": entry.reason})
    return pd.DataFrame(rows, columns=["language", "encoder", "run", "reason"])


def add_reproduction_section(
    report, results_root, languages=None, encoders=None, n_resamples=BOOTSTRAP_RESAMPLES, seed=0
):
    """The reproduction section of a crossling_asr.analysis.report.Report: the released checkpoints
    of `results_root` against its runs trained here, whatever protocol the rest of the report
    analyses (`languages`, `encoders`: the expected grid; default all)."""
    cells, by_language, set_aside, unpaired = reproduction_tables(results_root, languages, encoders, n_resamples, seed)
    counts = unpaired["side"].value_counts()
    heading = "## 6. Reproduction: released checkpoints vs runs trained here"
    if cells.empty and set_aside.empty and not counts.get("released only", 0):
        report.text(
            f"{heading}\n\nNo released checkpoints scored under this results root "
            "(`local/evaluate_checkpoint.py` writes them to `<lang>/<encoder>.released/seed_<seed>/`): "
            "nothing to compare."
        )
        return
    report.text(
        f"{heading}\n\n"
        "For each language x encoder cell with both the study's released checkpoints scored here "
        "(protocol released, `local/evaluate_checkpoint.py`) and runs trained here (protocol study, "
        "the registry's weights): the mean test error over each side's seeds, and the difference "
        "trained - released (positive: the reproduction does worse). Cells are paired, not seeds (the "
        "released seeds are other numbers). Only cells whose every seed was scored on the same test "
        "set (scored utterances, prepared test split) are compared. Per language, the mean paired "
        "difference of the primary error over cells, 95% percentile bootstrap CI over cells; pooled, "
        "over all cells with a cluster bootstrap over languages. Each side's results files are checked "
        "in the report of its protocol (`--protocol released`, `--protocol study`).\n\n"
        f"{len(cells)} cells compared; {len(set_aside)} set aside (not the same test set); "
        f"{counts.get('released only', 0)} with released checkpoints only; "
        f"{counts.get('trained only', 0)} with runs trained here only."
    )
    released_cells = set(zip(cells["language"], cells["encoder"])) | set(
        zip(set_aside["language"], set_aside["encoder"])
    )
    released_cells |= {
        (row.language, row.encoder) for row in unpaired.itertuples(index=False) if row.side == "released only"
    }
    replaced = replaced_trained_runs(results_root, released_cells)
    if not replaced.empty:
        report.text(
            f"{len(replaced)} runs trained here for these cells are not compared: their encoder weights are "
            "not the registry's (`--encoder_source`), so they are not the study's experiment."
        )
        report.table(
            replaced,
            "reproduction_replaced_weights",
            "Trained runs of released cells with replaced encoder weights (not compared)",
            embed=len(replaced) <= 40,
        )
    if not cells.empty:
        report.table(
            by_language,
            "reproduction_by_language",
            "Mean paired difference trained - released of the "
            "primary test error (%) per language and pooled, with the cells where the reproduction does "
            "better (lower error) and worse",
        )
        report.table(
            cells,
            "reproduction_cells",
            "Released vs trained here per cell: mean test error (%) over "
            "each side's seeds and the difference trained - released",
            embed=len(cells) <= 60,
        )
    for frame, name, caption in (
        (set_aside, "reproduction_set_aside", "Cells not compared: their sides were not scored on the same test set"),
        (unpaired, "reproduction_unpaired", "Cells with only one side"),
    ):
        if not frame.empty:
            report.table(frame, name, caption, embed=len(frame) <= 40)
