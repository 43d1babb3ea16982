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
best; ties go to the first encoder by name) and top-3 agreement (the share of fine-tuning's
3 best encoders that are among the probe's 3 best), each with a percentile bootstrap CI
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

from crossling_asr.analysis import probe_figures, stats
from crossling_asr.analysis.aggregate import collect, summarize
from crossling_asr.analysis.typology import TYPOLOGY_FILE, language_facts, load_distances
from crossling_asr.hparams import RECIPES_DIR, recipe_languages
from crossling_asr.registry import load_registry
from crossling_asr.run_layout import SOURCE_SEPARATOR, STUDY_PROTOCOL, parse_run_name

PROBE_PROTOCOL = "probe"
TOP_K = 3
# The series of layer-weight profiles: probes, and fine-tuning runs with weighted layers.
PROBE_SERIES = "probe"
FINE_TUNING_SERIES = "fine-tuning (weighted layers)"
SERIES_OF_PROTOCOL = {PROBE_PROTOCOL: PROBE_SERIES, STUDY_PROTOCOL: FINE_TUNING_SERIES}
SOFTMAX_TOLERANCE = 1e-3
DETAIL_COLUMNS = ("language", "encoder", "seed", "protocol", "primary", "error", "device", "device_hours",
                  "encoder_forward_hours", "weights", "weights_problem", "path")


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
        return None, (f"layers.weights has {len(values)} entries, layers.num_hidden_states is "
                      f"{layers.get('num_hidden_states')!r}")
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
        rows.append({
            "language": run.language, "encoder": comparable_encoder(run.encoder), "seed": run.seed,
            "protocol": run.protocol, "primary": run.primary, "error": run.error,
            "device": str(device).split(":")[0] if device else None,
            "device_hours": wall * processes / 3600 if wall is not None else math.nan,
            "encoder_forward_hours": (sum(forward.get(split, 0.0) for split in ("train", "dev")) * processes / 3600
                                      if forward else math.nan),
            "weights": weights, "weights_problem": problem, "path": run.path,
        })
    return pd.DataFrame(rows, columns=list(DETAIL_COLUMNS))


def top_k_agreement(probe_errors, fine_tuning_errors, units, k):
    """Share of fine-tuning's k best among the probe's k best, over the distinct `units` (encoder
    indices into the error arrays; a unit drawn twice counts once); NaN with k or fewer units."""
    distinct = np.unique(units)
    if len(distinct) <= k:
        return math.nan
    best_probe = set(distinct[np.argsort(probe_errors[distinct], kind="stable")[:k]])
    best_fine_tuning = set(distinct[np.argsort(fine_tuning_errors[distinct], kind="stable")[:k]])
    return len(best_probe & best_fine_tuning) / k


def ranking_agreement(probe_summary, study_summary, n_resamples=stats.BOOTSTRAP_RESAMPLES, seed=0):
    """(cells, agreement): the encoders' probe and fine-tuning errors per language, and per language
    (then pooled, the last row) rho, top-1 and top-3 agreement with their bootstrap CIs."""
    columns = ["language", "encoder", "primary", "error_mean", "n_seeds"]
    cells = probe_summary[columns].merge(study_summary[columns], on=["language", "encoder"],
                                         suffixes=("_probe", "_fine_tuning"))
    cells = cells.rename(columns={"error_mean_probe": "probe_error", "error_mean_fine_tuning": "fine_tuning_error",
                                  "n_seeds_probe": "probe_seeds", "n_seeds_fine_tuning": "fine_tuning_seeds"})
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
        row["rho_ci_low"], row["rho_ci_high"] = stats.bootstrap_spearman_ci(probe, fine_tuning, None, n_resamples,
                                                                            seed=seed)
        everyone = np.arange(len(group))
        row["best_probe"], row["best_fine_tuning"] = encoders[np.argmin(probe)], encoders[np.argmin(fine_tuning)]
        for k, name in ((1, "top1"), (TOP_K, f"top{TOP_K}")):
            row[name] = top_k_agreement(probe, fine_tuning, everyone, k)
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = stats.percentile_bootstrap_ci(
                lambda units, k=k: top_k_agreement(probe, fine_tuning, units, k), len(group), n_resamples, seed=seed)
        row["note"] = "" if len(group) > TOP_K else f"{TOP_K} or fewer encoders: top-{TOP_K} agreement undefined"
        rows.append(row)
    agreement = pd.DataFrame(rows, columns=["scope", "metric", "n_encoders", "rho", "p_value", "rho_ci_low",
                                            "rho_ci_high", "best_probe", "best_fine_tuning", "top1", "top1_ci_low",
                                            "top1_ci_high", f"top{TOP_K}", f"top{TOP_K}_ci_low",
                                            f"top{TOP_K}_ci_high", "note"])
    if not agreement.empty:
        agreement = pd.concat([agreement, pd.DataFrame([pooled_agreement(agreement, n_resamples, seed)])],
                              ignore_index=True)
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
        ["device_hours", "encoder_forward_hours"]].mean()
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
    return pd.DataFrame(rows, columns=["scope", "device", "n_encoders", "n_cells", "probe_device_hours",
                                       "fine_tuning_device_hours", "device_hours_ratio", "probe_encoder_forward_hours",
                                       "fine_tuning_encoder_forward_hours", "encoder_forward_hours_ratio"])


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
    return (runs.groupby(["series", "encoder", "language", "num_layers"], as_index=False)
            .agg(n_seeds=("seed", "size"), expected_layer=("expected_layer", "mean"),
                 expected_layer_normalised=("expected_layer_normalised", "mean")))


