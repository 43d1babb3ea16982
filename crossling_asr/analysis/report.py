"""One Markdown report of a results root: checks, tables, statistics and figures.

    build_report(results_root, out_dir) -> out_dir/report.md

Next to report.md: tables/ (every table as CSV and Markdown) and figures/
(PNG, linked from the report, and PDF). Image links are relative, so the
folder can be moved or copied into a paper's appendix as a whole.
"""

import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from crossling_asr.analysis import figures
from crossling_asr.analysis.aggregate import collect, format_mean_std, missing_runs, pre_faithful_study_runs, summarize
from crossling_asr.analysis.document import Report, known_facts, ordered_encoders
from crossling_asr.analysis.probe_section import add_probe_section
from crossling_asr.analysis.reproduction import add_reproduction_section
from crossling_asr.analysis.stats import (
    BOOTSTRAP_RESAMPLES,
    PREDICTORS,
    indo_european_gap,
    monolingual_transfer,
    size_and_diversity,
)
from crossling_asr.analysis.typology import TYPOLOGY_FILE, language_facts, load_distances
from crossling_asr.hparams import RECIPES_DIR, recipe_languages
from crossling_asr.registry import load_registry
from crossling_asr.run_layout import EVALUATION_PROTOCOLS, STUDY_PROTOCOL

PRIMARY_TRANSFER_KIND = "genetic"


def build_report(
    results_root: str | Path,
    out_dir: str | Path,
    languages: list[str] | None = None,
    encoders: list[str] | None = None,
    seeds: list[int] | None = None,
    typology_file: Path = TYPOLOGY_FILE,
    ie_metric: str = "CER",
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    recipes_dir: Path = RECIPES_DIR,
    protocol: str = STUDY_PROTOCOL,
    include_replaced_sources: bool = False,
) -> Path:
    """Write the report of `results_root` into `out_dir`; returns the path of report.md.

    languages, encoders, seeds: the expected grid (default: everything found),
    against which missing runs and incomplete cells are reported.
    recipes_dir: where the recipes whose yaml states a language's facts
    (name, ISO 639-3 code, family) live, for results that do not record them.
    protocol, include_replaced_sources: which finished runs are analysed
    (crossling_asr.analysis.aggregate.collect); the others are listed.
    """
    registry = load_registry()
    collection = collect(results_root, protocol, include_replaced_sources)
    runs = collection.runs
    report = Report(out_dir)
    grid_languages, grid_encoders = languages, encoders
    languages = list(languages or sorted(runs["language"].unique()))
    encoders = list(encoders or ordered_encoders(runs["encoder"].unique(), registry))
    seeds = list(seeds or sorted(runs["seed"].unique()))
    # Released seeds label single checkpoints: each cell expects the seeds found for it (aggregate.summarize).
    seed_text = (
        "seeds as released per cell" if protocol in EVALUATION_PROTOCOLS else f"seeds {', '.join(map(str, seeds))}"
    )
    report.text(
        f"# Cross-lingual transfer of wav2vec2-family encoders: results\n\n"
        f"Results root: `{Path(results_root).resolve()}`; generated "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}. Expected grid: {len(languages)} languages x "
        f"{len(encoders)} encoders x {seed_text}; protocol {protocol}"
        + (
            "; runs with replaced encoder weights included under their run names (name~source)."
            if include_replaced_sources
            else "."
        )
    )
    add_checks(report, collection, languages, encoders, seeds)
    if runs.empty:
        report.text(f"No finished runs of protocol {protocol}: sections 1-4 have nothing to analyse.")
    else:
        add_protocol_sections(
            report, runs, languages, encoders, seeds, registry, ie_metric, typology_file, n_resamples, recipes_dir
        )
    add_probe_section(report, results_root, typology_file, n_resamples, recipes_dir, include_replaced_sources)
    add_reproduction_section(report, results_root, grid_languages, grid_encoders, n_resamples)
    return report.write()


def add_protocol_sections(
    report, runs, languages, encoders, seeds, registry, ie_metric, typology_file, n_resamples, recipes_dir
):
    """Sections 1-4, the study's analyses, on the runs of the protocol the report analyses."""
    summary = summarize(runs, seeds)
    # The recipes' languages too: the registry names encoders' pre-training languages by code ("en", "sv").
    facts, warnings = language_facts(runs, recipe_languages(recipes_dir), recipes_dir)
    add_languages(report, facts, warnings, sorted(runs["language"].unique()))
    add_error_table(report, summary, languages, encoders)
    add_size_diversity(report, summary, registry, n_resamples)
    add_indo_european(report, summary, registry, facts, ie_metric)
    add_transfer(report, summary, registry, facts, typology_file, n_resamples)


