"""Released checkpoints in the report, and the reproduction table (released vs trained here).

Hand-made results.json files of both kinds: released ones built by
crossling_asr.results.build_evaluation_results (the schema local/evaluate_checkpoint.py
writes), trained ones in the schema of a run (as tests/helpers/results.py makes them). Every
mean, difference, count and bootstrap interval is recomputed here with numpy.
"""

import re

import numpy as np
import pandas as pd
import pytest

from crossling_asr.analysis import aggregate
from crossling_asr.analysis.document import Report
from crossling_asr.analysis.report import build_report
from crossling_asr.analysis.reproduction import add_reproduction_section, compare_cells, reproduction_tables
from crossling_asr.atomic import write_json
from crossling_asr.registry import load_registry
from crossling_asr.results import build_evaluation_results, prepared_data
from crossling_asr.run_layout import run_name

REGISTRY = load_registry()
CER_LANGUAGES = ("ja", "th")


def prep_report(language, test_utterances=100, test_hours=0.2):
    """A prep_report.json of `language` with `test_utterances` test clips of `test_hours` in all."""
    kept = {"train": 500, "dev": 100, "test": test_utterances}
    hours = {"train": 1.0, "dev": 0.2, "test": test_hours}
    return {
        "data_folder": f"/data/cv-corpus-7.0-2021-07-21/{language}",
        "splits": {split: {"kept": kept[split], "hours": hours[split], "speakers": 5, "skipped": {}} for split in kept},
    }


def primary_of(language):
    return "CER" if language in CER_LANGUAGES else "WER"


def write_released(root, language, encoder, seed, wer, cer, scored=None, prep=None):
    """The results.json local/evaluate_checkpoint.py writes for released checkpoint <encoder> s<seed>."""
    prep = prep or prep_report(language)
    scored = prep["splits"]["test"]["kept"] if scored is None else scored
    folder = root / language / f"{encoder}.released" / f"seed_{seed}"
    hub_id = f"jonatasgrosman/exp_w2v2t_{language.lower()}_{encoder}_s{seed}"
    entry = REGISTRY[encoder]
    run = {
        "language": language,
        "encoder": encoder,
        "encoder_source": entry["source"],
        "encoder_family": entry["family"],
        "random_init": entry["random_init"],
        "seed": seed,
        "output_folder": str(folder),
        "device": "cpu",
        "protocol": "released",
    }
    metrics = {
        "primary": primary_of(language),
        "wer_meaningful": language not in CER_LANGUAGES,
        "test": {"WER": wer, "CER": cer, "n_utterances": scored},
    }
    checkpoint = {
        "source": hub_id,
        "hub_id": hub_id,
        "revision": "0" * 40,
        "released": True,
        "released_name": {"language": language.lower(), "model": encoder, "seed": seed},
        "architecture": "Wav2Vec2ForCTC",
        "weights_file": "pytorch_model.bin",
        "card_base_model": None,
        "card_base_model_from": None,
        "encoder_mapping": "released name",
    }
    decoding = {
        "method": "greedy",
        "precision": "fp32",
        "batch_seconds": 60.0,
        "batch_size": 16,
        "device": "cpu",
        "hypotheses_changed_by_normalization": {"test": 0},
    }
    results = build_evaluation_results(
        run, metrics, prep, checkpoint, {"size": 40, "fits_language": True}, decoding, []
    )
    write_json(folder / "results.json", results)


def write_trained(root, language, encoder, seed, wer, cer, scored=None, prep=None, encoder_source=None):
    """A finished run of the study's protocol trained here (with the registry's weights unless
    `encoder_source` replaces them)."""
    prep = prep or prep_report(language)
    scored = prep["splits"]["test"]["kept"] if scored is None else scored
    name = run_name(encoder, "study", encoder_source)
    folder = root / language / name / f"seed_{seed}"
    entry = REGISTRY[encoder]
    results = {
        "schema_version": 1,
        "status": "finished",
        "run": {
            "language": language,
            "encoder": encoder,
            "encoder_source": encoder_source or entry["source"],
            "encoder_family": entry["family"],
            "random_init": entry["random_init"],
            "seed": seed,
            "output_folder": str(folder),
            "device": "cpu",
            "protocol": "study",
        },
        "metrics": {
            "primary": primary_of(language),
            "wer_meaningful": language not in CER_LANGUAGES,
            "test": {"WER": wer, "CER": cer, "loss": 1.0, "n_utterances": scored},
            "dev_best": {"WER": wer, "CER": cer, "epoch": 3},
        },
        "data": prepared_data(prep),
        "training": {"epochs": 3, "optimizer_steps": 30, "wall_seconds": 60.0},
        "hparams": {
            "number_of_epochs": 3,
            "seed": seed,
            "protocol": "study",
            "run_name": name,
            "output_folder": str(folder),
        },
    }
    write_json(folder / "results.json", results)


