"""The report's guards: ties are not broken by name, the error heatmap's colours mean the same in
every report and its numbers stay legible, the Indo-European gap has an interval."""

import math

import numpy as np
import pandas as pd
import pytest

from crossling_asr.analysis import figures
from crossling_asr.analysis.probing import best_named, top_k_agreement
from crossling_asr.analysis.stats import bootstrap_gap_ci


def test_a_tie_at_the_top_is_no_agreement_and_is_named():
    probe = np.array([10.0, 20.0, 30.0, 40.0])
    fine_tuning = np.array([100.0, 100.0, 50.0, 60.0])  # two fine-tunes tied... at the worst place
    everyone = np.arange(4)
    assert top_k_agreement(probe, fine_tuning, everyone, 1) == 0.0
    tied_best = np.array([100.0, 100.0, 150.0, 160.0])
    assert math.isnan(top_k_agreement(probe, tied_best, everyone, 1))  # not 1.0 by the first name
    assert best_named(np.array(["a", "b", "c", "d"]), tied_best) == "tie: a, b"
    assert best_named(np.array(["a", "b", "c", "d"]), probe) == "a"


def test_heatmap_has_a_fixed_labelled_scale_and_contrasting_text(monkeypatch):
    captured = {}
    monkeypatch.setattr(figures, "save", lambda fig, stem: captured.setdefault("fig", fig))
    means = pd.DataFrame({"xlsr-53": [99.6, 5.0], "wavlm-large": [100.0, 60.0]}, index=["es", "de"])
    figures.error_heatmap(means, means.notna(), {"es": "WER", "de": "WER"}, "unused")
    ax = captured["fig"].axes[0]
    (image,) = ax.get_images()
    assert (image.norm.vmin, image.norm.vmax) == (0.0, 100.0)  # 99.6-100 is not stretched to full contrast
    assert "fixed scale 0-100" in captured["fig"].axes[1].get_ylabel()
    colours = {text.get_text(): text.get_color() for text in ax.texts}
    # viridis_r: low errors are yellow (black text), high errors dark purple (white text)
    assert colours["5.0"] == "black" and colours["99.6"] == "white" and colours["100.0"] == "white"
    assert figures.text_colour_on((1.0, 1.0, 0.0, 1.0)) == "black"
    assert figures.text_colour_on((0.1, 0.0, 0.3, 1.0)) == "white"


def test_gap_interval_matches_an_independent_loop():
    ie, other = [10.0, 12.0, 15.0], [20.0, 26.0]
    low, high = bootstrap_gap_ci(ie, other, n_resamples=300, seed=4)
    rng = np.random.default_rng(4)
    picks_ie = rng.integers(0, 3, (300, 3))
    picks_other = rng.integers(0, 2, (300, 2))
    gaps = [sum(other[j] for j in picks_other[r]) / 2 - sum(ie[j] for j in picks_ie[r]) / 3 for r in range(300)]
    assert (low, high) == pytest.approx((np.quantile(gaps, 0.025), np.quantile(gaps, 0.975)))
    assert all(math.isnan(v) for v in bootstrap_gap_ci([1.0], other))
