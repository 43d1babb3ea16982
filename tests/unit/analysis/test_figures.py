"""Figures with too few points say why instead of drawing NaN."""

import math

import pandas as pd


def drawn_figure(monkeypatch, draw, *args):
    """The matplotlib figure a figures.* function builds (captured instead of saved)."""
    from crossling_asr.analysis import figures

    captured = {}
    monkeypatch.setattr(figures, "save", lambda fig, stem: captured.setdefault("fig", fig))
    draw(*args, "unused")
    return captured["fig"]


def test_figures_with_too_few_points_say_why_instead_of_nan(monkeypatch):
    from crossling_asr.analysis import figures

    # One language, one encoder: no correlation, no mean line.
    cells = pd.DataFrame(
        {
            "language": ["es"],
            "encoder": ["xlsr-53"],
            "pretraining_hours": [56000.0],
            "n_languages": [53],
            "relative_error": [1.0],
        }
    )
    correlations = pd.DataFrame(
        [
            {
                "scope": "pooled (relative error)",
                "predictor": p,
                "n": 1,
                "rho": math.nan,
                "p_value": math.nan,
                "ci_low": math.nan,
                "ci_high": math.nan,
            }
            for p in ("pretraining_hours", "n_languages")
        ]
    )
    fig = drawn_figure(monkeypatch, figures.size_diversity_scatter, cells, correlations)
    titles = [ax.get_title() for ax in fig.axes]
    assert all("nan" not in t and t.startswith("Spearman not defined: 1 distinct value") for t in titles)
    legend = fig.axes[1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["es"]  # no entry for the undrawn mean line

    # An encoder with no Indo-European language has no gap: it is not drawn (the report says why),
    # and with no gap at all there is no figure.
    gaps = pd.DataFrame(
        {
            "encoder": ["xlsr-53", "wavlm-large", "all"],
            "gap": [3.0, math.nan, 3.0],
            "ci_low": [1.0, math.nan, 1.0],
            "ci_high": [5.0, math.nan, 5.0],
            "p_holm": [0.5, math.nan, 0.5],
        }
    )
    fig = drawn_figure(monkeypatch, figures.indo_european_gap_intervals, gaps)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["xlsr-53"] and not fig.axes[0].texts
    assert figures.indo_european_gap_intervals(gaps.iloc[1:], "unused") is None

    fig = drawn_figure(
        monkeypatch,
        figures.transfer_scatter,
        pd.DataFrame(columns=["encoder", "genetic_similarity", "relative_improvement"]),
        "genetic",
    )
    assert fig.axes[0].get_legend() is None
    assert any("no monolingual encoder" in t.get_text() for t in fig.axes[0].texts)
