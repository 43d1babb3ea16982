"""The report on hand-made results: every table and figure embedded, languages added later or of
unknown family."""

import logging
import re

import numpy as np
import pandas as pd
import pytest

from crossling_asr.analysis import stats
from crossling_asr.analysis.report import build_report
from tests.helpers.results import facts_of, results_object, write_results


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
