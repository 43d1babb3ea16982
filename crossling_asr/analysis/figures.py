"""The report's figures, each saved as PNG (for the Markdown) and PDF (for a paper).

Every function takes the table it plots and an output path without suffix,
and returns the PNG path. With too few data points a figure draws what
exists and says in the figure why the rest is missing (no "nan" statistic,
no legend entry for a line that is not drawn, no silently empty axis).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# 20 distinguishable colours: up to 18 languages or 11 monolingual encoders in one plot.
DISTINCT_COLORS = plt.get_cmap("tab20")


def say_why_missing(ax, text):
    """Write in the axis why it shows less than expected."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.3", wrap=True)


def legend_if_drawn(ax, **kwargs):
    """A legend only when something labelled was drawn."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def save(fig, stem):
    """Write <stem>.png and <stem>.pdf; returns the PNG path."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(stem.with_suffix(".png"), dpi=150, bbox_inches="tight")
    fig.savefig(stem.with_suffix(".pdf"), bbox_inches="tight")
    plt.close(fig)
    return stem.with_suffix(".png")


def error_heatmap(means, complete, metric_of_language, stem):
    """Languages x encoders heatmap of mean test error; '*' marks cells with missing seeds.

    means, complete: DataFrames (index languages, columns encoders) of mean
    errors and of complete-seed flags; metric_of_language: {language: 'WER'|'CER'}.
    """
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * means.shape[1], 1.2 + 0.45 * means.shape[0]))
    image = ax.imshow(np.ma.masked_invalid(means.to_numpy(dtype=float)), cmap="viridis_r", aspect="auto")
    for i, language in enumerate(means.index):
        for j, encoder in enumerate(means.columns):
            value = means.loc[language, encoder]
            if np.isfinite(value):
                mark = "" if complete.loc[language, encoder] else "*"
                ax.text(j, i, f"{value:.1f}{mark}", ha="center", va="center", fontsize=7, color="white")
    ax.set_xticks(range(means.shape[1]), means.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(means.shape[0]), [f"{lang} ({metric_of_language[lang]})" for lang in means.index], fontsize=8)
    fig.colorbar(image, ax=ax, label="test error rate (%)")
    ax.set_title("Test error per language and encoder (mean over seeds; * = seeds missing)")
    return save(fig, stem)


def size_diversity_scatter(cells, correlations, stem):
    """Relative error against pre-training hours and against pre-training languages (log x)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    pooled = correlations[correlations["scope"].str.startswith("pooled")].set_index("predictor")
    for ax, predictor, label in zip(
        axes, ("pretraining_hours", "n_languages"), ("pre-training hours", "pre-training languages")
    ):
        for i, (language, group) in enumerate(cells.groupby("language")):
            ax.scatter(
                group[predictor],
                group["relative_error"],
                s=14,
                alpha=0.6,
                label=language,
                color=DISTINCT_COLORS(i % DISTINCT_COLORS.N),
            )
        means = cells.groupby(predictor)["relative_error"].mean()
        if len(means) >= 2:  # one value of the predictor: no line to draw
            ax.plot(means.index, means.to_numpy(), "k-", lw=1, label="mean over languages")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        if cells.empty:
            say_why_missing(ax, "no finished runs of pre-trained encoders")
        row = pooled.loc[predictor] if predictor in pooled.index else None
        if row is not None and np.isfinite(row["rho"]):
            ax.set_title(f"Spearman {row['rho']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]")
        else:
            ax.set_title(
                f"Spearman not defined: {cells[predictor].nunique()} distinct value(s) of the "
                f"predictor in {cells['language'].nunique()} language(s)",
                fontsize=8,
            )
    axes[0].set_ylabel("test error / language mean")
    legend_if_drawn(axes[1], fontsize=6, ncol=2, loc="best")
    return save(fig, stem)


def indo_european_gap_bars(table, stem):
    """Per-encoder gap mean(other) - mean(Indo-European); '*' marks Holm-adjusted p < 0.05."""
    rows = table.iloc[:-1]  # the per-encoder rows (the last row pools all encoders)
    fig, ax = plt.subplots(figsize=(1.5 + 0.5 * len(rows), 4))
    ax.bar(range(len(rows)), rows["gap"], color=["tab:blue" if g >= 0 else "tab:red" for g in rows["gap"]])
    for i, (gap, p) in enumerate(zip(rows["gap"], rows["p_holm"])):
        if not np.isfinite(gap):
            ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
        elif np.isfinite(p) and p < 0.05:
            ax.text(i, gap, "*", ha="center", va="bottom" if gap >= 0 else "top")
    if not np.isfinite(rows["gap"].to_numpy(dtype=float)).all():
        say_why_missing(ax, "n/a: the encoder has no runs on an Indo-European language or none on another")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(rows)), rows["encoder"], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("error gap, other - Indo-European (points)")
    ax.set_title("Indo-European vs other languages (* Holm p < 0.05)")
    return save(fig, stem)


def transfer_scatter(pairs, kind, stem):
    """Relative improvement of monolingual encoders over the baseline against language similarity."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (encoder, group) in enumerate(pairs.groupby("encoder")):
        ax.scatter(
            group[f"{kind}_similarity"],
            100 * group["relative_improvement"],
            s=18,
            label=encoder,
            color=DISTINCT_COLORS(i % DISTINCT_COLORS.N),
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel(f"{kind} similarity to the pre-training language (1 - URIEL distance)")
    ax.set_ylabel("improvement over no pre-training (%)")
    if pairs.empty:
        say_why_missing(ax, "no monolingual encoder with a no-pretraining baseline on the same language")
    legend_if_drawn(ax, fontsize=7)
    ax.set_title("Monolingual encoders on other languages")
    return save(fig, stem)