def layer_profiles(runs):
    """Per series x encoder and layer index: the weight's mean over languages (each a mean over its
    seeds) and its sample std over languages (NaN with one language)."""
    rows = []
    for (series, encoder, num_layers), group in runs.groupby(["series", "encoder", "num_layers"], sort=True):
        by_language = np.array([np.mean(cell["weights"].to_list(), axis=0)
                                for _, cell in group.groupby("language", sort=True)])
        spread = by_language.std(axis=0, ddof=1) if len(by_language) > 1 else np.full(num_layers + 1, math.nan)
        for layer in range(num_layers + 1):
            rows.append({"series": series, "encoder": encoder, "num_layers": num_layers, "layer": layer,
                         "weight_mean": by_language[:, layer].mean(), "weight_std": spread[layer],
                         "n_languages": len(by_language), "n_runs": len(group)})
    return pd.DataFrame(rows, columns=["series", "encoder", "num_layers", "layer", "weight_mean", "weight_std",
                                       "n_languages", "n_runs"])


def own_vs_other_languages(cells, registry, n_resamples=stats.BOOTSTRAP_RESAMPLES, seed=0):
    """Per monolingual encoder with probes on its own language and on others: the normalised expected
    layer on each, their difference; the last row the mean over those encoders with a bootstrap CI."""
    rows = []
    for encoder, group in cells.groupby("encoder", sort=True):
        pretraining = registry.get(encoder, {}).get("monolingual")
        if not pretraining:
            continue
        own = group["language"].map(lambda lang: lang.split("-")[0] == pretraining)
        row = {"encoder": encoder, "pretraining_language": pretraining,
               "own_language": ", ".join(group.loc[own, "language"]) or "–", "n_other": int((~own).sum()),
               "own": group.loc[own, "expected_layer_normalised"].mean() if own.any() else math.nan,
               "other": group.loc[~own, "expected_layer_normalised"].mean() if (~own).any() else math.nan}
        row["difference"] = row["own"] - row["other"]
        rows.append(row)
    table = pd.DataFrame(rows, columns=["encoder", "pretraining_language", "own_language", "n_other", "own", "other",
                                        "difference", "ci_low", "ci_high"])
    paired = table.dropna(subset=["difference"])
    if not paired.empty:
        differences = paired["difference"].to_numpy(dtype=float)
        low, high = stats.bootstrap_mean_ci(differences, None, n_resamples, seed=seed)
        pooled = {"encoder": "mean over encoders", "pretraining_language": "–", "own_language": "–",
                  "n_other": int(paired["n_other"].sum()), "own": paired["own"].mean(), "other": paired["other"].mean(),
                  "difference": differences.mean(), "ci_low": low, "ci_high": high}
        table = pd.concat([table, pd.DataFrame([pooled])], ignore_index=True)
    return table


def similarity_pairs(cells, registry, distances, iso_codes):
    """(pairs, left_out): each monolingual encoder x target language with its normalised expected layer
    and the similarity (1 - distance) of each kind between its pre-training language and the target;
    the pairs without an ISO 639-3 code or cached distances left out with the reason."""
    rows, left_out = [], []
    for cell in cells.itertuples(index=False):
        similarities, reason = stats.pretraining_similarity(cell.encoder, cell.language, registry, distances,
                                                            iso_codes)
        if reason:
            left_out.append({"encoder": cell.encoder, "language": cell.language, "reason": reason})
        elif similarities:
            rows.append({"encoder": cell.encoder, "pretraining_language": registry[cell.encoder]["monolingual"],
                         "language": cell.language, "expected_layer_normalised": cell.expected_layer_normalised,
                         **similarities})
    return pd.DataFrame(rows), pd.DataFrame(left_out, columns=["encoder", "language", "reason"])


