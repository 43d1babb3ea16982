"""The statistics behind the study's three findings, computed on per-cell means over seeds.

The unit of analysis is a language x encoder cell (mean over its seeds):
seeds of one cell share data and model, so they are replications of the
training noise, not independent observations of the effects tested here.

1. Size vs diversity of pre-training: Spearman's rank correlation of the
   error with pretraining_hours and with n_languages (pre-trained encoders
   only; the no-pretraining baseline has neither). Per language, across
   encoders, with a percentile bootstrap CI over encoders; pooled over all
   languages on the error relative to the language's mean (so that language
   difficulty does not dominate the ranks), with a CI from a cluster
   bootstrap over languages (cells of a language are not independent; no
   p-value is given for the pooled correlation for the same reason).
2. Indo-European vs other languages: per encoder, the gap mean(other) -
   mean(Indo-European) of the language means, tested with an exact
   two-sided permutation test of the difference in means over the
   assignment of languages to the two groups (scipy.stats.permutation_test,
   all assignments enumerated). Why this test: the exchangeable units are
   languages (seeds are averaged first, see above); the groups are small
   (12 vs 6) and error rates are not normal, so an exact test without
   distributional assumptions, on the quantity reported (the gap in error
   points), is the most direct choice. Holm's correction across encoders.
3. Transfer of monolingual encoders: relative improvement over the
   no-pretraining baseline, (baseline - encoder) / baseline, against the
   typological similarity (1 - URIEL distance) between the encoder's
   pre-training language and the target language; Spearman's rho over all
   (encoder, target) pairs with a cluster bootstrap CI over target languages
   (the CI is the measure to read: the p-value of spearmanr treats the
   pairs, which share targets and encoders, as independent).
"""

import math

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from crossling_asr.analysis.typology import INDO_EUROPEAN, iso639_3_of

PREDICTORS = ("pretraining_hours", "n_languages")
BOOTSTRAP_RESAMPLES = 2000


def spearman(x, y):
    """(rho, two-sided p) of Spearman's rank correlation; NaNs when undefined (constant input)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    result = scipy_stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def rowwise_spearman(x_rows, y_rows):
    """Spearman's rho of each row of two 2-D arrays; NaN entries are padding and left out.

    NaN where a row's x or y is constant (rho undefined).
    """
    rx = scipy_stats.rankdata(x_rows, axis=1, nan_policy="omit")
    ry = scipy_stats.rankdata(y_rows, axis=1, nan_policy="omit")
    rx = rx - np.nanmean(rx, axis=1, keepdims=True)
    ry = ry - np.nanmean(ry, axis=1, keepdims=True)
    numerator = np.nansum(rx * ry, axis=1)
    denominator = np.sqrt(np.nansum(rx**2, axis=1) * np.nansum(ry**2, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 1e-12, numerator / denominator, np.nan)


def bootstrap_spearman_ci(x, y, clusters=None, n_resamples=BOOTSTRAP_RESAMPLES, level=0.95, seed=0):
    """Percentile bootstrap CI of Spearman's rho(x, y).

    Resamples observations with replacement, or, with `clusters` (a label
    per observation), whole clusters. Resamples where rho is undefined are
    dropped; when more than half are, or with fewer than 3 units, (NaN, NaN).
    Draws: rng = numpy.random.default_rng(seed); rng.integers(0, n_units,
    (n_resamples, n_units)) picks the units of every resample at once.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    labels = np.arange(len(x)) if clusters is None else np.asarray(clusters)
    members = [np.flatnonzero(labels == label) for label in pd.unique(labels)]
    if len(members) < 3:
        return math.nan, math.nan
    picks = np.random.default_rng(seed).integers(0, len(members), (n_resamples, len(members)))
    rows = [np.concatenate([members[unit] for unit in pick]) for pick in picks]
    index = np.full((n_resamples, max(len(r) for r in rows)), -1)
    for i, r in enumerate(rows):
        index[i, : len(r)] = r
    padded = index < 0
    rho = rowwise_spearman(np.where(padded, np.nan, x[index]), np.where(padded, np.nan, y[index]))
    rho = rho[np.isfinite(rho)]
    if len(rho) < n_resamples / 2:
        return math.nan, math.nan
    alpha = (1 - level) / 2
    return float(np.quantile(rho, alpha)), float(np.quantile(rho, 1 - alpha))


