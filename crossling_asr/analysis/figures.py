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


# The error heatmap's colour scale: fixed, so that colours mean the same in every report (an
# auto-ranged scale shows 99.6-100 at full contrast); errors above its top are drawn in its top colour.
ERROR_SCALE = (0.0, 100.0)


def text_colour_on(rgba):
    """Black or white, whichever contrasts more with a background colour (WCAG relative luminance)."""

    def linear(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgba[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "white"


def error_heatmap(means, complete, metric_of_language, stem):
    """Languages x encoders heatmap of mean test error on a fixed 0-100 colour scale (ERROR_SCALE);
    '*' marks cells with missing seeds; each value is written in the colour that contrasts with its cell.

    means, complete: DataFrames (index languages, columns encoders) of mean
    errors and of complete-seed flags; metric_of_language: {language: 'WER'|'CER'}.
    """
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * means.shape[1], 1.2 + 0.45 * means.shape[0]))
    cmap = plt.get_cmap("viridis_r")
    norm = matplotlib.colors.Normalize(*ERROR_SCALE, clip=True)
    image = ax.imshow(np.ma.masked_invalid(means.to_numpy(dtype=float)), cmap=cmap, norm=norm, aspect="auto")
    for i, language in enumerate(means.index):
        for j, encoder in enumerate(means.columns):
            value = means.loc[language, encoder]
            if np.isfinite(value):
                mark = "" if complete.loc[language, encoder] else "*"
                colour = text_colour_on(cmap(norm(value)))
                ax.text(j, i, f"{value:.1f}{mark}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(means.shape[1]), means.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(means.shape[0]), [f"{lang} ({metric_of_language[lang]})" for lang in means.index], fontsize=8)
    fig.colorbar(
        image, ax=ax, extend="max", label=f"test error rate (%)\nfixed scale {ERROR_SCALE[0]:g}-{ERROR_SCALE[1]:g}"
    )
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


def indo_european_gap_intervals(table, stem):
    """Per-encoder gap mean(other) - mean(Indo-European) with its 95% bootstrap interval ('*':
    Holm-adjusted p < 0.05). Only encoders with a gap are drawn; the caller says which are not (an
    encoder without runs on both groups has none). None when no encoder has a gap: no empty plot."""
    rows = table.iloc[:-1]  # the per-encoder rows (the last row pools all encoders)
    rows = rows[np.isfinite(rows["gap"].to_numpy(dtype=float))]
    if rows.empty:
        return None
    fig, ax = plt.subplots(figsize=(1.5 + 0.5 * len(rows), 4))
    x = np.arange(len(rows))
    gaps = rows["gap"].to_numpy(dtype=float)
    low, high = rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float)
    has_interval = np.isfinite(low) & np.isfinite(high)
    if has_interval.any():
        ax.errorbar(
            x[has_interval],
            gaps[has_interval],
            yerr=[gaps[has_interval] - low[has_interval], high[has_interval] - gaps[has_interval]],
            fmt="o",
            color="tab:blue",
            capsize=3,
            label="gap, 95% bootstrap interval",
        )
    if not has_interval.all():
        ax.plot(
            x[~has_interval],
            gaps[~has_interval],
            "o",
            mfc="none",
            color="tab:blue",
            label="gap (no interval: fewer than 2 languages in a group)",
        )
    for i, (top, p) in enumerate(zip(np.where(has_interval, high, gaps), rows["p_holm"])):
        if np.isfinite(p) and p < 0.05:
            ax.text(i, top, "*", ha="center", va="bottom")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, rows["encoder"], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("error gap, other - Indo-European (points)")
    ax.set_title("Indo-European vs other languages (* Holm p < 0.05)")
    legend_if_drawn(ax, fontsize=7)
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
