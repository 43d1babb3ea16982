"""Aggregation, statistics and report on hand-made results.json files with known answers.

Every statistic is checked against a value computed here independently:
means and standard deviations by hand, Spearman's rho from ranks computed in
the test, the permutation test by enumerating every assignment, the
bootstrap by redoing its resamples with scipy's spearmanr, Holm by hand.
"""

import itertools
import json
import logging
import math
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from scipy import stats as scipy_stats

from crossling_asr.analysis import aggregate, recipe_readmes, stats
from crossling_asr.analysis.report import build_report
from crossling_asr.analysis.typology import TYPOLOGY_FILE, iso639_3_of, language_facts, load_distances
from crossling_asr.hparams import read_language_data, recipe_languages
from crossling_asr.registry import load_registry

REGISTRY = load_registry()
# The study's grouping, as the recipes' yamls state it.
FAMILIES = {"es": "Indo-European", "de": "Indo-European", "fr": "Indo-European", "ja": "Japonic", "th": "Kra-Dai"}


def results_object(language, encoder, seed, wer, cer=None, primary="WER", status="finished", **hparams):
    """A schema-1 results.json object with the given test error rates."""
    cer = wer / 2 if cer is None else cer
    return {
        "schema_version": 1,
        "status": status,
        "run": {
            "language": language,
            "encoder": encoder,
            "seed": seed,
            "encoder_family": "Wav2Vec2Model",
            "random_init": encoder == "no-pretraining",
            "output_folder": f"/r/{language}/{encoder}/seed_{seed}",
        },
        "metrics": {
            "primary": primary,
            "wer_meaningful": primary == "WER",
            "test": {"WER": wer, "CER": cer, "loss": 1.0, "n_utterances": 10},
            "dev_best": {"WER": wer, "CER": cer, "epoch": 1},
        },
        "data": {
            "splits": {
                s: {"utterances": 10, "hours": 0.5, "speakers": 2, "skipped": {}} for s in ("train", "dev", "test")
            }
        },
        "training": {"epochs": 1, "optimizer_steps": 5, "wall_seconds": 10.0},
        "hparams": {
            "number_of_epochs": 1,
            "seed": seed,
            "output_folder": f"/r/{language}/{encoder}/seed_{seed}",
            **hparams,
        },
    }


