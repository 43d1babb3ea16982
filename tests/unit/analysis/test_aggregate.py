"""Aggregation of hand-made results.json files: means and standard deviations by hand, what is set
aside and why, and the summaries (Indo-European gap, size and diversity, monolingual transfer)."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from crossling_asr.analysis import aggregate, stats
from tests.helpers.results import FAMILIES, REGISTRY, manual_spearman, results_object, write_results


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