def test_released_results_are_analysed_like_trained_ones(tmp_path):
    """collect and the whole report accept released results: arbitrary seeds, no training section."""
    root = tmp_path / "results"
    rng = np.random.default_rng(1)
    encoders = ["wav2vec2-large-lv60", "voxpopuli-fr", "xlsr-53", "xls-r-300m", "no-pretraining"]
    released_seeds = {}
    for index, language in enumerate(("es", "de", "fr", "ja", "th")):
        for encoder in encoders:
            if (language, encoder) == ("th", "xls-r-300m"):
                continue  # never evaluated: the one missing cell
            seeds = [101, 904, 17][: 1 + (index + len(encoder)) % 3]  # 1 to 3 arbitrary seeds per cell
            for seed in seeds:
                error = (60.0 if encoder == "no-pretraining" else 20.0 + 2 * index) + rng.normal(0, 1)
                wer, cer = (error * 2, error) if language in CER_LANGUAGES else (error, error / 2)
                write_released(root, language, encoder, seed, wer, cer)
                released_seeds.setdefault((language, encoder), []).append((seed, error))
    write_trained(root, "es", "xlsr-53", 1, 30.0, 15.0)  # another protocol: set aside

    collection = aggregate.collect(root, protocol="released")
    assert collection.rejected.empty and collection.conflicts.empty
    assert len(collection.runs) == sum(len(seeds) for seeds in released_seeds.values())
    assert collection.set_aside["run"].tolist() == ["es/xlsr-53/seed_1"]
    assert set(collection.runs["protocol"]) == {"released"}
    es = collection.runs[(collection.runs["language"] == "es") & (collection.runs["encoder"] == "xlsr-53")]
    assert es["checkpoint"].tolist() == [
        f"jonatasgrosman/exp_w2v2t_es_xlsr-53_s{seed}" for seed, _ in sorted(released_seeds[("es", "xlsr-53")])
    ]
    assert aggregate.collect(root).runs["protocol"].tolist() == ["study"]  # the study's analysis is unchanged

    out = tmp_path / "report"
    text = build_report(root, out, protocol="released", n_resamples=50).read_text()
    for heading in ("## Runs", "## 1.", "## 2.", "## 3.", "## 4."):
        assert heading in text
    assert "seeds)" not in text  # cells with 1 or 3 released seeds are as the release made them
    assert "1 expected runs missing" in text
    missing = pd.read_csv(out / "tables" / "missing_runs.csv")
    assert missing[["language", "encoder"]].values.tolist() == [["th", "xls-r-300m"]]
    assert missing["seed"].isna().all()
    summary = pd.read_csv(out / "tables" / "cell_summary.csv").set_index(["language", "encoder"])
    assert summary["complete"].all()
    matrix = pd.read_csv(out / "tables" / "error_matrix.csv", dtype=str).set_index("language")
    for (language, encoder), found in released_seeds.items():
        errors = np.array([error for _, error in found])
        assert summary.loc[(language, encoder), "n_seeds"] == len(errors)
        assert summary.loc[(language, encoder), "expected_seeds"] == len(errors)
        assert summary.loc[(language, encoder), "error_mean"] == pytest.approx(errors.mean())
        expected = f"{errors.mean():.2f}" + (f" ± {errors.std(ddof=1):.2f}" if len(errors) > 1 else "")
        assert matrix.loc[language, encoder] == expected
    transfer = pd.read_csv(out / "tables" / "transfer_pairs.csv")
    assert set(transfer["encoder"]) == {"wav2vec2-large-lv60", "voxpopuli-fr"}


