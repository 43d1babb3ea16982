"""A new language's facts: name and ISO 639-3 code from ISO 639, family from URIEL."""

from crossling_asr.hparams import read_language_data
from tests.helpers.languages import LANGUAGES


def test_new_language_facts_from_iso639_and_uriel():
    """Name and ISO 639-3 code from ISO 639; a macrolanguage's code is left to a person; family from URIEL."""
    from crossling_asr.new_language import facts

    assert (facts.language_name("sv-SE").value, facts.iso639_3_code("sv-SE").value) == ("Swedish", "swe")
    assert (facts.language_name("ca").value, facts.iso639_3_code("ca").value) == ("Catalan", "cat")
    chinese = facts.iso639_3_code("zh-TW")
    assert chinese.value is None and "macrolanguage" in chinese.source and "cmn" in chinese.source
    assert facts.iso639_3_code("xx").value is None
    # The recipes' families are URIEL's, but for the name: URIEL calls Kra-Dai by its older name, Tai-Kadai.
    recipes = {lang: read_language_data(lang) for lang in LANGUAGES}
    families = facts.uriel_families(sorted({data["iso639_3"] for data in recipes.values()}) + ["eus", "xyz"])
    for lang, data in recipes.items():
        expected = "Tai-Kadai" if data["family"] == "Kra-Dai" else data["family"]
        assert families[data["iso639_3"]].value == expected, lang
    assert families["eus"].value is None and "no family" in families["eus"].source  # Basque, an isolate
    assert families["xyz"].value is None