def bootstrap_mean_ci(values, clusters=None, n_resamples=BOOTSTRAP_RESAMPLES, level=0.95, seed=0):
    """Percentile bootstrap CI of the mean of `values`: resampling values with replacement,
    or with `clusters` (a label per value) whole clusters, each resample's mean taken over
    all the values of its clusters. (NaN, NaN) with fewer than 2 units.

    Draws as bootstrap_spearman_ci: rng = numpy.random.default_rng(seed);
    rng.integers(0, n_units, (n_resamples, n_units)) picks the units (in order of first
    appearance) of every resample at once.
    """
    values = np.asarray(values, dtype=float)
    labels = np.arange(len(values)) if clusters is None else np.asarray(clusters)
    units = pd.unique(labels)
    if len(units) < 2:
        return math.nan, math.nan
    sums = np.array([values[labels == unit].sum() for unit in units])
    counts = np.array([(labels == unit).sum() for unit in units])
    picks = np.random.default_rng(seed).integers(0, len(units), (n_resamples, len(units)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def percentile_bootstrap_ci(statistic, n_units, n_resamples=BOOTSTRAP_RESAMPLES, level=0.95, seed=0):
    """Percentile bootstrap CI of statistic(unit indices) over resamples of the units.

    The draws and conventions of bootstrap_spearman_ci, for statistics that are neither
    rho nor a mean (bootstrap_mean_ci) and may be undefined on a resample:
    rng.integers(0, n_units, (n_resamples, n_units)) with rng = numpy.random.default_rng(seed);
    resamples where the statistic is NaN are dropped; (NaN, NaN) with fewer than 3 units or
    when more than half the resamples are dropped.
    """
    if n_units < 3:
        return math.nan, math.nan
    picks = np.random.default_rng(seed).integers(0, n_units, (n_resamples, n_units))
    values = np.array([statistic(pick) for pick in picks], dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < n_resamples / 2:
        return math.nan, math.nan
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def permutation_p_value(group_a, group_b):
    """Exact two-sided permutation p-value of mean(group_b) - mean(group_a) (NaN if a group has < 2)."""
    group_a, group_b = np.asarray(group_a, dtype=float), np.asarray(group_b, dtype=float)
    if len(group_a) < 2 or len(group_b) < 2:
        return math.nan
    result = scipy_stats.permutation_test(
        (group_b, group_a),
        lambda b, a, axis: np.mean(b, axis=axis) - np.mean(a, axis=axis),
        permutation_type="independent",
        alternative="two-sided",
        n_resamples=np.inf,
        vectorized=True,
    )
    return float(result.pvalue)


def holm_adjust(p_values):
    """Holm's step-down adjusted p-values (NaNs stay NaN and do not count as tests)."""
    p = np.asarray(p_values, dtype=float)
    valid = np.flatnonzero(np.isfinite(p))
    adjusted = np.full_like(p, np.nan)
    running = 0.0
    for rank, index in enumerate(valid[np.argsort(p[valid])]):
        running = max(running, min(1.0, (len(valid) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def pretrained_cells(summary, registry, metric="error"):
    """Cells of pre-trained encoders with their predictors and the error relative to the language mean."""
    pretrained = [name for name, entry in registry.items() if not entry.get("random_init")]
    cells = summary.loc[summary["encoder"].isin(pretrained), ["language", "encoder", f"{metric}_mean"]].copy()
    cells = cells.rename(columns={f"{metric}_mean": "error"})
    for predictor in PREDICTORS:
        cells[predictor] = cells["encoder"].map(lambda name, p=predictor: float(registry[name][p]))
    cells["relative_error"] = cells["error"] / cells.groupby("language")["error"].transform("mean")
    return cells.reset_index(drop=True)


def size_and_diversity(summary, registry, metric="error", n_resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """(cells, correlations): Spearman of error vs each predictor, per language and pooled."""
    cells = pretrained_cells(summary, registry, metric)
    rows = []
    for predictor in PREDICTORS:
        for language, group in cells.groupby("language", sort=True):
            x, y = group[predictor].to_numpy(), group["error"].to_numpy()
            rho, p = spearman(x, y)
            low, high = bootstrap_spearman_ci(x, y, None, n_resamples, seed=seed)
            rows.append(
                {
                    "scope": language,
                    "predictor": predictor,
                    "n": len(group),
                    "rho": rho,
                    "p_value": p,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
        rho = spearman(cells[predictor], cells["relative_error"])[0]
        low, high = bootstrap_spearman_ci(
            cells[predictor], cells["relative_error"], cells["language"], n_resamples, seed=seed
        )
        rows.append(
            {
                "scope": "pooled (relative error)",
                "predictor": predictor,
                "n": len(cells),
                "rho": rho,
                "p_value": math.nan,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return cells, pd.DataFrame(rows, columns=["scope", "predictor", "n", "rho", "p_value", "ci_low", "ci_high"])


def bootstrap_gap_ci(group_a, group_b, n_resamples=BOOTSTRAP_RESAMPLES, level=0.95, seed=0):
    """Percentile bootstrap CI of mean(group_b) - mean(group_a), each group resampled on its own
    (stratified: a resample keeps both groups' sizes). (NaN, NaN) if a group has fewer than 2.

    Draws: rng = numpy.random.default_rng(seed); rng.integers(0, len(group_a), (n_resamples,
    len(group_a))), then rng.integers(0, len(group_b), (n_resamples, len(group_b))).
    """
    group_a, group_b = np.asarray(group_a, dtype=float), np.asarray(group_b, dtype=float)
    if len(group_a) < 2 or len(group_b) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    picks_a = rng.integers(0, len(group_a), (n_resamples, len(group_a)))
    picks_b = rng.integers(0, len(group_b), (n_resamples, len(group_b)))
    gaps = group_b[picks_b].mean(axis=1) - group_a[picks_a].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(gaps, alpha)), float(np.quantile(gaps, 1 - alpha))


def indo_european_gap(summary, registry, families, metric="CER", n_resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """Per encoder (and over all pre-trained encoders): Indo-European vs other languages.

    gap = mean(other) - mean(Indo-European) of the language means of `metric`
    (positive: Indo-European languages do better), its 95% stratified bootstrap
    interval over languages (bootstrap_gap_ci), exact permutation p-value,
    Holm-adjusted across the encoder rows. `families`: {language: family}
    for every language of `summary` (leave out those of unknown family first).
    """
    unknown = sorted(set(summary["language"]) - {lang for lang, family in families.items() if family})
    if unknown:
        raise ValueError(f"family unknown for {', '.join(unknown)}: leave them out of the comparison first")
    column = f"{metric}_mean"
    groups = [(encoder, cells) for encoder, cells in summary.groupby("encoder", sort=True)]
    pretrained = [name for name, entry in registry.items() if not entry.get("random_init")]
    over_encoders = summary[summary["encoder"].isin(pretrained)].groupby("language", as_index=False)[column].mean()
    rows = []
    for encoder, cells in groups + [("all pre-trained (language means)", over_encoders)]:
        indo_european = (cells["language"].map(families) == INDO_EUROPEAN).to_numpy(dtype=bool)
        values = cells[column].to_numpy(dtype=float)
        ie, other = values[indo_european], values[~indo_european]
        rows.append(
            {
                "encoder": encoder,
                "n_indo_european": len(ie),
                "n_other": len(other),
                "mean_indo_european": ie.mean() if len(ie) else math.nan,
                "mean_other": other.mean() if len(other) else math.nan,
                "gap": (other.mean() - ie.mean()) if len(ie) and len(other) else math.nan,
                **dict(zip(("ci_low", "ci_high"), bootstrap_gap_ci(ie, other, n_resamples, seed=seed))),
                "p_value": permutation_p_value(ie, other),
            }
        )
    table = pd.DataFrame(rows)
    per_encoder = table.index[:-1]
    table["p_holm"] = math.nan
    table.loc[per_encoder, "p_holm"] = holm_adjust(table.loc[per_encoder, "p_value"])
    return table


def pretraining_similarity(encoder, language, registry, distances, iso_codes):
    """(similarities, reason) of a monolingual encoder's pre-training language to a target language:
    {"<kind>_similarity": 1 - URIEL distance} for each kind, or None with the reason it cannot be
    computed (no ISO 639-3 code, not in the cached distances). (None, None) for an encoder that is
    not monolingual. Codes are matched as typology.iso639_3_of does."""
    pretraining = registry.get(encoder, {}).get("monolingual")
    if not pretraining:
        return None, None
    source, target = iso639_3_of(pretraining, iso_codes), iso639_3_of(language, iso_codes)
    reasons = [
        f"no ISO 639-3 code for {code}" for code, iso in ((pretraining, source), (language, target)) if iso is None
    ]
    reasons += [
        f"{iso} not in the cached distances"
        for iso in sorted({source, target} - {None})
        if any(iso not in matrix.index for matrix in distances.values())
    ]
    if reasons:
        return None, "; ".join(reasons)
    return {f"{kind}_similarity": 1.0 - float(matrix.loc[target, source]) for kind, matrix in distances.items()}, None


def monolingual_transfer(
    summary, registry, distances, iso_codes, metric="error", n_resamples=BOOTSTRAP_RESAMPLES, seed=0
):
    """(pairs, correlations, left_out) for monolingual encoders vs the no-pretraining baseline.

    iso_codes: {Common Voice code: ISO 639-3 code or None} of the target
    languages and of the languages the registry's `monolingual` names ('en',
    'sv': matched as typology.iso639_3_of does). pairs: one row per
    (monolingual encoder, target language) with the relative improvement and
    the similarity of each distance kind; correlations: Spearman of relative
    improvement vs similarity per kind; left_out: the pairs without an ISO
    639-3 code or cached distances, with the reason.
    """
    column = f"{metric}_mean"
    baselines = [name for name, entry in registry.items() if entry.get("random_init")]
    baseline = summary[summary["encoder"].isin(baselines)].groupby("language")[column].mean()
    rows, left_out = [], []
    for cell in summary.itertuples(index=False):
        pretraining = registry.get(cell.encoder, {}).get("monolingual")
        base = baseline.get(cell.language)
        if not pretraining or base is None or not base > 0:
            continue
        similarities, reason = pretraining_similarity(cell.encoder, cell.language, registry, distances, iso_codes)
        if reason:
            left_out.append({"encoder": cell.encoder, "language": cell.language, "reason": reason})
            continue
        same_language = iso639_3_of(pretraining, iso_codes) == iso639_3_of(cell.language, iso_codes)
        rows.append(
            {
                "encoder": cell.encoder,
                "pretraining_language": pretraining,
                "language": cell.language,
                "baseline_error": base,
                "error": getattr(cell, column),
                "relative_improvement": (base - getattr(cell, column)) / base,
                "same_language": same_language,
                **similarities,
            }
        )
    pairs = pd.DataFrame(rows)
    correlations = []
    if not pairs.empty:
        for kind in distances:
            x = f"{kind}_similarity"
            rho, p = spearman(pairs[x], pairs["relative_improvement"])
            low, high = bootstrap_spearman_ci(
                pairs[x], pairs["relative_improvement"], pairs["language"], n_resamples, seed=seed
            )
            correlations.append(
                {
                    "similarity": kind,
                    "n_pairs": len(pairs),
                    "rho": rho,
                    "p_value": p,
                    "ci_low": low,
                    "ci_high": high,
                    "share_positive_transfer": float((pairs["relative_improvement"] > 0).mean()),
                }
            )
    correlations = pd.DataFrame(
        correlations,
        columns=["similarity", "n_pairs", "rho", "p_value", "ci_low", "ci_high", "share_positive_transfer"],
    )
    return pairs, correlations, pd.DataFrame(left_out, columns=["encoder", "language", "reason"])