def write_results(root, results, folder=None):
    run = results["run"]
    folder = root / (folder or f"{run['language']}/{run['encoder']}/seed_{run['seed']}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results))
    return folder / "results.json"


def test_other_protocols_and_replaced_weights_are_set_aside_unless_asked(tmp_path):
    write_results(tmp_path, results_object("es", "xlsr-53", 1, 10.0))
    write_results(
        tmp_path,
        results_object("es", "xlsr-53", 1, 20.0, protocol="stock", run_name="xlsr-53.stock"),
        folder="es/xlsr-53.stock/seed_1",
    )
    tiny = results_object("es", "xlsr-53", 1, 90.0, run_name="xlsr-53~wav2vec2-abc123")
    tiny["run"]["encoder_source"] = "/somewhere/wav2vec2"
    write_results(tmp_path, tiny, folder="es/xlsr-53~wav2vec2-abc123/seed_1")

    study = aggregate.collect(tmp_path)
    assert list(study.runs["error"]) == [10.0]
    reasons = dict(zip(study.set_aside["run"], study.set_aside["reason"]))
    assert reasons["es/xlsr-53.stock/seed_1"].startswith("protocol stock")
    assert "/somewhere/wav2vec2" in reasons["es/xlsr-53~wav2vec2-abc123/seed_1"]

    stock = aggregate.collect(tmp_path, protocol="stock")
    assert list(stock.runs["error"]) == [20.0] and len(stock.set_aside) == 2
    # A run set aside for two reasons names both.
    both = dict(zip(stock.set_aside["run"], stock.set_aside["reason"]))["es/xlsr-53~wav2vec2-abc123/seed_1"]
    assert both.startswith("protocol study") and "; encoder weights from /somewhere/wav2vec2" in both
    with_tiny = aggregate.collect(tmp_path, include_replaced_sources=True)
    assert sorted(zip(with_tiny.runs["encoder"], with_tiny.runs["error"])) == [
        ("xlsr-53", 10.0),
        ("xlsr-53~wav2vec2-abc123", 90.0),
    ]


def manual_ranks(values):
    """Average ranks (1-based; ties share the mean of their positions), computed by hand."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    position = 0
    while position < len(order):
        end = position
        while end + 1 < len(order) and values[order[end + 1]] == values[order[position]]:
            end += 1
        for k in range(position, end + 1):
            ranks[order[k]] = (position + end) / 2 + 1
        position = end + 1
    return ranks


def manual_spearman(x, y):
    rx, ry = manual_ranks(list(x)), manual_ranks(list(y))
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))


# ---- aggregation -------------------------------------------------------------------


def test_mean_std_over_seeds_and_incomplete_cells(tmp_path):
    for seed, wer in zip((1, 2, 3), (10.0, 12.0, 17.0)):
        write_results(tmp_path, results_object("es", "xlsr-53", seed, wer))
    for seed, wer in zip((1, 2), (30.0, 34.0)):
        write_results(tmp_path, results_object("de", "xlsr-53", seed, wer))
    for seed in (1, 2, 4):  # three seeds, but not the expected ones
        write_results(tmp_path, results_object("it", "xlsr-53", seed, 20.0))

    collection = aggregate.collect(tmp_path)
    assert len(collection.runs) == 8 and collection.rejected.empty
    summary = aggregate.summarize(collection.runs, expected_seeds=[1, 2, 3]).set_index("language")

    es = summary.loc["es"]
    assert es["WER_mean"] == pytest.approx(13.0)
    assert es["WER_std"] == pytest.approx(math.sqrt(((10 - 13) ** 2 + (12 - 13) ** 2 + (17 - 13) ** 2) / 2))
    assert es["CER_mean"] == pytest.approx(6.5)
    assert es["error_mean"] == pytest.approx(13.0)  # WER is the primary metric here
    assert (es["n_seeds"], es["complete"]) == (3, True)

    de = summary.loc["de"]
    assert de["WER_mean"] == pytest.approx(32.0)
    assert de["WER_std"] == pytest.approx(math.sqrt(8.0))
    assert (de["n_seeds"], de["seeds"], de["complete"]) == (2, "1,2", False)
    assert (
        aggregate.format_mean_std(de["error_mean"], de["error_std"], 2, 3, de["complete"]) == "32.00 ± 2.83 (2/3 seeds)"
    )
    assert aggregate.format_mean_std(13.0, 1.0, 3, 3, True) == "13.00 ± 1.00"

    assert (summary.loc["it", "n_seeds"], summary.loc["it", "complete"]) == (3, False)

    missing = aggregate.missing_runs(collection.runs, ["es", "de", "it"], ["xlsr-53"], [1, 2, 3])
    assert missing.to_dict("records") == [
        {"language": "de", "encoder": "xlsr-53", "seed": 3},
        {"language": "it", "encoder": "xlsr-53", "seed": 3},
    ]


def test_unusable_results_are_rejected_with_a_reason(tmp_path):
    write_results(tmp_path, results_object("es", "xlsr-53", 1, 10.0))
    write_results(tmp_path, results_object("es", "xlsr-53", 2, 10.0, status="running"))
    old = results_object("es", "xlsr-53", 3, 10.0)
    old["schema_version"] = 0
    write_results(tmp_path, old)
    write_results(tmp_path, results_object("es", "wavlm-large", 1, float("nan")))
    write_results(tmp_path, results_object("es", "wavlm-large", 2, 11.0), folder="es/wavlm-large/seed_3")
    broken = tmp_path / "es" / "hubert-large-ll60k" / "seed_1"
    broken.mkdir(parents=True)
    (broken / "results.json").write_text('{"status": "finish')

    collection = aggregate.collect(tmp_path)
    assert collection.runs[["language", "encoder", "seed"]].values.tolist() == [["es", "xlsr-53", 1]]
    reasons = {
        re.sub(r".*/(es/[^/]+/seed_\d)/results.json", r"\1", p): r
        for p, r in zip(collection.rejected["path"], collection.rejected["reason"])
    }
    assert "not 'finished'" in reasons["es/xlsr-53/seed_2"]
    assert "schema_version" in reasons["es/xlsr-53/seed_3"]
    assert "non-finite" in reasons["es/wavlm-large/seed_1"]
    assert "run name mismatch" in reasons["es/wavlm-large/seed_3"]
    assert "unreadable" in reasons["es/hubert-large-ll60k/seed_1"]


def test_duplicates_counted_once_and_differing_settings_reported(tmp_path):
    kept = write_results(tmp_path, results_object("es", "xlsr-53", 1, 10.0))
    write_results(tmp_path, results_object("es", "xlsr-53", 1, 10.0), folder="backup/es/xlsr-53/seed_1")
    write_results(tmp_path, results_object("es", "xlsr-53", 1, 11.0), folder="old/es/xlsr-53/seed_1")
    write_results(tmp_path, results_object("es", "xlsr-53", 2, 12.0, number_of_epochs=3))

    collection = aggregate.collect(tmp_path)
    assert len(collection.runs) == 2
    assert collection.runs.set_index("seed").loc[1, "path"] == str(kept)
    duplicates = collection.duplicates.set_index("duplicate")["identical"]
    assert duplicates[str(tmp_path / "backup/es/xlsr-53/seed_1/results.json")]
    assert not duplicates[str(tmp_path / "old/es/xlsr-53/seed_1/results.json")]
    # Paths differ between seeds by construction (output_folder) and are not reported.
    conflicts = collection.conflicts
    assert conflicts["setting"].tolist() == ["hparams.number_of_epochs"]
    assert conflicts["values"].iloc[0] == "seed 1: 1; seed 2: 3"


# ---- statistics ---------------------------------------------------------------------


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


def summary_of(cells, metric_of=lambda lang: "WER"):
    """A summarize()-shaped table from {(language, encoder): error} (one seed per cell)."""
    runs = pd.DataFrame(
        [
            {
                "language": lang,
                "encoder": enc,
                "seed": 1,
                "primary": metric_of(lang),
                "error": err,
                "WER": err,
                "CER": err / 2,
            }
            for (lang, enc), err in cells.items()
        ]
    )
    return aggregate.summarize(runs)


def test_indo_european_gap_per_encoder():
    summary = summary_of(
        {
            ("es", "xlsr-53"): 10.0,
            ("de", "xlsr-53"): 12.0,
            ("fr", "xlsr-53"): 14.0,
            ("ja", "xlsr-53"): 20.0,
            ("th", "xlsr-53"): 30.0,
            ("es", "no-pretraining"): 50.0,
            ("ja", "no-pretraining"): 70.0,
        }
    )
    table = stats.indo_european_gap(summary, REGISTRY, FAMILIES, metric="WER").set_index("encoder")
    row = table.loc["xlsr-53"]
    assert (row["n_indo_european"], row["n_other"]) == (3, 2)
    assert row["gap"] == pytest.approx(25.0 - 12.0)
    assert row["p_value"] == pytest.approx(stats.permutation_p_value([10, 12, 14], [20, 30]))
    # 5 languages, 2 "other": C(5,2) = 10 assignments; ours is the most extreme of both tails' 1.
    assert row["p_value"] == pytest.approx(0.2)
    assert table.loc["no-pretraining", "gap"] == pytest.approx(20.0)
    pooled = table.loc["all pre-trained (language means)"]  # the baseline is left out
    assert pooled["gap"] == pytest.approx(row["gap"])
    assert math.isnan(pooled["p_holm"])
    with pytest.raises(ValueError, match="family unknown for ja"):
        stats.indo_european_gap(summary, REGISTRY, {**FAMILIES, "ja": None}, metric="WER")


def test_size_and_diversity_correlations():
    encoders = [
        "wav2vec2-large-lv60",
        "unispeech-large-multi-lingual-1500h-cv",
        "voxpopuli-100k",
        "xlsr-53",
        "xls-r-300m",
    ]
    errors = {"es": [30.0, 28.0, 25.0, 22.0, 20.0], "ja": [40.0, 41.0, 35.0, 30.0, 33.0]}
    cells = {(lang, enc): err for lang, errs in errors.items() for enc, err in zip(encoders, errs)}
    cells[("es", "no-pretraining")] = 90.0
    cells_table, table = stats.size_and_diversity(summary_of(cells), REGISTRY, n_resamples=200)
    assert "no-pretraining" not in set(cells_table["encoder"])
    table = table.set_index(["scope", "predictor"])
    for predictor in ("pretraining_hours", "n_languages"):
        x = [REGISTRY[enc][predictor] for enc in encoders]
        for lang, errs in errors.items():
            assert table.loc[(lang, predictor), "rho"] == pytest.approx(manual_spearman(x, errs))
        relative = [e / np.mean(errs) for errs in errors.values() for e in errs]
        pooled = table.loc[("pooled (relative error)", predictor)]
        assert pooled["rho"] == pytest.approx(manual_spearman(x * 2, relative))
        assert pooled["n"] == 10 and math.isnan(pooled["p_value"])
    assert table.loc[("es", "n_languages"), "rho"] == pytest.approx(-1.0)


def test_monolingual_transfer_relative_improvement_and_similarity():
    summary = summary_of(
        {
            ("es", "no-pretraining"): 50.0,
            ("de", "no-pretraining"): 60.0,
            ("fr", "no-pretraining"): 40.0,
            ("es", "wav2vec2-large-lv60"): 30.0,
            ("de", "wav2vec2-large-lv60"): 30.0,
            ("fr", "wav2vec2-large-lv60"): 30.0,
            ("es", "voxpopuli-fr"): 25.0,
            ("de", "voxpopuli-fr"): 45.0,
            ("fr", "voxpopuli-fr"): 20.0,
            ("es", "xlsr-53"): 10.0,  # multilingual: not part of this analysis
            # left out: Italian has no ISO 639-3 code here, Dutch's is not in the distances
            ("it", "no-pretraining"): 50.0,
            ("it", "voxpopuli-fr"): 30.0,
            ("nl", "no-pretraining"): 50.0,
            ("nl", "voxpopuli-fr"): 30.0,
        }
    )
    codes = ["eng", "spa", "fra", "deu"]
    genetic = pd.DataFrame(
        [[0.0, 0.9, 0.9, 0.6], [0.9, 0.0, 0.5, 0.9], [0.9, 0.5, 0.0, 0.9], [0.6, 0.9, 0.9, 0.0]],
        index=codes,
        columns=codes,
    )
    iso_codes = {"en": "eng", "es": "spa", "fr": "fra", "de": "deu", "it": None, "nl": "nld"}
    pairs, correlations, left_out = stats.monolingual_transfer(
        summary, REGISTRY, {"genetic": genetic}, iso_codes, n_resamples=200
    )
    assert left_out.to_dict("records") == [
        {"encoder": "voxpopuli-fr", "language": "it", "reason": "no ISO 639-3 code for it"},
        {"encoder": "voxpopuli-fr", "language": "nl", "reason": "nld not in the cached distances"},
    ]

    by_pair = pairs.set_index(["encoder", "language"])
    expected = {
        ("wav2vec2-large-lv60", "es"): (0.4, 0.1),
        ("wav2vec2-large-lv60", "de"): (0.5, 0.4),
        ("wav2vec2-large-lv60", "fr"): (0.25, 0.1),
        ("voxpopuli-fr", "es"): (0.5, 0.5),
        ("voxpopuli-fr", "de"): (0.25, 0.1),
        ("voxpopuli-fr", "fr"): (0.5, 1.0),
    }
    assert set(by_pair.index) == set(expected)
    for key, (improvement, similarity) in expected.items():
        assert by_pair.loc[key, "relative_improvement"] == pytest.approx(improvement)
        assert by_pair.loc[key, "genetic_similarity"] == pytest.approx(similarity)
    assert bool(by_pair.loc[("voxpopuli-fr", "fr"), "same_language"])
    row = correlations.set_index("similarity").loc["genetic"]
    improvements, similarities = zip(*expected.values())
    assert row["rho"] == pytest.approx(manual_spearman(similarities, improvements))
    assert row["n_pairs"] == 6 and row["share_positive_transfer"] == 1.0


# ---- language data and report ---------------------------------------------------------


def test_iso_code_of_a_language_or_of_its_first_part():
    codes = {
        "sv-SE": "swe",
        "zh-CN": "cmn",
        "zh-TW": "cmn",
        "pt": "por",
        "pt-BR": "por",
        "xx-A": "aaa",
        "xx-B": "bbb",
        "yy": None,
    }
    assert [iso639_3_of(c, codes) for c in ("sv-SE", "sv", "zh", "pt", "xx", "yy", "en")] == [
        "swe",
        "swe",
        "cmn",
        "por",
        None,
        None,
        None,
    ]  # xx: its languages disagree


def test_typology_languages_are_the_recipes_that_state_a_code(tmp_path):
    """local/compute_typology.py computes the recipes' languages under their yamls' codes, leaving out the rest."""
    from crossling_asr.analysis.typology import recipe_iso_codes

    for code, iso in (("ca", "cat"), ("eu", None)):
        (tmp_path / code / "hparams").mkdir(parents=True)
        (tmp_path / code / "hparams" / f"{code}.yaml").write_text(f"language: {code}\niso639_3: {iso or 'null'}\n")
    (tmp_path / "notes").mkdir()  # a folder without a language file is no recipe
    assert recipe_iso_codes(tmp_path) == ({"ca": "cat"}, ["eu"])


def test_cached_typology_covers_the_recipes_languages():
    """Every recipe's yaml states the ISO 639-3 code the cache holds its distances under."""
    cached = json.loads(TYPOLOGY_FILE.read_text())
    recipes = {lang: read_language_data(lang)["iso639_3"] for lang in recipe_languages()}
    assert cached["languages"] == recipes
    assert [recipes[c] for c in ("ar", "fa", "zh-CN", "sv-SE", "et")] == ["arb", "pes", "cmn", "swe", "est"]
    distances = load_distances(TYPOLOGY_FILE)
    codes = set(recipes.values())
    assert set(distances) == {"genetic", "syntactic", "featural", "geographic"}
    for matrix in distances.values():
        assert set(matrix.index) == set(matrix.columns) == codes
        values = matrix.loc[sorted(codes), sorted(codes)].to_numpy()
        assert np.allclose(values, values.T) and np.all(np.diag(values) == 0)
        assert values.min() >= 0 and values.max() <= 1
    genetic = distances["genetic"]
    assert genetic.loc["spa", "por"] < genetic.loc["spa", "deu"] < genetic.loc["spa", "jpn"] == 1.0
    assert json.loads(TYPOLOGY_FILE.read_text())["command"] == "python local/compute_typology.py"


def test_report_embeds_every_table_and_figure(tmp_path):
    root = tmp_path / "results"
    rng = np.random.default_rng(0)
    encoders = ["wav2vec2-large-lv60", "voxpopuli-fr", "xlsr-53", "xls-r-300m", "no-pretraining"]
    for lang in ("es", "de", "fr", "ja", "th"):
        primary = "CER" if lang in ("ja", "th") else "WER"
        for enc in encoders:
            for seed in (1, 2):
                wer = 60.0 if enc == "no-pretraining" else 25.0 + rng.normal(0, 2)
                write_results(root, results_object(lang, enc, seed, wer, primary=primary))
    out = tmp_path / "report"
    path = build_report(root, out, seeds=[1, 2, 3], n_resamples=100)

    text = path.read_text()
    for heading in ("## Runs", "## 1.", "## 2.", "## 3.", "## 4."):
        assert heading in text
    assert "(2/3 seeds)" in text  # every cell lacks seed 3: flagged, not averaged silently
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert len(images) == 4
    for image in images:
        assert not image.startswith("/") and (out / image).is_file()
        assert (out / image).with_suffix(".pdf").is_file()
    for link in re.findall(r"\]\((tables/[^)]+)\)", text):
        assert (out / link).is_file()
    transfer = pd.read_csv(out / "tables" / "transfer_correlations.csv")
    assert set(transfer["similarity"]) == {"genetic", "syntactic", "featural", "geographic"}


def facts_of(language):
    """The hparams a run of one of FAMILIES' languages records about its language."""
    iso = {"es": "spa", "de": "deu", "fr": "fra", "ja": "jpn", "th": "tha"}[language]
    return {"language_name": language, "iso639_3": iso, "family": FAMILIES[language]}


def ie_gap_by_hand(errors, indo_european):
    """(n_ie, n_other, mean(other) - mean(Indo-European)) of {language: error}."""
    ie = [e for lang, e in errors.items() if lang in indo_european]
    other = [e for lang, e in errors.items() if lang not in indo_european]
    return len(ie), len(other), sum(other) / len(other) - sum(ie) / len(ie)


def test_language_added_with_new_language_is_indo_european_in_the_report(tmp_path):
    """Catalan scaffolded by local/new_language.py (family from URIEL) joins the Indo-European group,
    although its results.json (written before the facts existed) records no family."""
    from crossling_asr.new_language.scaffold import create_recipe

    recipes = tmp_path / "recipes"
    create_recipe("ca", alphabet="a-zàçèéíïòóúü", word_internal="'·", recipes_dir=recipes, echo=lambda line: None)
    errors = {"es": 10.0, "de": 14.0, "ca": 12.0, "ja": 30.0, "th": 20.0}
    root = tmp_path / "results"
    for lang, error in errors.items():
        facts = {} if lang == "ca" else facts_of(lang)
        write_results(root, results_object(lang, "xlsr-53", 1, error, cer=error, **facts))
    build_report(root, tmp_path / "report", n_resamples=50, recipes_dir=recipes)

    facts = pd.read_csv(tmp_path / "report" / "tables" / "languages.csv").set_index("language")
    assert facts.loc["ca", ["language_name", "iso639_3", "family"]].tolist() == ["Catalan", "cat", "Indo-European"]
    assert facts.loc["ca", "source"] == "recipes/ca/hparams/ca.yaml"
    assert facts.loc["es", "source"] == "results.json"
    gap = pd.read_csv(tmp_path / "report" / "tables" / "indo_european_gap.csv").set_index("encoder").loc["xlsr-53"]
    n_ie, n_other, expected = ie_gap_by_hand(errors, {"es", "de", "ca"})
    assert (gap["n_indo_european"], gap["n_other"]) == (n_ie, n_other) == (3, 2)
    assert gap["gap"] == pytest.approx(expected) == pytest.approx(25.0 - 12.0)


def test_language_of_unknown_family_is_left_out_with_a_warning(tmp_path, caplog):
    """A language no results.json or recipe gives a family is warned about and left out, never guessed."""
    errors = {"es": 10.0, "de": 14.0, "fr": 18.0, "ja": 30.0, "th": 20.0, "xx": 90.0}
    root = tmp_path / "results"
    for lang, error in errors.items():
        write_results(
            root, results_object(lang, "xlsr-53", 1, error, cer=error, **({} if lang == "xx" else facts_of(lang)))
        )
    with caplog.at_level(logging.WARNING):
        path = build_report(root, tmp_path / "report", n_resamples=50, recipes_dir=tmp_path / "no_recipes")
    warning = (
        "xx: family unknown (set `family` in recipes/xx/hparams/xx.yaml): left out of the Indo-European comparison"
    )
    assert warning in caplog.text and warning in path.read_text()
    assert "left out, their family unknown: xx." in path.read_text()
    gap = pd.read_csv(tmp_path / "report" / "tables" / "indo_european_gap.csv").set_index("encoder").loc["xlsr-53"]
    n_ie, n_other, expected = ie_gap_by_hand({k: v for k, v in errors.items() if k != "xx"}, {"es", "de", "fr"})
    assert (gap["n_indo_european"], gap["n_other"]) == (n_ie, n_other) == (3, 2)
    assert gap["gap"] == pytest.approx(expected) == pytest.approx(25.0 - 14.0)
    assert gap["p_value"] == pytest.approx(stats.permutation_p_value([10.0, 14.0, 18.0], [30.0, 20.0]))


def test_language_facts_from_runs_then_recipes_and_conflicts_unknown(tmp_path):
    root = tmp_path / "results"
    write_results(root, results_object("ja", "xlsr-53", 1, 30.0, **facts_of("ja")))
    write_results(root, results_object("ja", "xlsr-53", 2, 30.0, **{**facts_of("ja"), "family": "Altaic"}))
    write_results(root, results_object("uk", "xlsr-53", 1, 30.0))  # no facts recorded: the repository's recipe
    # what a run recorded wins over what the recipe's yaml says now
    write_results(root, results_object("de", "xlsr-53", 1, 30.0, language_name="Deutsch"))
    facts, warnings = language_facts(aggregate.collect(root).runs)
    facts = facts.set_index("language")
    assert facts.loc["uk", ["language_name", "iso639_3", "family", "source"]].tolist() == [
        "Ukrainian",
        "ukr",
        "Indo-European",
        "recipes/uk/hparams/uk.yaml",
    ]
    assert facts.loc["de", ["language_name", "family", "source"]].tolist() == [
        "Deutsch",
        "Indo-European",
        "results.json, recipes/de/hparams/de.yaml",
    ]
    assert facts.loc["ja", "family"] is None and facts.loc["ja", "iso639_3"] == "jpn"
    assert warnings == [
        "ja: its runs' results.json record different family values (Altaic, Japonic): family taken as unknown"
    ]


def test_update_recipe_readmes_fills_the_results_table_between_its_markers(tmp_path):
    recipes = tmp_path / "recipes"
    shutil.copytree(ROOT / "recipes" / "es", recipes / "es")
    (recipes / "de").mkdir()
    (recipes / "de" / "README.md").write_text("# German\n\nNo results table here.\n")
    original = (recipes / "es" / "README.md").read_text(encoding="utf-8")
    root = tmp_path / "results"
    for seed, wer in ((1, 10.0), (2, 14.0)):
        write_results(root, results_object("es", "xlsr-53", seed, wer))
    write_results(root, results_object("es", "wavlm-large", 1, 20.0))
    for seed, wer in ((1, 30.0), (2, 33.0), (3, 36.0)):
        write_results(root, results_object("es", "hubert-large-ll60k", seed, wer))
    write_results(root, results_object("de", "xlsr-53", 1, 20.0))

    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "local" / "report.py"),
            "--results-root",
            str(root),
            "--out",
            str(tmp_path / "report"),
            "--seeds",
            "1",
            "2",
            "3",
            "--bootstrap",
            "50",
            "--update-recipe-readmes",
            "--recipes-dir",
            str(recipes),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Updated {recipes / 'es' / 'README.md'}" in proc.stdout
    assert f"{recipes / 'de' / 'README.md'} left alone" in proc.stderr
    assert (recipes / "de" / "README.md").read_text() == "# German\n\nNo results table here.\n"

    text = (recipes / "es" / "README.md").read_text(encoding="utf-8")
    begin, end = recipe_readmes.RESULTS_BEGIN, recipe_readmes.RESULTS_END
    assert text[: text.index(begin)] == original[: original.index(begin)]
    assert text[text.index(end) :] == original[original.index(end) :]
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
    # WER 10, 14: mean 12, sample std sqrt(((10-12)^2 + (14-12)^2) / 1) = 2.83; CER is WER / 2 here
    assert rows["xlsr-53"] == "| xlsr-53 | 12.00 ± 2.83 (2/3 seeds) | 6.00 ± 1.41 (2/3 seeds) |"
    assert rows["wavlm-large"] == "| wavlm-large | 20.00 (1/3 seeds) | 10.00 (1/3 seeds) |"
    # 30, 33, 36: mean 33, std 3; CER 15, 16.5, 18: mean 16.5, std 1.5
    assert rows["hubert-large-ll60k"] == "| hubert-large-ll60k | 33.00 ± 3.00 | 16.50 ± 1.50 |"
    assert rows["no-pretraining"] == "| no-pretraining | not run | not run |"
    assert [name for name in rows if name not in ("encoder", "---")] == list(REGISTRY)
    assert "seeds 1, 2, 3" in text
    # Run again: the same table, rewritten in place
    again = recipe_readmes.replace_results_table(text, recipe_readmes.results_table(list(REGISTRY)), "README.md")
    assert again.count(begin) == 1 and "| xlsr-53 | not run | not run |" in again


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
