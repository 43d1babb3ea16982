"""Which encoder for a language: a ranking of candidate runs with paired-bootstrap intervals, the
guards that keep a degenerate run from being recommended, and one sentence of answer.

Input: for each candidate encoder, its finished runs (one per seed) on the same test set of the
language, each with its results.json and test_hypotheses.tsv (ID, reference, hypothesis).

Per-utterance errors: each hypothesis is scored against its reference with the study's scorer
(crossling_asr.decoding.metrics, SpeechBrain's ErrorRateStats) in the language's primary metric:
edits and reference tokens per utterance. A run's error is the corpus-level rate, the sum of its
edits over the sum of the reference tokens (x 100), which is what results.json reports; with
several seeds, an encoder's error is the mean of its seeds' rates.

Paired bootstrap (Bisani & Ney 2004, "Bootstrap estimates for confidence intervals in ASR
performance evaluation"): the test utterances common to every run are resampled with
replacement, the same draw for every encoder (the comparison is paired: every encoder is
scored on the same resampled test set), and each resample's corpus-level rate is the sum of
the resampled utterances' edits over the sum of their reference tokens. With several seeds the
seeds are resampled too (each encoder's own seeds, with replacement, averaged). Draws, in
order, for each of `n_resamples` resamples: rng = numpy.random.default_rng(seed); the
utterances, rng.integers(0, n_utterances, n_utterances); then, for each encoder in the order
given that has more than one seed, its seeds, rng.integers(0, n_seeds, n_seeds). The interval
of an encoder's difference to the best (rate - best's rate, in points) is the percentile
interval of that difference over the resamples (np.quantile, level 95% by default).

Groups: the best encoder is the non-degenerate one of lowest error; the encoders that cannot be
told apart from it are the non-degenerate ones whose interval of the difference includes 0. One
encoder in that group is a recommendation; several are "no clear winner among ...". Two encoders
with the same error are a tie, never broken by name.

Guards (a flagged run is never recommended; an encoder with a flagged seed is flagged):
every hypothesis empty (the model emits only blanks); the same hypothesis for every utterance;
error >= 100 (no better than empty output, whose error is 100); dev loss not decreasing over
training (results.json training.dev_history: no later epoch's loss below the first's; unknown
with one epoch). When every run is flagged, the answer says so instead of ranking.
"""

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 2000
HYPOTHESES_FILE = "test_hypotheses.tsv"


class ChoiceError(ValueError):
    """Runs that cannot be compared (unreadable hypotheses, no common test utterances)."""


def read_hypotheses(path):
    """[(id, reference, hypothesis)] of a test_hypotheses.tsv (ChoiceError naming the file and line)."""
    path = Path(path)
    rows = []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter="\t")
            header = next(reader, None)
            if header != ["ID", "reference", "hypothesis"]:
                raise ChoiceError(f"{path}:1: header {header!r}, expected ID, reference, hypothesis")
            for number, row in enumerate(reader, 2):
                if len(row) == 2:  # an empty hypothesis at the end of a line
                    row = [*row, ""]
                if len(row) != 3:
                    raise ChoiceError(f"{path}:{number}: {len(row)} fields, expected 3 (ID, reference, hypothesis)")
                rows.append(tuple(row))
    except OSError as err:
        raise ChoiceError(f"{path}: cannot be read ({err})") from err
    return rows


def utterance_errors(rows, metric):
    """DataFrame (id, edits, ref_tokens, hypothesis) of (id, reference, hypothesis) rows scored in
    `metric` (WER or CER) by the study's scorer."""
    from crossling_asr.decoding.metrics import error_rate_stats  # imports speechbrain

    ids = [row[0] for row in rows]
    wer, cer = error_rate_stats(ids, [row[2] for row in rows], [row[1] for row in rows])
    scores = {"WER": wer, "CER": cer}[metric].scores
    frame = pd.DataFrame(
        {
            "id": [s["key"] for s in scores],
            "edits": [s["num_edits"] for s in scores],
            "ref_tokens": [s["num_ref_tokens"] for s in scores],
        }
    )
    return frame.assign(hypothesis=[row[2] for row in rows], reference=[row[1] for row in rows])


