"""Section 5 of the report: frozen-encoder probes against fine-tuning (crossling_asr.analysis.probing's
statistics, written as tables and figures)."""

import pandas as pd

from crossling_asr.analysis import probe_figures, stats
from crossling_asr.analysis.aggregate import collect, summarize
from crossling_asr.analysis.document import known_facts, ordered_encoders
from crossling_asr.analysis.probing import (
    FINE_TUNING_SERIES,
    PROBE_PROTOCOL,
    PROBE_SERIES,
    TOP_K,
    comparable_encoder,
    cost_ratios,
    expected_layers,
    layer_profiles,
    own_vs_other_languages,
    ranking_agreement,
    run_details,
    similarity_correlations,
    similarity_pairs,
    weighted_runs,
)
from crossling_asr.analysis.typology import TYPOLOGY_FILE, language_facts, load_distances
from crossling_asr.hparams import RECIPES_DIR, recipe_languages
from crossling_asr.registry import load_registry
from crossling_asr.run_layout import STUDY_PROTOCOL


def add_probe_section(
    report,
    results_root,
    typology_file=TYPOLOGY_FILE,
    n_resamples=stats.BOOTSTRAP_RESAMPLES,
    recipes_dir=RECIPES_DIR,
    include_replaced_sources=False,
):
    """Write the section comparing the probes under `results_root` with its fine-tuning runs into
    `report` (a crossling_asr.analysis.document.Report), saying what is missing where data are."""
    registry = load_registry()
    probes = collect(results_root, PROBE_PROTOCOL, include_replaced_sources).runs
    fine_tuning = collect(results_root, STUDY_PROTOCOL, include_replaced_sources).runs
    report.text(
        "## 5. Frozen-encoder probes vs fine-tuning\n\nProbes (`--protocol=probe`: the encoder frozen, "
        "a learned softmax-weighted sum of all its hidden states, a small CTC head) against the "
        f"fine-tuning runs (protocol {STUDY_PROTOCOL}) of the same encoders: {len(probes)} finished probe "
        f"runs, {len(fine_tuning)} finished fine-tuning runs. Cells are means over their seeds."
    )
    if probes.empty:
        report.text(
            "Not available: no finished probe runs under the results root (`python train.py "
            "hparams/<lang>.yaml --protocol=probe`)."
        )
        return
    details = run_details(pd.concat([probes, fine_tuning], ignore_index=True))
    problems = details[details["weights_problem"].notna()]
    if not problems.empty:
        report.warn(
            f"{len(problems)} runs left out of the layer-weight analysis: their results.json layer "
            "weights are missing or malformed"
        )
        report.table(
            problems[["language", "encoder", "seed", "protocol", "weights_problem", "path"]],
            "probe_weights_left_out",
            "Runs whose layer weights are not used",
            embed=len(problems) <= 40,
        )
    add_ranking(report, probes, fine_tuning, n_resamples)
    add_cost(report, details, fine_tuning.empty)
    runs = weighted_runs(details)
    cells = expected_layers(runs)
    add_layer_profiles(report, runs, cells, registry)
    add_monolingual_layers(
        report, cells[cells["series"] == PROBE_SERIES], probes, registry, typology_file, n_resamples, recipes_dir
    )


def add_ranking(report, probes, fine_tuning, n_resamples):
    report.text(
        "### 5.1 Do probes rank the encoders as fine-tuning does?\n\nPer language, over the encoders "
        "with both probe and fine-tuning runs: Spearman's rho between the probe's and the fine-tuning's "
        "mean test error (primary metric; 95% percentile bootstrap CI over encoders), top-1 agreement "
        f"(1: the probe's best encoder is fine-tuning's best) and top-{TOP_K} agreement (share of "
        f"fine-tuning's {TOP_K} best among the probe's {TOP_K} best), with bootstrap CIs over encoders (an "
        "encoder drawn twice counts once in a resample's top k). Last row: means over languages, 95% "
        "cluster-bootstrap CI over languages."
    )
    if fine_tuning.empty:
        report.text(
            f"Not available: no finished fine-tuning runs (protocol {STUDY_PROTOCOL}) to compare with under this "
            "results root. Probes and fine-tunes are compared only when they live under one results root "
            "(<lang>/<encoder>.probe/ beside <lang>/<encoder>/)."
        )
        return
    probe_summary = summarize(probes.assign(encoder=probes["encoder"].map(comparable_encoder)))
    cells, agreement = ranking_agreement(probe_summary, summarize(fine_tuning), n_resamples)
    if agreement.empty:
        report.text("Not available: no language has probe and fine-tuning runs of the same encoder.")
        return
    report.table(agreement, "probe_ranking_agreement", "Probe ranking vs fine-tuning ranking", digits=3)
    report.table(
        cells, "probe_ranking_cells", "Probe and fine-tuning error per language and encoder", embed=len(cells) <= 40
    )