def write_both_sides(root):
    """Released and trained results of several cells; returns {(language, encoder): (released, trained)}
    test errors by seed of the cells scored on the same test set."""
    paired = {
        ("es", "xlsr-53"): ({17: (12.0, 5.0), 904: (14.0, 6.0)}, {1: (13.0, 5.5), 2: (12.5, 5.1), 3: (15.5, 6.6)}),
        ("es", "wavlm-large"): ({5: (20.0, 9.0)}, {1: (18.0, 8.0), 2: (19.0, 8.4)}),
        ("es", "hubert-large-ll60k"): ({42: (25.0, 11.0)}, {1: (27.5, 12.0)}),
        ("de", "xlsr-53"): ({7: (16.0, 7.0)}, {1: (15.0, 6.5), 2: (16.2, 7.1)}),
        ("de", "wavlm-large"): ({8: (22.0, 10.0), 9: (23.0, 10.4)}, {1: (22.9, 10.1)}),
        ("ja", "xlsr-53"): ({11: (90.0, 30.0)}, {1: (88.0, 28.0), 2: (89.0, 29.0)}),  # CER is primary
    }
    for (language, encoder), (released, trained) in paired.items():
        for seed, (wer, cer) in released.items():
            write_released(root, language, encoder, seed, wer, cer)
        for seed, (wer, cer) in trained.items():
            write_trained(root, language, encoder, seed, wer, cer)
    # Not the same test set: 98 utterances scored by the released checkpoint, 100 by the runs.
    write_released(root, "fr", "xlsr-53", 3, 18.0, 8.0, scored=98)
    write_trained(root, "fr", "xlsr-53", 1, 17.0, 7.5)
    # As many utterances, but another prepared test split (another release of the corpus).
    write_released(root, "fr", "wavlm-large", 4, 21.0, 9.0, prep=prep_report("fr", test_hours=0.25))
    write_trained(root, "fr", "wavlm-large", 1, 20.0, 8.8)
    # The trained seeds themselves were scored on different test sets.
    write_released(root, "de", "hubert-large-ll60k", 6, 24.0, 10.0)
    write_trained(root, "de", "hubert-large-ll60k", 1, 23.0, 9.5)
    write_trained(root, "de", "hubert-large-ll60k", 2, 23.5, 9.7, scored=90, prep=prep_report("de", 90))
    # One side only.
    write_released(root, "fr", "xls-r-300m", 12, 19.0, 8.5)
    write_trained(root, "fr", "hubert-large-ll60k", 1, 26.0, 11.0)
    return paired


def test_reproduction_pairs_cell_means_and_sets_aside_other_test_sets(tmp_path):
    root = tmp_path / "results"
    paired = write_both_sides(root)
    n_resamples = 200
    cells, by_language, set_aside, unpaired = reproduction_tables(root, n_resamples=n_resamples, seed=3)

    # Per cell: means over each side's own seeds, difference trained - released.
    cells = cells.set_index(["language", "encoder"])
    assert sorted(cells.index) == sorted(paired)
    primary_difference = {}
    for key, (released, trained) in paired.items():
        cell = cells.loc[key]
        column = 1 if key[0] == "ja" else 0  # ja: CER, else WER
        for metric, index in (("WER", 0), ("CER", 1), ("error", column)):
            released_mean = np.mean([v[index] for v in released.values()])
            trained_mean = np.mean([v[index] for v in trained.values()])
            assert cell[f"{metric}_released"] == pytest.approx(released_mean)
            assert cell[f"{metric}_trained"] == pytest.approx(trained_mean)
            assert cell[f"{metric}_difference"] == pytest.approx(trained_mean - released_mean)
        primary_difference[key] = np.mean([v[column] for v in trained.values()]) - np.mean(
            [v[column] for v in released.values()]
        )
        assert (cell["n_released"], cell["n_trained"]) == (len(released), len(trained))
        assert cell["released_seeds"] == ",".join(map(str, sorted(released)))
        assert cell["primary"] == ("CER" if key[0] == "ja" else "WER")
        assert cell["test_utterances"] == 100

    # Per language: mean paired difference, bootstrap over cells, signs.
    by_language = by_language.set_index("scope")
    assert list(by_language.index) == ["de", "es", "ja", "pooled (all languages)"]
    signs = {"es": (1, 2), "de": (1, 1), "ja": (1, 0), "pooled (all languages)": (3, 3)}  # (better, worse)
    for language in ("de", "es", "ja"):
        row = by_language.loc[language]
        differences = np.array([d for (lang, _), d in sorted(primary_difference.items()) if lang == language])
        assert row["n_cells"] == len(differences)
        assert row["mean_difference"] == pytest.approx(differences.mean())
        assert (row["reproduction_better"], row["reproduction_worse"], row["same"]) == (*signs[language], 0)
        if len(differences) < 2:
            assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
            continue
        picks = np.random.default_rng(3).integers(0, len(differences), (n_resamples, len(differences)))
        means = [differences[pick].mean() for pick in picks]
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((np.quantile(means, 0.025), np.quantile(means, 0.975)))
        assert row["ci_low"] <= row["mean_difference"] <= row["ci_high"]

    # Pooled: every compared cell, cluster bootstrap over languages (in the table's order).
    pooled = by_language.loc["pooled (all languages)"]
    all_differences = np.array(list(primary_difference.values()))
    assert pooled["n_cells"] == len(all_differences) == 6
    assert pooled["mean_difference"] == pytest.approx(all_differences.mean())
    assert (pooled["reproduction_better"], pooled["reproduction_worse"]) == signs["pooled (all languages)"]
    languages = ["de", "es", "ja"]
    by_cluster = {
        lang: [d for (cell_lang, _), d in primary_difference.items() if cell_lang == lang] for lang in languages
    }
    picks = np.random.default_rng(3).integers(0, len(languages), (n_resamples, len(languages)))
    means = [np.mean(np.concatenate([by_cluster[languages[unit]] for unit in pick])) for pick in picks]
    assert (pooled["ci_low"], pooled["ci_high"]) == pytest.approx(
        (np.quantile(means, 0.025), np.quantile(means, 0.975))
    )
    assert pooled["ci_low"] <= pooled["mean_difference"] <= pooled["ci_high"]

    # Cells not scored on one test set, and cells with one side.
    reasons = {(row.language, row.encoder): row.reason for row in set_aside.itertuples()}
    assert sorted(reasons) == [("de", "hubert-large-ll60k"), ("fr", "wavlm-large"), ("fr", "xlsr-53")]
    assert reasons[("fr", "xlsr-53")] == "scored test utterances: released 98, trained 100"
    assert reasons[("fr", "wavlm-large")] == "prepared test split: hours released 0.25, trained 0.2"
    assert reasons[("de", "hubert-large-ll60k")].startswith("trained seeds differ in scored test utterances")
    assert unpaired.values.tolist() == [
        ["fr", "hubert-large-ll60k", "trained only", "1"],
        ["fr", "xls-r-300m", "released only", "12"],
    ]