def add_checks(report, collection, languages, encoders, seeds):
    runs = collection.runs
    missing = missing_runs(runs, languages, encoders, seeds)
    report.text(
        f"## Runs\n\n{len(runs)} finished runs used; {len(missing)} expected runs missing; "
        f"{len(collection.rejected)} results files rejected; {len(collection.duplicates)} duplicates; "
        f"{len(collection.conflicts)} settings differing between seeds of a cell; "
        f"{len(collection.set_aside)} finished runs set aside (another protocol, or encoder weights "
        "that are not the registry's)."
    )
    report.table(runs.drop(columns=["path"]), "runs", "Every run", embed=False)
    old_study = pre_faithful_study_runs(collection)
    if not old_study.empty:
        folders = sorted({str(Path(path).parents[2]) for path in old_study["path"]})
        report.text(
            f"**Warning:** {len(old_study)} finished study runs were trained under an earlier version of "
            "the study protocol's settings, from before it followed HuggingSound 0.1.6's training loop in "
            "full (their results.json hparams lack some of its keys), and are not analysed with the "
            "faithful ones: "
            f"{', '.join(old_study['run'].head(10))}{' ...' if len(old_study) > 10 else ''} under "
            f"{', '.join(folders[:5])}{' ...' if len(folders) > 5 else ''}. Re-run them "
            "in a fresh folder to include them (docs/protocols.md)."
        )
    for frame, name, caption in (
        (missing, "missing_runs", "Missing runs (expected grid, no finished results.json)"),
        (collection.rejected, "rejected", "Rejected results files (not used anywhere below)"),
        (collection.duplicates, "duplicates", "The same run found more than once (only `kept` is used)"),
        (collection.set_aside, "set_aside", "Finished runs not analysed here, and why"),
        (
            collection.conflicts,
            "conflicts",
            "Settings that differ between the seeds of one cell (their mean mixes experiments)",
        ),
    ):
        if not frame.empty:
            report.table(frame, name, caption, embed=len(frame) <= 40)


def add_languages(report, facts, warnings, languages):
    """The facts of the languages with runs, where each came from, and what is unknown."""
    shown = facts[facts["language"].isin(languages)]
    report.text(
        "## Languages\n\nName, ISO 639-3 code (URIEL's) and family of each language with runs, as "
        "its runs' results.json recorded them (the resolved hparams), else as its recipe's yaml "
        "states them."
    )
    report.table(shown, "languages", "Language facts")
    for message in warnings:
        report.warn(message)
    for language in shown.loc[shown["family"].isna(), "language"]:
        report.warn(
            f"{language}: family unknown (set `family` in recipes/{language}/hparams/{language}.yaml): "
            "left out of the Indo-European comparison"
        )


def add_error_table(report, summary, languages, encoders):
    cells = summary.set_index(["language", "encoder"])
    expected = int(summary["expected_seeds"].iloc[0])
    text = pd.DataFrame(index=languages, columns=encoders, dtype=object)
    means = pd.DataFrame(index=languages, columns=encoders, dtype=float)
    complete = pd.DataFrame(True, index=languages, columns=encoders)
    for (language, encoder), cell in cells.iterrows():
        if language in text.index and encoder in text.columns:
            text.loc[language, encoder] = format_mean_std(
                cell["error_mean"], cell["error_std"], cell["n_seeds"], expected, cell["complete"]
            )
            means.loc[language, encoder] = cell["error_mean"]
            complete.loc[language, encoder] = bool(cell["complete"])
    metric = summary.groupby("language")["primary"].first().to_dict()
    metric = {lang: metric.get(lang, "?") for lang in languages}
    text = text.fillna("–")
    text.insert(0, "metric", [metric[lang] for lang in languages])
    text.insert(0, "language", languages)
    report.text(
        "## 1. Test error per language and encoder\n\nPrimary metric of each language (CER for "
        "languages written without spaces, WER otherwise), mean ± sample std over seeds; a cell with "
        "missing seeds says how many it has."
    )
    report.table(text, "error_matrix", "Mean test error (%)")
    report.table(summary, "cell_summary", "Per cell: WER, CER and primary error, mean and std over seeds", embed=False)
    png = figures.error_heatmap(means, complete, metric, report.out / "figures" / "error_heatmap")
    report.figure(png, "Test error per language and encoder")
    for language, errors in means.iterrows():
        errors = errors.dropna()
        if len(errors) and (errors >= 100).all():
            report.warn(
                f"{language}: every model's {metric[language]} is 100 or more, no better than empty output: "
                "its models are degenerate (undertrained or broken), and no ranking of its encoders means anything."
            )
        elif (errors >= 100).any():
            report.text(
                f"{language}: {', '.join(errors.index[errors >= 100])} at {metric[language]} >= 100 "
                "(no better than empty output): degenerate, not to be ranked."
            )
        best = errors[errors < 100]
        tied = best.index[best == best.min()] if len(best) else []
        if len(tied) > 1:
            report.text(f"{language}: tie for the lowest error ({best.min():.2f}) between {', '.join(tied)}.")