@dataclass
class RunScores:
    """One finished run of a candidate: its per-utterance errors and what results.json says."""

    encoder: str
    seed: int
    folder: Path
    results: dict
    utterances: pd.DataFrame  # utterance_errors
    flags: list = field(default_factory=list)

    @property
    def error(self):
        return 100.0 * self.utterances["edits"].sum() / max(1, self.utterances["ref_tokens"].sum())


def degeneracy_flags(results, utterances):
    """Why a run is degenerate (module docstring), as a list of reasons (empty: not degenerate)."""
    flags = []
    hypotheses = utterances["hypothesis"]
    if len(hypotheses) and (hypotheses == "").all():
        flags.append("all-blank output (every hypothesis empty)")
    elif len(hypotheses) > 1 and hypotheses.nunique() == 1 and utterances["reference"].nunique() > 1:
        flags.append(f"the same hypothesis for every utterance ({hypotheses.iloc[0][:30]!r})")
    error = 100.0 * utterances["edits"].sum() / max(1, utterances["ref_tokens"].sum())
    if error >= 100:
        flags.append(f"error {error:.1f} >= 100: no better than empty output")
    history = results.get("training", {}).get("dev_history", [])
    losses = [entry["loss"] for entry in history if entry.get("loss") is not None]
    if len(losses) >= 2 and not min(losses[1:]) < losses[0]:
        flags.append(f"dev loss not decreasing ({losses[0]:.3g} at epoch 1, then {min(losses[1:]):.3g} at best)")
    return flags


def load_run(encoder, seed, folder, results, metric):
    """The RunScores of a finished run folder (its test_hypotheses.tsv scored in `metric`)."""
    utterances = utterance_errors(read_hypotheses(Path(folder) / HYPOTHESES_FILE), metric)
    run = RunScores(encoder, int(seed), Path(folder), results, utterances)
    run.flags = degeneracy_flags(results, utterances)
    return run