def test_reproduction_section_in_a_report(tmp_path):
    root = tmp_path / "results"
    write_both_sides(root)
    report = Report(tmp_path / "report")
    add_reproduction_section(report, root, languages=["es", "fr"], n_resamples=20)
    text = report.write().read_text()
    assert (
        "3 cells compared; 2 set aside (not the same test set); 1 with released checkpoints only; "
        "1 with runs trained here only." in text
    )
    assert "reproduction_replaced_weights" not in text

    # A smoke run with a tiny encoder for the released-only cell is named as not compared, and why.
    tiny = tmp_path / "tiny_wav2vec2"
    tiny.mkdir()
    write_trained(root, "fr", "xls-r-300m", 1, 99.0, 60.0, encoder_source=str(tiny))
    report = Report(tmp_path / "report_replaced")
    add_reproduction_section(report, root, languages=["es", "fr"], n_resamples=20)
    text = report.write().read_text()
    assert "1 runs trained here for these cells are not compared: their encoder weights are not the registry's" in text
    replaced = pd.read_csv(report.out / "tables" / "reproduction_replaced_weights.csv")
    assert replaced[["language", "encoder", "run"]].values.tolist() == [
        ["fr", "xls-r-300m", f"fr/{run_name('xls-r-300m', 'study', str(tiny))}/seed_1"]
    ]
    for link in re.findall(r"\]\((tables/[^)]+)\)", text):
        assert (report.out / link).is_file()
    table = pd.read_csv(report.out / "tables" / "reproduction_by_language.csv")
    assert table["scope"].tolist() == ["es", "pooled (all languages)"]

    trained_only = tmp_path / "trained_only"
    write_trained(trained_only, "es", "xlsr-53", 1, 13.0, 5.5)
    report = Report(tmp_path / "report_trained_only")
    report.out.mkdir()  # build_report's tables and figures make it
    add_reproduction_section(report, trained_only, n_resamples=20)
    assert "No released checkpoints scored under this results root" in report.write().read_text()
    assert not (report.out / "tables").exists()


def test_a_side_that_does_not_record_its_test_utterances_is_not_compared():
    """Results that do not say how many test utterances they scored cannot be shown to share a test set."""

    def runs(protocol, seeds, scored):
        return pd.DataFrame(
            [
                {
                    "language": "es",
                    "encoder": "xlsr-53",
                    "seed": seed,
                    "primary": "WER",
                    "error": 10.0,
                    "WER": 10.0,
                    "CER": 5.0,
                    "test_utterances": n,
                    "test_set": None,
                    "protocol": protocol,
                }
                for seed, n in zip(seeds, scored)
            ]
        )

    cells, set_aside, unpaired = compare_cells(runs("released", [7], [100]), runs("study", [1, 2], [100, None]))
    assert cells.empty and unpaired.empty
    assert set_aside.values.tolist() == [["es", "xlsr-53", "scored test utterances not recorded by trained seed(s) 2"]]
    cells, set_aside, _ = compare_cells(runs("released", [7], [100]), runs("study", [1, 2], [100, 100]))
    assert set_aside.empty and cells[["error_difference", "n_released", "n_trained"]].values.tolist() == [[0.0, 1, 2]]