def add_size_diversity(report, summary, registry, n_resamples):
    cells, correlations = size_and_diversity(summary, registry, n_resamples=n_resamples)
    report.text(
        "## 2. Size vs diversity of the pre-training data\n\nSpearman's rho between the test error "
        "and the pre-training hours / number of pre-training languages of the pre-trained encoders "
        "(negative: more is better). Per language across encoders (95% percentile bootstrap CI "
        "over encoders) and pooled over languages on the error relative to the language's mean "
        "(95% cluster-bootstrap CI over languages; no p-value, the cells of a language are not "
        "independent)."
    )
    if cells.empty:
        report.text(
            "Not available: no runs of the registry's pre-trained encoders with their own weights (runs "
            "whose weights were replaced, named <encoder>~<source> in section 1, carry none of the registry's "
            "pre-training facts)."
        )
        return
    unverified = {
        name: sorted(set(registry[name].get("unverified", [])) & set(PREDICTORS))
        for name in sorted(cells["encoder"].unique())
    }
    unverified = [f"{name} ({', '.join(fields)})" for name, fields in unverified.items() if fields]
    if unverified:
        report.text(
            "Registry values not confirmed by the model cards (hparams/encoders.yaml `unverified`): "
            + "; ".join(unverified)
            + "."
        )
    report.table(
        correlations, "size_vs_diversity", "Spearman correlations of error with pre-training size and diversity"
    )
    png = figures.size_diversity_scatter(cells, correlations, report.out / "figures" / "size_vs_diversity")
    report.figure(png, "Error relative to the language mean against pre-training hours and languages")


def add_indo_european(report, summary, registry, facts, metric):
    families = known_facts(facts, "family")
    unknown = sorted(set(summary["language"]) - set(families))
    table = indo_european_gap(summary[~summary["language"].isin(unknown)], registry, families, metric)
    report.text(
        f"## 3. Indo-European vs other languages\n\nGap = mean {metric} of the other languages - "
        f"mean {metric} of the Indo-European ones (language means over seeds; positive: "
        "Indo-European languages do better). p: exact two-sided permutation test of the difference "
        "in means over the assignment of languages to the groups (languages are the independent "
        "units; seeds are averaged first); ci_low, ci_high: 95% bootstrap interval of the gap, "
        "languages resampled within each group; p_holm: Holm-adjusted over encoders. "
        f"{metric} is used for every language so that the two groups are measured alike. "
        "Families are those of the Languages table"
        + (f"; left out, their family unknown: {', '.join(unknown)}." if unknown else ".")
    )
    report.table(table, "indo_european_gap", "Indo-European vs other languages per encoder", digits=3)
    no_gap = table.iloc[:-1].loc[~np.isfinite(table.iloc[:-1]["gap"].to_numpy(dtype=float)), "encoder"]
    if len(no_gap):
        report.text(
            f"No gap for {', '.join(no_gap)}: no run on an Indo-European language or none on another "
            "(both groups are needed)."
        )
    png = figures.indo_european_gap_intervals(table, report.out / "figures" / "indo_european_gap")
    if png is None:
        report.text("No figure: no encoder has runs on both Indo-European and other languages.")
    else:
        report.figure(png, "Error gap between other and Indo-European languages per encoder, 95% intervals")


def add_transfer(report, summary, registry, facts, typology_file, n_resamples):
    report.text(
        "## 4. Transfer of monolingual encoders\n\nRelative improvement over the no-pretraining "
        "baseline, (baseline - encoder) / baseline of the primary error, against the similarity "
        "(1 - URIEL distance, urielplus) of the encoder's pre-training language to the target "
        "language. Spearman's rho over all (encoder, target) pairs, 95% cluster-bootstrap CI over "
        "target languages (the p-value treats pairs as independent; read the CI)."
    )
    try:
        distances = load_distances(typology_file)
    except FileNotFoundError as err:
        report.text(f"Not available: {err}.")
        return
    iso_codes = known_facts(facts, "iso639_3")
    pairs, correlations, left_out = monolingual_transfer(
        summary, registry, distances, iso_codes, n_resamples=n_resamples
    )
    if not left_out.empty:
        report.warn(
            f"{len(left_out)} (encoder, target) pairs left out of the transfer analysis: no ISO 639-3 "
            "code, or not in the cached distances (`python local/compute_typology.py` computes them "
            "for the recipes present)"
        )
        report.table(
            left_out, "transfer_left_out", "Pairs left out of the transfer analysis", embed=len(left_out) <= 40
        )
    if pairs.empty:
        report.text(
            "Not available: it needs runs of the no-pretraining baseline and of at least one "
            "monolingual encoder on the same languages."
        )
        return
    report.table(
        correlations, "transfer_correlations", "Correlation of relative improvement with language similarity", digits=3
    )
    report.table(pairs, "transfer_pairs", "Monolingual encoder x target language", digits=3, embed=len(pairs) <= 60)
    png = figures.transfer_scatter(pairs, PRIMARY_TRANSFER_KIND, report.out / "figures" / "transfer")
    report.figure(png, f"Improvement over no pre-training against {PRIMARY_TRANSFER_KIND} similarity")