def paired_bootstrap(edits, ref_tokens, n_resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """Resampled corpus-level error rates (percent), an array [n_resamples, n_encoders].

    `edits`: per encoder, an array [n_seeds, n_utterances] of edits on the common utterances;
    `ref_tokens`: [n_utterances]. Draws as the module docstring says.
    """
    ref_tokens = np.asarray(ref_tokens, dtype=float)
    edits = [np.atleast_2d(np.asarray(e, dtype=float)) for e in edits]
    n_utterances = len(ref_tokens)
    rng = np.random.default_rng(seed)
    rates = np.empty((n_resamples, len(edits)))
    for r in range(n_resamples):
        counts = np.bincount(rng.integers(0, n_utterances, n_utterances), minlength=n_utterances)
        reference = counts @ ref_tokens
        for e, seed_edits in enumerate(edits):
            per_seed = seed_edits @ counts
            if len(seed_edits) > 1:
                per_seed = per_seed[rng.integers(0, len(seed_edits), len(seed_edits))]
            rates[r, e] = 100.0 * per_seed.mean() / reference if reference > 0 else math.nan
    return rates


def percentile_interval(values, level=LEVEL):
    """(low, high) percentile interval of the finite `values` (NaNs when there are none)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return math.nan, math.nan
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


@dataclass
class Choice:
    """The answer: the ranking table, the sentence, and what it rests on."""

    metric: str
    ranking: pd.DataFrame  # one row per encoder (see rank_encoders)
    recommendation: str
    recommended: str = None  # the encoder, when there is a clear winner
    best_group: list = field(default_factory=list)
    common_utterances: int = 0
    left_out_utterances: dict = field(default_factory=dict)  # run -> utterances not common to all
    all_degenerate: bool = False
    cautions: list = field(default_factory=list)
    level: float = LEVEL


def rank_encoders(runs, metric, n_resamples=BOOTSTRAP_RESAMPLES, seed=0, level=LEVEL):
    """The Choice over `runs` (RunScores, any number of seeds per encoder) in `metric`."""
    if not runs:
        return Choice(metric, pd.DataFrame(), "No finished runs: nothing to rank.")
    common = set.intersection(*(set(run.utterances["id"]) for run in runs))
    if not common:
        raise ChoiceError("the runs share no test utterance ID: they were not scored on the same test set")
    ids = sorted(common)
    left_out = {
        f"{run.encoder}/seed_{run.seed}": len(run.utterances) - len(common)
        for run in runs
        if len(run.utterances) != len(common)
    }
    encoders = sorted({run.encoder for run in runs})
    by_encoder = {name: sorted((r for r in runs if r.encoder == name), key=lambda r: r.seed) for name in encoders}
    reference = runs[0].utterances.set_index("id").loc[ids, "ref_tokens"].to_numpy(dtype=float)
    edits = [
        np.array([r.utterances.set_index("id").loc[ids, "edits"].to_numpy(dtype=float) for r in by_encoder[name]])
        for name in encoders
    ]
    point = np.array([100.0 * e.sum(axis=1).mean() / reference.sum() for e in edits])
    flags = {name: sorted({f for r in by_encoder[name] for f in r.flags}) for name in encoders}
    eligible = np.array([not flags[name] for name in encoders])
    resampled = paired_bootstrap(edits, reference, n_resamples, seed)
    rows = []
    best = int(np.flatnonzero(eligible)[np.argmin(point[eligible])]) if eligible.any() else None
    for index, name in enumerate(encoders):
        low, high = percentile_interval(resampled[:, index], level)
        row = {
            "encoder": name,
            "n_seeds": len(by_encoder[name]),
            "seeds": ",".join(str(r.seed) for r in by_encoder[name]),
            "error": point[index],
            "error_ci_low": low,
            "error_ci_high": high,
            "diff_to_best": math.nan,
            "diff_ci_low": math.nan,
            "diff_ci_high": math.nan,
            "degenerate": bool(flags[name]),
            "flags": "; ".join(flags[name]),
        }
        if best is not None:
            row["diff_to_best"] = point[index] - point[best]
            row["diff_ci_low"], row["diff_ci_high"] = percentile_interval(
                resampled[:, index] - resampled[:, best], level
            )
        rows.append(row)
    ranking = pd.DataFrame(rows)
    ranking["rank"] = ranking["error"].rank(method="min").astype(int)  # ties share a rank
    ranking = ranking.sort_values(["degenerate", "error", "encoder"]).reset_index(drop=True)
    if best is not None:
        ranking["in_best_group"] = (
            ~ranking["degenerate"] & (ranking["diff_ci_low"] <= 0) & (ranking["diff_ci_high"] >= 0)
        ) | (~ranking["degenerate"] & (ranking["diff_to_best"] == 0))
    else:
        ranking["in_best_group"] = False
    choice = Choice(metric, ranking, "", common_utterances=len(ids), left_out_utterances=left_out, level=level)
    if point.min() >= 100:
        choice.cautions.append(
            f"Every candidate's {metric} is 100 or more: every model is worse than empty output on this test set."
        )
    choice.recommendation, choice.recommended, choice.best_group, choice.all_degenerate = recommendation(
        ranking, metric, level
    )
    return choice


def recommendation(ranking, metric, level=LEVEL):
    """(sentence, recommended encoder or None, the best group, every run degenerate) of a ranking."""
    percent = f"{100 * level:.0f}%"
    if ranking["degenerate"].all():
        return (
            f"No recommendation: every candidate's runs are degenerate ({len(ranking)} encoders; see the flags), "
            "so the candidates cannot be ranked. Train longer, check the data, or try other settings.",
            None,
            [],
            True,
        )
    group = ranking[ranking["in_best_group"]]
    names = list(group["encoder"])
    if len(names) == 1:
        row = group.iloc[0]
        others = ranking[~ranking["in_best_group"] & ~ranking["degenerate"]]
        tail = (
            f"; every other candidate is worse, with a {percent} interval of the difference that excludes 0"
            if len(others)
            else ""
        )
        degenerate = int(ranking["degenerate"].sum())
        if degenerate:
            tail += f"; {degenerate} degenerate candidate(s) flagged, not ranked"
        return (
            f"Recommended: {row['encoder']} ({metric} {row['error']:.2f}, {percent} interval "
            f"[{row['error_ci_low']:.2f}, {row['error_ci_high']:.2f}]){tail}.",
            row["encoder"],
            names,
            False,
        )
    tied = (group["diff_to_best"] == 0).all()
    why = (
        "they have the same error" if tied else f"their differences to the best have {percent} intervals that include 0"
    )
    return f"No clear winner among {', '.join(names)}: {why}.", None, names, False
