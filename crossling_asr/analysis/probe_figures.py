"""The figures of the probe analyses (crossling_asr.analysis.probing), in the style of figures.py:
PNG for the Markdown and PDF for a paper, saying in the figure why anything is missing."""

import math

import numpy as np
from matplotlib.ticker import MaxNLocator

from crossling_asr.analysis.figures import legend_if_drawn, plt, save, say_why_missing

SERIES_STYLE = {
    "probe": {"color": "tab:blue", "marker": "o"},
    "fine-tuning (weighted layers)": {"color": "tab:orange", "marker": "s"},
}
PANEL_COLUMNS = 4


def layer_weight_profiles(profiles, encoders, stem):
    """One panel per encoder (in the order of `encoders`): the learned weight of each layer (0: the CNN
    feature projection) of every series, mean over languages with a ± 1 std band.

    profiles: probing.layer_profiles' table (series, encoder, layer, weight_mean, weight_std, n_languages).
    """
    shown = [name for name in encoders if name in set(profiles["encoder"])]
    columns = max(1, min(PANEL_COLUMNS, len(shown)))
    rows = max(1, math.ceil(len(shown) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    for ax, encoder in zip(axes.flat, shown):
        for (series, _), curve in profiles[profiles["encoder"] == encoder].groupby(["series", "num_layers"]):
            style = SERIES_STYLE.get(series, {"color": "tab:gray", "marker": "x"})
            mean, std = curve["weight_mean"].to_numpy(), curve["weight_std"].to_numpy()
            ax.plot(curve["layer"], mean, ms=3, lw=1, **style, label=f"{series} ({curve['n_languages'].iloc[0]} lang.)")
            if np.isfinite(std).all():
                ax.fill_between(
                    curve["layer"], np.clip(mean - std, 0, None), mean + std, color=style["color"], alpha=0.2, lw=0
                )
        ax.set_title(encoder, fontsize=8)
        ax.set_xlabel("layer (0: CNN projection)", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        legend_if_drawn(ax, fontsize=6, loc="best")
    for ax in axes.flat[len(shown) :]:
        ax.axis("off")
    if not shown:
        axes.flat[0].axis("on")
        say_why_missing(axes.flat[0], "no run with usable layer weights")
    for ax in axes[:, 0]:
        ax.set_ylabel("layer weight", fontsize=7)
    fig.suptitle("Learned layer weights (mean over languages; band: ± 1 std over languages)", fontsize=9)
    fig.tight_layout()
    return save(fig, stem)
