"""Typology: ISO codes, the recipes' languages, the cached distances, language facts from runs and recipes."""

import json

import numpy as np

from crossling_asr.analysis import aggregate
from crossling_asr.analysis.typology import TYPOLOGY_FILE, iso639_3_of, language_facts, load_distances
from crossling_asr.hparams import read_language_data, recipe_languages
from tests.helpers.results import facts_of, results_object, write_results


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
