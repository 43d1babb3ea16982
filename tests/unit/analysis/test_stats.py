"""Statistics against independent computations: Spearman's rho from ranks computed here, the
permutation test by enumerating every assignment, the bootstrap by redoing its resamples with
scipy's spearmanr, Holm by hand."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from crossling_asr.analysis import stats
from tests.helpers.results import manual_spearman


def test_spearman_equals_pearson_of_hand_computed_ranks():
    x = [1, 4, 4, 23, 53, 128, 1, 4]
    y = [30.0, 28.0, 29.5, 22.0, 20.0, 18.0, 31.0, 27.0]
    rho, p = stats.spearman(x, y)
    assert rho == pytest.approx(manual_spearman(x, y))
    assert 0 <= p < 0.01
    assert math.isnan(stats.spearman([1, 1, 1, 1], [1, 2, 3, 4])[0])


def test_bootstrap_ci_redone_with_scipy_on_the_same_resamples():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, 24).astype(float)  # ties, as in pre-training hours
    y = -x + rng.normal(0, 1.5, 24)
    clusters = np.repeat(np.arange(8), 3)

    for labels in (None, clusters):
        low, high = stats.bootstrap_spearman_ci(x, y, labels, n_resamples=300, seed=11)
        units = np.arange(24) if labels is None else clusters
        members = [np.flatnonzero(units == u) for u in pd.unique(units)]
        picks = np.random.default_rng(11).integers(0, len(members), (300, len(members)))
        rhos = []
        for pick in picks:
            rows = np.concatenate([members[u] for u in pick])
            if np.ptp(x[rows]) > 0 and np.ptp(y[rows]) > 0:
                rhos.append(scipy_stats.spearmanr(x[rows], y[rows]).statistic)
        assert (low, high) == pytest.approx((np.quantile(rhos, 0.025), np.quantile(rhos, 0.975)))
        assert low < stats.spearman(x, y)[0] < high

    assert stats.bootstrap_spearman_ci(np.arange(10), np.arange(10) * 2.0, n_resamples=200) == (1.0, 1.0)


def test_permutation_p_value_equals_full_enumeration():
    indo_european = [10.0, 12.0, 11.0, 15.0, 9.0]
    other = [14.0, 20.0, 13.0]
    p = stats.permutation_p_value(indo_european, other)

    values = indo_european + other
    observed = np.mean(other) - np.mean(indo_european)
    null = []
    for chosen in itertools.combinations(range(len(values)), len(other)):
        b = [values[i] for i in chosen]
        a = [values[i] for i in range(len(values)) if i not in chosen]
        null.append(np.mean(b) - np.mean(a))
    null = np.array(null)
    greater = np.mean(null >= observed - 1e-9)
    less = np.mean(null <= observed + 1e-9)
    assert p == pytest.approx(min(1.0, 2 * min(greater, less)))
    assert 0 < p < 0.2


def test_holm_adjustment_by_hand():
    adjusted = stats.holm_adjust([0.01, 0.04, 0.03, float("nan")])
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 1 x 0.04)
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])