def similarity_correlations(pairs, kinds, n_resamples=stats.BOOTSTRAP_RESAMPLES, seed=0):
    """Spearman's rho of the normalised expected layer with each similarity kind, cluster-bootstrap
    CI over target languages."""
    rows = []
    for kind in kinds:
        x, y = pairs[f"{kind}_similarity"], pairs["expected_layer_normalised"]
        rho, p = stats.spearman(x, y)
        low, high = stats.bootstrap_spearman_ci(x, y, pairs["language"], n_resamples, seed=seed)
        rows.append({"similarity": kind, "n_pairs": len(pairs), "n_languages": pairs["language"].nunique(),
                     "rho": rho, "p_value": p, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["similarity", "n_pairs", "n_languages", "rho", "p_value", "ci_low", "ci_high"])


def add_probe_section(report, results_root, typology_file=TYPOLOGY_FILE, n_resamples=stats.BOOTSTRAP_RESAMPLES,
                      recipes_dir=RECIPES_DIR, include_replaced_sources=False):
    """Write the section comparing the probes under `results_root` with its fine-tuning runs into
    `report` (a crossling_asr.analysis.report.Report), saying what is missing where data are."""
    # report imports this module: its helpers are imported when the section is written.
    from crossling_asr.analysis.report import known_facts, ordered_encoders

    registry = load_registry()
    probes = collect(results_root, PROBE_PROTOCOL, include_replaced_sources).runs
    fine_tuning = collect(results_root, STUDY_PROTOCOL, include_replaced_sources).runs
    report.text("## 5. Frozen-encoder probes vs fine-tuning\n\nProbes (`--protocol=probe`: the encoder frozen, "
                "a learned softmax-weighted sum of all its hidden states, a small CTC head) against the "
                f"fine-tuning runs (protocol {STUDY_PROTOCOL}) of the same encoders: {len(probes)} finished probe "
                f"runs, {len(fine_tuning)} finished fine-tuning runs. Cells are means over their seeds.")
    if probes.empty:
        report.text("Not available: no finished probe runs under the results root (`python train.py "
                    "hparams/<lang>.yaml --protocol=probe`).")
        return
    details = run_details(pd.concat([probes, fine_tuning], ignore_index=True))
    problems = details[details["weights_problem"].notna()]
    if not problems.empty:
        report.warn(f"{len(problems)} runs left out of the layer-weight analysis: their results.json layer "
                    "weights are missing or malformed")
        report.table(problems[["language", "encoder", "seed", "protocol", "weights_problem", "path"]],
                     "probe_weights_left_out", "Runs whose layer weights are not used", embed=len(problems) <= 40)
    add_ranking(report, probes, fine_tuning, n_resamples)
    add_cost(report, details, fine_tuning.empty)
    runs = weighted_runs(details)
    cells = expected_layers(runs)
    add_layer_profiles(report, runs, cells, registry, ordered_encoders)
    add_monolingual_layers(report, cells[cells["series"] == PROBE_SERIES], probes, registry, typology_file,
                           n_resamples, recipes_dir, known_facts)


def add_ranking(report, probes, fine_tuning, n_resamples):
    report.text("### 5.1 Do probes rank the encoders as fine-tuning does?\n\nPer language, over the encoders "
                "with both probe and fine-tuning runs: Spearman's rho between the probe's and the fine-tuning's "
                "mean test error (primary metric; 95% percentile bootstrap CI over encoders), top-1 agreement "
                f"(1: the probe's best encoder is fine-tuning's best) and top-{TOP_K} agreement (share of "
                f"fine-tuning's {TOP_K} best among the probe's {TOP_K} best), with bootstrap CIs over encoders (an "
                "encoder drawn twice counts once in a resample's top k). Last row: means over languages, 95% "
                "cluster-bootstrap CI over languages.")
    if fine_tuning.empty:
        report.text(f"Not available: no finished fine-tuning runs (protocol {STUDY_PROTOCOL}) to compare with.")
        return
    probe_summary = summarize(probes.assign(encoder=probes["encoder"].map(comparable_encoder)))
    cells, agreement = ranking_agreement(probe_summary, summarize(fine_tuning), n_resamples)
    if agreement.empty:
        report.text("Not available: no language has probe and fine-tuning runs of the same encoder.")
        return
    report.table(agreement, "probe_ranking_agreement", "Probe ranking vs fine-tuning ranking", digits=3)
    report.table(cells, "probe_ranking_cells", "Probe and fine-tuning error per language and encoder",
                 embed=len(cells) <= 40)


def add_cost(report, details, no_fine_tuning):
    report.text("### 5.2 What the probes cost\n\nPer language and device kind (results.json run.device), over the "
                "encoders with probe and fine-tuning runs on that kind of device, each cell's mean over its seeds "
                "summed over the encoders. Device hours: training.wall_seconds (fit: the training epochs and "
                "the dev decoding) x training.world_size (GPU-hours on GPUs). Encoder forward hours: "
                "cost.encoder_forward_seconds of train and dev (rank 0's, x world_size): the time in the "
                "encoder's forward passes (0 where a probe read cached features). Ratios: probe / fine-tuning. "
                "Runs that do not record their device are left out.")
    if no_fine_tuning:
        report.text(f"Not available: no finished fine-tuning runs (protocol {STUDY_PROTOCOL}) to compare with.")
        return
    table = cost_ratios(details)
    if table.empty:
        report.text("Not available: no language has probe and fine-tuning runs of the same encoder on the same "
                    "kind of device.")
        return
    report.table(table, "probe_cost", "Probe vs fine-tuning cost", digits=3)


def add_layer_profiles(report, runs, cells, registry, ordered_encoders):
    fine_tuned = runs["series"].eq(FINE_TUNING_SERIES).any()
    report.text("### 5.3 Which layers the probes read\n\nLearned layer weights (layer 0: the CNN feature "
                "projection's output, layer i: transformer layer i). Expected layer: sum of layer index x "
                "weight; normalised: divided by the number of transformer layers (0: the projection, 1: the "
                "last layer). "
                + ("Fine-tuning runs with `layer_aggregation: weighted` form a series of their own."
                   if fine_tuned else "No fine-tuning run has weighted layers (`layer_aggregation: weighted`): "
                   "only probes are shown."))
    if runs.empty:
        report.text("Not available: no run with usable layer weights.")
        return
    order = ordered_encoders(cells["encoder"].unique(), registry)
    cells = (cells.assign(rank=cells["encoder"].map({name: i for i, name in enumerate(order)}))
             .sort_values(["series", "rank", "language"]).drop(columns="rank").reset_index(drop=True))
    profiles = layer_profiles(runs)
    probed = cells[cells["series"] == PROBE_SERIES]
    if not probed.empty:
        matrix = probed.pivot(index="encoder", columns="language", values="expected_layer_normalised")
        matrix = matrix.reindex([name for name in order if name in matrix.index]).rename_axis(columns=None)
        report.table(matrix.reset_index(), "probe_expected_layer_matrix", "Probes' normalised expected layer "
                     "(0: the CNN projection, 1: the last layer), mean over seeds")
    report.table(cells, "probe_expected_layer", "Expected layer per series, encoder and language", digits=3,
                 embed=len(cells) <= 60)
    report.table(profiles, "probe_layer_profiles", "Layer weights per encoder: mean and std over languages",
                 digits=4, embed=False)
    png = probe_figures.layer_weight_profiles(profiles, order, report.out / "figures" / "probe_layer_weights")
    report.figure(png, "Learned layer weights per encoder (mean over languages; band: ± 1 std over languages)")


def add_monolingual_layers(report, cells, probes, registry, typology_file, n_resamples, recipes_dir, known_facts):
    report.text("### 5.4 Monolingual encoders: own language vs others\n\nNormalised expected layer of the probes of "
                "each monolingual encoder on its pre-training language and (mean) on the other languages; last "
                "row: the mean difference over the encoders with both, 95% percentile bootstrap CI over those "
                "encoders. Then the normalised expected layer against the similarity (1 - URIEL distance, as in "
                "section 4) of the pre-training and target languages: Spearman's rho over all (encoder, target) "
                "pairs, 95% cluster-bootstrap CI over target languages (the p-value treats pairs as independent; "
                "read the CI).")
    monolingual = cells[cells["encoder"].map(lambda name: bool(registry.get(name, {}).get("monolingual")))]
    if monolingual.empty:
        report.text("Not available: no probes of a monolingual encoder with usable layer weights.")
        return
    table = own_vs_other_languages(monolingual, registry, n_resamples)
    report.table(table, "probe_own_language_layer", "Normalised expected layer on the pre-training language vs "
                 "other languages", digits=3)
    try:
        distances = load_distances(typology_file)
    except FileNotFoundError as err:
        report.text(f"Similarity: not available: {err}.")
        return
    facts, _ = language_facts(probes, recipe_languages(recipes_dir), recipes_dir)
    pairs, left_out = similarity_pairs(monolingual, registry, distances, known_facts(facts, "iso639_3"))
    if not left_out.empty:
        report.warn(f"{len(left_out)} (encoder, target) pairs left out of the expected layer vs similarity analysis: "
                    "no ISO 639-3 code, or not in the cached distances")
        report.table(left_out, "probe_similarity_left_out", "Pairs left out of the expected layer vs similarity "
                     "analysis", embed=len(left_out) <= 40)
    if pairs.empty:
        report.text("Similarity: not available: no (encoder, target) pair with known distances.")
        return
    report.table(similarity_correlations(pairs, list(distances), n_resamples), "probe_layer_similarity",
                 "Correlation of the normalised expected layer with language similarity", digits=3)
    report.table(pairs, "probe_layer_similarity_pairs", "Monolingual encoder x target language", digits=3,
                 embed=len(pairs) <= 60)
