"""Frozen-encoder probes against fine-tuning: do probes rank the encoders as fine-tuning does, at
what cost, and which layers do they read?

A probe (hparams/protocols/probe.yaml, run folder <lang>/<encoder>.probe/seed_N) trains a
learned softmax-weighted sum of a frozen encoder's hidden states and a small CTC head. Its
results.json records the weights (layers.weights; index 0: the CNN feature projection, i:
transformer layer i) and what the run cost (training.wall_seconds, training.world_size,
run.device, cost.encoder_forward_seconds). As in stats, the unit of analysis is the
language x encoder cell, its seeds averaged first.

Ranking agreement, per language over the encoders with both a probe and a fine-tuning
(study protocol) cell: Spearman's rho between the probe's and the fine-tuning's test
error (primary metric), with a percentile bootstrap CI over encoders
(stats.bootstrap_spearman_ci); top-1 agreement (the probe's best encoder is fine-tuning's
best) and top-3 agreement (the share of fine-tuning's 3 best encoders that are among the
probe's 3 best), undefined where either ranking ties at the k-th place (a tie is never broken
by name; e.g. two fine-tunes at WER 100.00), each with a percentile bootstrap CI
over encoders: an encoder drawn twice counts once in its resample's top k, and a resample
with no more than k distinct encoders (where the top k is every encoder) is undefined.
Pooled: the mean over languages, with a cluster bootstrap over languages (a language's
cells are resampled together, so its statistic is kept whole).

Cost, per language and device kind (run.device without its index: cuda, cpu), over the
encoders with probe and fine-tuning runs on that device kind: device hours =
training.wall_seconds (fit: the training epochs and the dev decoding) x training.world_size
(GPU-hours on GPUs), and encoder forward hours = cost.encoder_forward_seconds train + dev
(rank 0's) x training.world_size, each averaged over the cell's seeds and summed over the
encoders: the cost of ranking those encoders once by probing vs by fine-tuning them.

Layer weights: the expected layer of a run, sum_i i x w_i, and the same divided by the
number of transformer layers (0: the CNN projection, 1: the last layer), so encoders of
different depths compare. Fine-tuning runs with layer_aggregation: weighted have weights
too and form a series of their own.

Monolingual encoders (the registry's `monolingual`, as in stats.monolingual_transfer):
per encoder, the normalised expected layer of its probes on its own language against the
mean over the other languages (the difference pooled as a mean over the encoders, with a
percentile bootstrap CI over them); and the normalised expected layer against the
typological similarity of the pre-training and the target language (1 - URIEL distance,
stats.monolingual_transfer's definition), Spearman's rho over all (encoder, target) pairs
with a cluster bootstrap CI over target languages.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from crossling_asr.analysis import stats
from crossling_asr.run_layout import SOURCE_SEPARATOR, STUDY_PROTOCOL, parse_run_name

PROBE_PROTOCOL = "probe"
TOP_K = 3
# The series of layer-weight profiles: probes, and fine-tuning runs with weighted layers.
PROBE_SERIES = "probe"
FINE_TUNING_SERIES = "fine-tuning (weighted layers)"
SERIES_OF_PROTOCOL = {PROBE_PROTOCOL: PROBE_SERIES, STUDY_PROTOCOL: FINE_TUNING_SERIES}
SOFTMAX_TOLERANCE = 1e-3
DETAIL_COLUMNS = (
    "language",
    "encoder",
    "seed",
    "protocol",
    "primary",
    "error",
    "device",
    "device_hours",
    "encoder_forward_hours",
    "weights",
    "weights_problem",
    "path",
)


def comparable_encoder(name):
    """The name under which a probe run and a fine-tuning run of the same weights meet: collect's
    encoder name without the protocol (registry names as they are; xlsr-53.probe~tag -> xlsr-53~tag)."""
    encoder, _, tag = parse_run_name(name)
    return encoder if tag is None else f"{encoder}{SOURCE_SEPARATOR}{tag}"


def checked_layer_weights(results, probe):
    """(weights as a tuple or None, problem or None) of a run's results.json. A fine-tuning run
    (`probe` False) that reads its last layer, or predates the `layers` field, has none and no problem."""
    layers = results.get("layers")
    aggregation = layers.get("aggregation") if isinstance(layers, dict) else None
    if aggregation != "weighted":
        if not probe:
            return None, None
        if not isinstance(layers, dict):
            return None, "no `layers` field (results.json written before layer weights were recorded)"
        return None, f"layers.aggregation is {aggregation!r}, a probe's is 'weighted'"
    weights = layers.get("weights")
    try:
        values = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        return None, f"layers.weights is not a list of numbers: {weights!r}"
    if values.ndim != 1 or len(values) < 2:
        return None, f"layers.weights is not a list of at least 2 numbers: {weights!r}"
    if len(values) != layers.get("num_hidden_states"):
        return None, (
            f"layers.weights has {len(values)} entries, layers.num_hidden_states is {layers.get('num_hidden_states')!r}"
        )
    if not np.all(np.isfinite(values)) or values.min() < 0 or abs(values.sum() - 1) > SOFTMAX_TOLERANCE:
        return None, f"layers.weights is not a softmax (non-negative, summing to 1): sum {values.sum():.4f}"
    return tuple(float(v) for v in values), None


def run_details(runs):
    """One row per run of collect's table with what its results.json says beyond that table
    (DETAIL_COLUMNS): device kind, device hours, encoder forward hours and checked layer weights."""
    rows = []
    for run in runs.itertuples(index=False):
        results = json.loads(Path(run.path).read_text(encoding="utf-8"))
        training = results.get("training", {})
        processes = training.get("world_size") or 1
        wall = training.get("wall_seconds")
        forward = results.get("cost", {}).get("encoder_forward_seconds") or {}
        device = results.get("run", {}).get("device")
        weights, problem = checked_layer_weights(results, run.protocol == PROBE_PROTOCOL)
        rows.append(
            {
                "language": run.language,
                "encoder": comparable_encoder(run.encoder),
                "seed": run.seed,
                "protocol": run.protocol,
                "primary": run.primary,
                "error": run.error,
                "device": str(device).split(":")[0] if device else None,
                "device_hours": wall * processes / 3600 if wall is not None else math.nan,
                "encoder_forward_hours": (
                    sum(forward.get(split, 0.0) for split in ("train", "dev")) * processes / 3600
                    if forward
                    else math.nan
                ),
                "weights": weights,
                "weights_problem": problem,
                "path": run.path,
            }
        )
    return pd.DataFrame(rows, columns=list(DETAIL_COLUMNS))


def tied_at_k(errors, k):
    """True when the k-th and (k+1)-th lowest of `errors` are equal: the k best are not defined."""
    ordered = np.sort(errors)
    return len(ordered) > k and ordered[k - 1] == ordered[k]


def top_k_agreement(probe_errors, fine_tuning_errors, units, k):
    """Share of fine-tuning's k best among the probe's k best, over the distinct `units` (encoder
    indices into the error arrays; a unit drawn twice counts once); NaN with k or fewer units, and
    NaN when either ranking ties at its k-th place (a tie is not broken by name)."""
    distinct = np.unique(units)
    if len(distinct) <= k:
        return math.nan
    if tied_at_k(probe_errors[distinct], k) or tied_at_k(fine_tuning_errors[distinct], k):
        return math.nan
    best_probe = set(distinct[np.argsort(probe_errors[distinct], kind="stable")[:k]])
    best_fine_tuning = set(distinct[np.argsort(fine_tuning_errors[distinct], kind="stable")[:k]])
    return len(best_probe & best_fine_tuning) / k


def best_named(encoders, errors):
    """The encoder of lowest error, or "tie: A, B" when several share it."""
    best = encoders[errors == errors.min()]
    return best[0] if len(best) == 1 else "tie: " + ", ".join(best)


def ranking_agreement(probe_summary, study_summary, n_resamples=stats.BOOTSTRAP_RESAMPLES, seed=0):
    """(cells, agreement): the encoders' probe and fine-tuning errors per language, and per language
    (then pooled, the last row) rho, top-1 and top-3 agreement with their bootstrap CIs."""
    columns = ["language", "encoder", "primary", "error_mean", "n_seeds"]
    cells = probe_summary[columns].merge(
        study_summary[columns], on=["language", "encoder"], suffixes=("_probe", "_fine_tuning")
    )
    cells = cells.rename(
        columns={
            "error_mean_probe": "probe_error",
            "error_mean_fine_tuning": "fine_tuning_error",
            "n_seeds_probe": "probe_seeds",
            "n_seeds_fine_tuning": "fine_tuning_seeds",
        }
    )
    rows = []
    for language, group in cells.groupby("language", sort=True):
        group = group.sort_values("encoder")
        metrics = sorted(set(group["primary_probe"]) | set(group["primary_fine_tuning"]))
        row = {"scope": language, "metric": "/".join(metrics), "n_encoders": len(group)}
        if len(metrics) > 1:
            rows.append({**row, "note": "the probe's and fine-tuning's primary metrics differ: not compared"})
            continue
        probe, fine_tuning = group["probe_error"].to_numpy(), group["fine_tuning_error"].to_numpy()
        encoders = group["encoder"].to_numpy()
        row["rho"], row["p_value"] = stats.spearman(probe, fine_tuning)
        row["rho_ci_low"], row["rho_ci_high"] = stats.bootstrap_spearman_ci(
            probe, fine_tuning, None, n_resamples, seed=seed
        )
        everyone = np.arange(len(group))
        row["best_probe"], row["best_fine_tuning"] = best_named(encoders, probe), best_named(encoders, fine_tuning)
        for k, name in ((1, "top1"), (TOP_K, f"top{TOP_K}")):
            row[name] = top_k_agreement(probe, fine_tuning, everyone, k)
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = stats.percentile_bootstrap_ci(
                lambda units, k=k, probe=probe, fine_tuning=fine_tuning: top_k_agreement(probe, fine_tuning, units, k),
                len(group),
                n_resamples,
                seed=seed,
            )
        row["note"] = "" if len(group) > TOP_K else f"{TOP_K} or fewer encoders: top-{TOP_K} agreement undefined"
        rows.append(row)
    agreement = pd.DataFrame(
        rows,
        columns=[
            "scope",
            "metric",
            "n_encoders",
            "rho",
            "p_value",
            "rho_ci_low",
            "rho_ci_high",
            "best_probe",
            "best_fine_tuning",
            "top1",
            "top1_ci_low",
            "top1_ci_high",
            f"top{TOP_K}",
            f"top{TOP_K}_ci_low",
            f"top{TOP_K}_ci_high",
            "note",
        ],
    )
    if not agreement.empty:
        agreement = pd.concat(
            [agreement, pd.DataFrame([pooled_agreement(agreement, n_resamples, seed)])], ignore_index=True
        )
    return cells.drop(columns=["primary_fine_tuning"]).rename(columns={"primary_probe": "metric"}), agreement


def pooled_agreement(per_language, n_resamples, seed):
    """The row (a dict) of the means over languages of rho, top-1 and top-k agreement, with
    cluster-bootstrap CIs over the languages where each is defined."""
    row = {"scope": "mean over languages", "n_encoders": int(per_language["n_encoders"].sum())}
    for name in ("rho", "top1", f"top{TOP_K}"):
        values = per_language[name].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        low, high = f"{name}_ci_low", f"{name}_ci_high"
        row[name] = values.mean() if len(values) else math.nan
        row[low], row[high] = stats.bootstrap_mean_ci(values, None, n_resamples, seed=seed)
    defined = int(np.isfinite(per_language["rho"].to_numpy(dtype=float)).sum())
    row["note"] = f"{len(per_language)} languages, {defined} with rho defined; n_encoders: their cells in all"
    return row


def cost_ratios(details):
    """Probe vs fine-tuning cost per language and device kind (then over all languages), on the
    encoders with both kinds of run on that device kind (module docstring)."""
    known = details[details["device"].notna()]
    cells = known.groupby(["protocol", "language", "device", "encoder"], as_index=False)[
        ["device_hours", "encoder_forward_hours"]
    ].mean()
    probe = cells[cells["protocol"] == PROBE_PROTOCOL].drop(columns="protocol")
    study = cells[cells["protocol"] == STUDY_PROTOCOL].drop(columns="protocol")
    both = probe.merge(study, on=["language", "device", "encoder"], suffixes=("_probe", "_fine_tuning"))
    rows = []
    scopes = [((language, device), group) for (language, device), group in both.groupby(["language", "device"])]
    scopes += [(("all languages", device), group) for device, group in both.groupby("device")]
    for (scope, device), group in scopes:
        row = {"scope": scope, "device": device, "n_encoders": group["encoder"].nunique(), "n_cells": len(group)}
        for measure in ("device_hours", "encoder_forward_hours"):
            probe_total = group[f"{measure}_probe"].sum(min_count=1)
            study_total = group[f"{measure}_fine_tuning"].sum(min_count=1)
            row[f"probe_{measure}"], row[f"fine_tuning_{measure}"] = probe_total, study_total
            row[f"{measure}_ratio"] = probe_total / study_total if study_total > 0 else math.nan
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=[
            "scope",
            "device",
            "n_encoders",
            "n_cells",
            "probe_device_hours",
            "fine_tuning_device_hours",
            "device_hours_ratio",
            "probe_encoder_forward_hours",
            "fine_tuning_encoder_forward_hours",
            "encoder_forward_hours_ratio",
        ],
    )


def weighted_runs(details):
    """The runs with usable layer weights, with their series, depth and expected layer."""
    runs = details[details["weights"].notna()].copy()
    runs["series"] = runs["protocol"].map(SERIES_OF_PROTOCOL)
    runs["num_layers"] = runs["weights"].map(lambda w: len(w) - 1)
    runs["expected_layer"] = runs["weights"].map(lambda w: float(np.dot(np.arange(len(w)), w)))
    runs["expected_layer_normalised"] = runs["expected_layer"] / runs["num_layers"]
    return runs


def expected_layers(runs):
    """Per series x encoder x language: the expected layer, raw and normalised, mean over seeds."""
    return runs.groupby(["series", "encoder", "language", "num_layers"], as_index=False).agg(
        n_seeds=("seed", "size"),
        expected_layer=("expected_layer", "mean"),
        expected_layer_normalised=("expected_layer_normalised", "mean"),
    )


def layer_profiles(runs):
    """Per series x encoder and layer index: the weight's mean over languages (each a mean over its
    seeds) and its sample std over languages (NaN with one language)."""
    rows = []
    for (series, encoder, num_layers), group in runs.groupby(["series", "encoder", "num_layers"], sort=True):
        by_language = np.array(
            [np.mean(cell["weights"].to_list(), axis=0) for _, cell in group.groupby("language", sort=True)]
        )
        spread = by_language.std(axis=0, ddof=1) if len(by_language) > 1 else np.full(num_layers + 1, math.nan)
        for layer in range(num_layers + 1):
            rows.append(
                {
                    "series": series,
                    "encoder": encoder,
                    "num_layers": num_layers,
                    "layer": layer,
                    "weight_mean": by_language[:, layer].mean(),
                    "weight_std": spread[layer],
                    "n_languages": len(by_language),
                    "n_runs": len(group),
                }
            )
    return pd.DataFrame(
        rows, columns=["series", "encoder", "num_layers", "layer", "weight_mean", "weight_std", "n_languages", "n_runs"]
    )


def own_vs_other_languages(cells, registry, n_resamples=stats.BOOTSTRAP_RESAMPLES, seed=0):
    """Per monolingual encoder with probes on its own language and on others: the normalised expected
    layer on each, their difference; the last row the mean over those encoders with a bootstrap CI."""
    rows = []
    for encoder, group in cells.groupby("encoder", sort=True):
        pretraining = registry.get(encoder, {}).get("monolingual")
        if not pretraining:
            continue
        own = group["language"].str.split("-").str[0].eq(pretraining)
        row = {
            "encoder": encoder,
            "pretraining_language": pretraining,
            "own_language": ", ".join(group.loc[own, "language"]) or "–",
            "n_other": int((~own).sum()),
            "own": group.loc[own, "expected_layer_normalised"].mean() if own.any() else math.nan,
            "other": group.loc[~own, "expected_layer_normalised"].mean() if (~own).any() else math.nan,
        }
        row["difference"] = row["own"] - row["other"]
        rows.append(row)
    table = pd.DataFrame(
        rows,
        columns=[
            "encoder",
            "pretraining_language",
            "own_language",
            "n_other",
            "own",
            "other",
            "difference",
            "ci_low",
            "ci_high",
        ],
    )
    paired = table.dropna(subset=["difference"])
    if not paired.empty:
        differences = paired["difference"].to_numpy(dtype=float)
        low, high = stats.bootstrap_mean_ci(differences, None, n_resamples, seed=seed)
        pooled = {
            "encoder": "mean over encoders",
            "pretraining_language": "–",
            "own_language": "–",
            "n_other": int(paired["n_other"].sum()),
            "own": paired["own"].mean(),
            "other": paired["other"].mean(),
            "difference": differences.mean(),
            "ci_low": low,
            "ci_high": high,
        }
        table = pd.concat([table, pd.DataFrame([pooled])], ignore_index=True)
    return table


def similarity_pairs(cells, registry, distances, iso_codes):
    """(pairs, left_out): each monolingual encoder x target language with its normalised expected layer
    and the similarity (1 - distance) of each kind between its pre-training language and the target;
    the pairs without an ISO 639-3 code or cached distances left out with the reason."""
    rows, left_out = [], []
    for cell in cells.itertuples(index=False):
        similarities, reason = stats.pretraining_similarity(cell.encoder, cell.language, registry, distances, iso_codes)
        if reason:
            left_out.append({"encoder": cell.encoder, "language": cell.language, "reason": reason})
        elif similarities:
            rows.append(
                {
                    "encoder": cell.encoder,
                    "pretraining_language": registry[cell.encoder]["monolingual"],
                    "language": cell.language,
                    "expected_layer_normalised": cell.expected_layer_normalised,
                    **similarities,
                }
            )
    return pd.DataFrame(rows), pd.DataFrame(left_out, columns=["encoder", "language", "reason"])


def similarity_correlations(pairs, kinds, n_resamples=stats.BOOTSTRAP_RESAMPLES, seed=0):
    """Spearman's rho of the normalised expected layer with each similarity kind, cluster-bootstrap
    CI over target languages."""
    rows = []
    for kind in kinds:
        x, y = pairs[f"{kind}_similarity"], pairs["expected_layer_normalised"]
        rho, p = stats.spearman(x, y)
        low, high = stats.bootstrap_spearman_ci(x, y, pairs["language"], n_resamples, seed=seed)
        rows.append(
            {
                "similarity": kind,
                "n_pairs": len(pairs),
                "n_languages": pairs["language"].nunique(),
                "rho": rho,
                "p_value": p,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows, columns=["similarity", "n_pairs", "n_languages", "rho", "p_value", "ci_low", "ci_high"])