def add_cost(report, details, no_fine_tuning):
    report.text(
        "### 5.2 What the probes cost\n\nPer language and device kind (results.json run.device), over the "
        "encoders with probe and fine-tuning runs on that kind of device, each cell's mean over its seeds "
        "summed over the encoders. Device hours: training.wall_seconds (fit: the training epochs and "
        "the dev decoding) x training.world_size (GPU-hours on GPUs). Encoder forward hours: "
        "cost.encoder_forward_seconds of train and dev (rank 0's, x world_size): the time in the "
        "encoder's forward passes (0 where a probe read cached features). Ratios: probe / fine-tuning. "
        "Runs that do not record their device are left out."
    )
    if no_fine_tuning:
        report.text(f"Not available: no finished fine-tuning runs (protocol {STUDY_PROTOCOL}) to compare with.")
        return
    table = cost_ratios(details)
    if table.empty:
        report.text(
            "Not available: no language has probe and fine-tuning runs of the same encoder on the same kind of device."
        )
        return
    report.table(table, "probe_cost", "Probe vs fine-tuning cost", digits=3)


def add_layer_profiles(report, runs, cells, registry):
    fine_tuned = runs["series"].eq(FINE_TUNING_SERIES).any()
    report.text(
        "### 5.3 Which layers the probes read\n\nLearned layer weights (layer 0: the CNN feature "
        "projection's output, layer i: transformer layer i). Expected layer: sum of layer index x "
        "weight; normalised: divided by the number of transformer layers (0: the projection, 1: the "
        "last layer). "
        + (
            "Fine-tuning runs with `layer_aggregation: weighted` form a series of their own."
            if fine_tuned
            else "No fine-tuning run has weighted layers (`layer_aggregation: weighted`): only probes are shown."
        )
    )
    if runs.empty:
        report.text("Not available: no run with usable layer weights.")
        return
    order = ordered_encoders(cells["encoder"].unique(), registry)
    cells = (
        cells.assign(rank=cells["encoder"].map({name: i for i, name in enumerate(order)}))
        .sort_values(["series", "rank", "language"])
        .drop(columns="rank")
        .reset_index(drop=True)
    )
    profiles = layer_profiles(runs)
    probed = cells[cells["series"] == PROBE_SERIES]
    if not probed.empty:
        matrix = probed.pivot(index="encoder", columns="language", values="expected_layer_normalised")
        matrix = matrix.reindex([name for name in order if name in matrix.index]).rename_axis(columns=None)
        report.table(
            matrix.reset_index(),
            "probe_expected_layer_matrix",
            "Probes' normalised expected layer (0: the CNN projection, 1: the last layer), mean over seeds",
        )
    report.table(
        cells,
        "probe_expected_layer",
        "Expected layer per series, encoder and language",
        digits=3,
        embed=len(cells) <= 60,
    )
    report.table(
        profiles,
        "probe_layer_profiles",
        "Layer weights per encoder: mean and std over languages",
        digits=4,
        embed=False,
    )
    png = probe_figures.layer_weight_profiles(profiles, order, report.out / "figures" / "probe_layer_weights")
    report.figure(png, "Learned layer weights per encoder (mean over languages; band: ± 1 std over languages)")


def add_monolingual_layers(report, cells, probes, registry, typology_file, n_resamples, recipes_dir):
    report.text(
        "### 5.4 Monolingual encoders: own language vs others\n\nNormalised expected layer of the probes of "
        "each monolingual encoder on its pre-training language and (mean) on the other languages; last "
        "row: the mean difference over the encoders with both, 95% percentile bootstrap CI over those "
        "encoders. Then the normalised expected layer against the similarity (1 - URIEL distance, as in "
        "section 4) of the pre-training and target languages: Spearman's rho over all (encoder, target) "
        "pairs, 95% cluster-bootstrap CI over target languages (the p-value treats pairs as independent; "
        "read the CI)."
    )
    monolingual = cells[cells["encoder"].map(lambda name: bool(registry.get(name, {}).get("monolingual")))]
    if monolingual.empty:
        report.text("Not available: no probes of a monolingual encoder with usable layer weights.")
        return
    table = own_vs_other_languages(monolingual, registry, n_resamples)
    report.table(
        table,
        "probe_own_language_layer",
        "Normalised expected layer on the pre-training language vs other languages",
        digits=3,
    )
    try:
        distances = load_distances(typology_file)
    except FileNotFoundError as err:
        report.text(f"Similarity: not available: {err}.")
        return
    facts, _ = language_facts(probes, recipe_languages(recipes_dir), recipes_dir)
    pairs, left_out = similarity_pairs(monolingual, registry, distances, known_facts(facts, "iso639_3"))
    if not left_out.empty:
        report.warn(
            f"{len(left_out)} (encoder, target) pairs left out of the expected layer vs similarity analysis: "
            "no ISO 639-3 code, or not in the cached distances"
        )
        report.table(
            left_out,
            "probe_similarity_left_out",
            "Pairs left out of the expected layer vs similarity analysis",
            embed=len(left_out) <= 40,
        )
    if pairs.empty:
        report.text("Similarity: not available: no (encoder, target) pair with known distances.")
        return
    report.table(
        similarity_correlations(pairs, list(distances), n_resamples),
        "probe_layer_similarity",
        "Correlation of the normalised expected layer with language similarity",
        digits=3,
    )
    report.table(
        pairs, "probe_layer_similarity_pairs", "Monolingual encoder x target language", digits=3, embed=len(pairs) <= 60
    )
