"""Every results.json under a results root in one tidy table, checked before anything is averaged.

A results file is used only if it is a finished run of the current schema
with finite test error rates, in the folder its own run fields name
(<lang>/<run name>/seed_<seed>/, crossling_asr.run_layout). Runs of another
protocol than the one analysed, and runs whose encoder_source replaced the
registry's weights (tiny smoke runs, other checkpoints), are set aside and
listed: the registry's facts about an encoder do not describe them. Asked
for, the latter are analysed under their run name (xlsr-53~<source tag>), so
every table and figure shows where their weights came from. The same run found twice (a copied folder)
is reported and counted once (the copy in its own folder wins); seeds of one
language x encoder cell whose settings differ are reported, since their mean
would mix two experiments. Summaries carry the number of seeds behind every
mean; a cell with fewer seeds than expected is flagged, never silently
averaged as if complete.

Checkpoints fine-tuned elsewhere and evaluated here (crossling_asr.interop.evaluate_checkpoint:
protocols "released" and "external", crossling_asr.run_layout) are read alike: their
results have no training section or hparams, their run name is their folder's
(run.output_folder) and their settings are the data they were scored on and how they
were decoded. Their seed is the number a checkpoint was released under, not a place in a
seed grid shared by every cell: seed 904 of one cell and seed 17 of another are both
"the released one", so the seeds a cell is expected to have are the seeds found for it
(the release decides how many there are), and a cell of the expected grid is missing
only when no checkpoint of it was evaluated at all (summarize, missing_runs).
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crossling_asr.analysis.typology import FACT_KEYS
from crossling_asr.results import PRE_FAITHFUL_STUDY, SCHEMA_VERSION, study_loop, tested_dev_scores
from crossling_asr.run_layout import EVALUATION_PROTOCOLS, NON_RUN_FOLDERS, STUDY_PROTOCOL, parse_run_name

METRICS = ("error", "WER", "CER")
RUN_COLUMNS = (
    "language",
    "encoder",
    "seed",
    "primary",
    "error",
    "WER",
    "CER",
    "test_loss",
    "test_utterances",
    "dev_CER",
    "epochs",
    "optimizer_steps",
    "wall_seconds",
    "train_hours",
    "encoder_family",
    "random_init",
    "protocol",
    "study_loop",
    "encoder_source",
    "checkpoint",
    "run_name",
    "source_replaced",
    "test_set",
    *FACT_KEYS,
    "path",
)


@dataclass
class ResultsCollection:
    """What was found under a results root."""

    runs: pd.DataFrame  # one row per accepted run
    rejected: pd.DataFrame  # path, reason
    duplicates: pd.DataFrame  # run, kept, duplicate, identical
    conflicts: pd.DataFrame  # language, encoder, setting, values by seed
    set_aside: pd.DataFrame  # path, run, reason: finished runs left out of this analysis


def _get(obj, *keys):
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            raise KeyError(".".join(keys))
        obj = obj[key]
    return obj


def run_row(results, path):
    """The table row (RUN_COLUMNS) of one results object (KeyError naming a missing field)."""
    test = _get(results, "metrics", "test")
    primary = _get(results, "metrics", "primary")
    training = results.get("training", {})
    splits = results.get("data", {}).get("splits", {})
    hparams = results.get("hparams", {})
    protocol = hparams.get("protocol") or results.get("run", {}).get("protocol") or STUDY_PROTOCOL
    checkpoint = results.get("checkpoint") or {}
    if protocol in EVALUATION_PROTOCOLS:
        name = evaluated_run_name(results, protocol)
    else:
        # Results written before run names existed live in <lang>/<encoder>/seed_<seed>.
        name = hparams.get("run_name") or _get(results, "run", "encoder")
    return {
        "language": _get(results, "run", "language"),
        "encoder": _get(results, "run", "encoder"),
        "seed": int(_get(results, "run", "seed")),
        "primary": primary,
        "error": float(test[primary]),
        "WER": float(test["WER"]),
        "CER": float(test["CER"]),
        "test_loss": test.get("loss"),
        "test_utterances": test.get("n_utterances"),
        "dev_CER": tested_dev_scores(results).get("CER"),
        "epochs": training.get("epochs"),
        "optimizer_steps": training.get("optimizer_steps"),
        "wall_seconds": training.get("wall_seconds"),
        "train_hours": splits.get("train", {}).get("hours"),
        "encoder_family": results.get("run", {}).get("encoder_family"),
        "random_init": results.get("run", {}).get("random_init"),
        "protocol": protocol,
        "study_loop": study_loop(results),
        "encoder_source": results.get("run", {}).get("encoder_source"),
        "checkpoint": checkpoint.get("hub_id") or checkpoint.get("source"),
        "run_name": name,
        "source_replaced": parse_run_name(name)[2] is not None,
        "test_set": prepared_test_split(results),
        # the language's facts as its hparams stated them (None in results of older recipes)
        **{key: hparams.get(key) for key in FACT_KEYS},
        "path": str(path),
    }


def evaluated_run_name(results, protocol):
    """The run name of an evaluated checkpoint: the folder evaluate_checkpoint wrote it to
    (<lang>/<run name>/seed_<seed>; an external checkpoint's tag is only known from there)."""
    name = Path(_get(results, "run", "output_folder")).parent.name
    encoder = _get(results, "run", "encoder")
    if parse_run_name(name)[:2] != (encoder, protocol):
        raise ValueError(f"run.output_folder names run {name!r}, not a {protocol} checkpoint of {encoder}")
    return name


def prepared_test_split(results):
    """The test split a result was scored on, as its prepared data describe it (JSON text:
    utterances, hours, speakers and skipped rows of prep_report.json), or None where not recorded."""
    split = results.get("data", {}).get("splits", {}).get("test")
    return None if split is None else json.dumps(split, sort_keys=True)


def check_results(results, path, root):
    """None if the results object is usable, else why not."""
    if not isinstance(results, dict):
        return "not a JSON object"
    if results.get("schema_version") != SCHEMA_VERSION:
        return f"schema_version {results.get('schema_version')!r}, expected {SCHEMA_VERSION}"
    if results.get("status") != "finished":
        return f"status {results.get('status')!r} is not 'finished'"
    if isinstance(results.get("metrics"), dict) and "test" not in results["metrics"]:
        scored_on_dev = "dev" in results["metrics"] or "dev_best" in results["metrics"]
        return "no test metrics (metrics.test)" + ("; scored on dev only" if scored_on_dev else "")
    try:
        row = run_row(results, path)
    except (KeyError, TypeError, ValueError) as err:
        return f"missing or malformed field {err}"
    if not all(math.isfinite(row[m]) for m in METRICS):
        return "non-finite test error rate"
    folder = Path(path).parent.relative_to(root).parts
    named = (row["language"], row["run_name"], f"seed_{row['seed']}")
    if len(folder) == 3 and folder[2].startswith("seed_") and tuple(folder) != named:
        return f"run name mismatch: folder says {'/'.join(folder)}, file says {'/'.join(named)}"
    return None


def comparable_settings(results):
    """The settings two seeds of one cell must share: plain hparams except the seed, paths
    (machine-specific paths may differ between hosts) and the facts about the language (a
    description, not a setting: absent from results of older recipes), and the data each split held."""
    settings = {
        f"hparams.{key}": json.dumps(value, sort_keys=True)
        for key, value in results.get("hparams", {}).items()
        if key != "seed" and key not in FACT_KEYS and not (isinstance(value, str) and "/" in value)
    }
    for split, stats in results.get("data", {}).get("splits", {}).items():
        settings[f"data.{split}.utterances"] = json.dumps(stats.get("utterances"))
    settings["run.encoder_family"] = json.dumps(results.get("run", {}).get("encoder_family"))
    settings["run.random_init"] = json.dumps(results.get("run", {}).get("random_init"))
    for key in ("method", "precision"):  # evaluated checkpoints: how they were decoded
        if key in results.get("decoding", {}):
            settings[f"decoding.{key}"] = json.dumps(results["decoding"][key])
    return settings


def collect(results_root, protocol=STUDY_PROTOCOL, include_replaced_sources=False):
    """Read, check and tabulate every results.json under `results_root`.

    Only runs of `protocol` are used; runs with replaced encoder weights only
    with `include_replaced_sources`, under their run name as encoder.
    """
    root = Path(results_root).resolve()
    candidates, rejected, set_aside = {}, [], []
    for path in sorted(root.rglob("results.json")):
        if path.relative_to(root).parts[0] in NON_RUN_FOLDERS:
            continue
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            rejected.append({"path": str(path), "reason": f"unreadable: {err}"})
            continue
        reason = check_results(results, path, root)
        if reason:
            rejected.append({"path": str(path), "reason": reason})
            continue
        row = run_row(results, path)
        reason = set_aside_reason(row, protocol, include_replaced_sources)
        if reason:
            set_aside.append(
                {
                    "path": str(path),
                    "run": f"{row['language']}/{row['run_name']}/seed_{row['seed']}",
                    "study_loop": row["study_loop"],
                    "reason": reason,
                }
            )
            continue
        if row["source_replaced"]:
            row["encoder"] = row["run_name"]
        candidates.setdefault((row["language"], row["encoder"], row["seed"]), []).append((path, results, row))

    rows, duplicates, settings = [], [], {}
    for (language, encoder, seed), found in candidates.items():
        canonical = root / language / found[0][2]["run_name"] / f"seed_{seed}" / "results.json"
        found.sort(key=lambda item: (item[0] != canonical, str(item[0])))
        kept_path, kept_results, kept_row = found[0]
        rows.append(kept_row)
        settings[(language, encoder, seed)] = comparable_settings(kept_results)
        for path, results, row in found[1:]:
            identical = (
                all(row[m] == kept_row[m] for m in METRICS)
                and comparable_settings(results) == settings[(language, encoder, seed)]
            )
            duplicates.append(
                {
                    "run": f"{language}/{encoder}/seed_{seed}",
                    "kept": str(kept_path),
                    "duplicate": str(path),
                    "identical": identical,
                }
            )

    runs = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    runs = runs.sort_values(["language", "encoder", "seed"]).reset_index(drop=True)
    return ResultsCollection(
        runs=runs,
        rejected=pd.DataFrame(rejected, columns=["path", "reason"]),
        duplicates=pd.DataFrame(duplicates, columns=["run", "kept", "duplicate", "identical"]),
        conflicts=settings_conflicts(settings),
        set_aside=pd.DataFrame(set_aside, columns=["path", "run", "study_loop", "reason"]),
    )


def pre_faithful_study_runs(collection):
    """The set-aside runs trained under an earlier version of the study's settings (study_loop)."""
    frame = collection.set_aside
    return frame[frame["study_loop"] == PRE_FAITHFUL_STUDY]


def set_aside_reason(row, protocol, include_replaced_sources):
    """Why a finished run is left out of an analysis of `protocol` (every reason, so that following
    the first hint does not meet the next one unannounced), or None."""
    reasons = []
    if row["protocol"] != protocol:
        reasons.append(f"protocol {row['protocol']} (this report analyses {protocol}; --protocol {row['protocol']})")
    if row["study_loop"] == PRE_FAITHFUL_STUDY:
        reasons.append(
            "trained under an earlier version of the study protocol's settings, from before it followed "
            "HuggingSound 0.1.6's training loop in full (its results.json hparams lack some of "
            "crossling_asr.results.HUGGINGSOUND_LOOP_KEYS); not mixed with faithful study runs: re-run it "
            "(in a fresh folder) to include it"
        )
    if row["source_replaced"] and not include_replaced_sources:
        reasons.append(
            f"encoder weights from {row['checkpoint'] or row['encoder_source']}, not the registry's "
            f"{row['encoder']} (--include-replaced-sources analyses such runs under their run name)"
        )
    return "; ".join(reasons) or None


def settings_conflicts(settings):
    """Settings that differ between the seeds of a language x encoder cell, one row per setting."""
    cells = {}
    for (language, encoder, seed), values in settings.items():
        cells.setdefault((language, encoder), {})[seed] = values
    rows = []
    for (language, encoder), by_seed in sorted(cells.items()):
        keys = sorted(set().union(*by_seed.values()))
        for key in keys:
            values = {seed: by_seed[seed].get(key, "(absent)") for seed in sorted(by_seed)}
            if len(set(values.values())) > 1:
                rows.append(
                    {
                        "language": language,
                        "encoder": encoder,
                        "setting": key,
                        "values": "; ".join(f"seed {s}: {v}" for s, v in values.items()),
                    }
                )
    return pd.DataFrame(rows, columns=["language", "encoder", "setting", "values"])


def seeds_name_checkpoints(runs):
    """Whether the seeds of `runs` are the numbers evaluated checkpoints were released under
    (every run of an evaluation protocol) rather than a seed grid shared by the cells; a table
    without a protocol column is taken to hold trained runs."""
    return "protocol" in runs and not runs.empty and bool(runs["protocol"].isin(EVALUATION_PROTOCOLS).all())


def summarize(runs, expected_seeds=None):
    """Mean and sample std (n-1) over seeds per language x encoder, with the seeds behind them.

    `expected_seeds`: the seeds every cell should have (default: every seed
    found anywhere in `runs`); `complete` is False for a cell with fewer.
    Runs of evaluated checkpoints (seeds_name_checkpoints) are expected to have
    the seeds found for their cell, whatever `expected_seeds` says (see the
    module docstring): their cells are complete.
    """
    grouped = runs.groupby(["language", "encoder"], sort=True)
    summary = grouped.agg(
        primary=("primary", "first"),
        n_seeds=("seed", "size"),
        seeds=("seed", lambda s: ",".join(str(v) for v in sorted(s))),
        **{f"{m}_mean": (m, "mean") for m in METRICS},
        **{f"{m}_std": (m, lambda s: s.std(ddof=1)) for m in METRICS},
    ).reset_index()
    if seeds_name_checkpoints(runs):
        summary["expected_seeds"] = summary["n_seeds"]
        summary["complete"] = True
        return summary
    expected = sorted(set(expected_seeds) if expected_seeds else set(runs["seed"]))
    summary["expected_seeds"] = len(expected)
    summary["complete"] = summary["seeds"].apply(lambda s: set(map(int, s.split(","))) >= set(expected))
    return summary


def missing_runs(runs, languages, encoders, seeds):
    """Runs of the expected grid (languages x encoders x seeds) with no accepted results.

    For evaluated checkpoints (seeds_name_checkpoints), whose seeds differ from
    cell to cell, the cells (languages x encoders) with no results at all, seed None.
    """
    if seeds_name_checkpoints(runs):
        found = set(zip(runs["language"], runs["encoder"]))
        rows = [
            {"language": lang, "encoder": enc, "seed": None}
            for lang in languages
            for enc in encoders
            if (lang, enc) not in found
        ]
        return pd.DataFrame(rows, columns=["language", "encoder", "seed"])
    found = set(zip(runs["language"], runs["encoder"], runs["seed"]))
    rows = [
        {"language": lang, "encoder": enc, "seed": seed}
        for lang in languages
        for enc in encoders
        for seed in seeds
        if (lang, enc, seed) not in found
    ]
    return pd.DataFrame(rows, columns=["language", "encoder", "seed"])


def format_mean_std(mean, std, n_seeds, expected, complete, digits=2):
    """'12.34 ± 0.56', with the seed count when a cell lacks expected seeds: '12.34 (1/3 seeds)'."""
    if pd.isna(mean):
        return "–"
    text = f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if not pd.isna(std) else "")
    return text if complete else f"{text} ({n_seeds}/{expected} seeds)"


def markdown_table(frame, digits=2):
    """A DataFrame as a GitHub-flavoured Markdown table (floats rounded, NaN and None as '–')."""

    def cell(value):
        if value is None:
            return "–"
        if isinstance(value, float):
            return "–" if math.isnan(value) else f"{value:.{digits}f}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def write_table(frame, stem, digits=2):
    """Write `frame` as <stem>.csv and <stem>.md; returns the Markdown text."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(stem.with_suffix(".csv"), index=False)
    text = markdown_table(frame, digits)
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    return text
