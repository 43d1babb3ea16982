"""local/new_language.py: the recipe it writes, its text rules derived from sentences, facts it cannot
look up written as null or asked for."""

import re
import unicodedata

import pytest

from crossling_asr.data.text import LanguageSpec, TextNormalizer
from tests.helpers.languages import new_language


@pytest.mark.needs_espeak  # asks espeak-ng for its voices
def test_new_language_defaults(tmp_path):
    """Without --alphabet or --sentences the alphabet is CLDR's, else the copied one is flagged loudly;
    voice from espeak."""
    recipes = tmp_path / "recipes"
    proc = new_language("tr", "--recipes-dir", recipes)
    assert "Alphabet from CLDR's standard exemplar set of tr" in proc.stdout
    text = (recipes / "tr" / "hparams" / "tr.yaml").read_text(encoding="utf-8")
    assert "COPIED FROM THE SOURCE RECIPE" not in text
    assert "voice: tr" in text
    proc = new_language("ba", "--recipes-dir", recipes)  # Bashkir: CLDR does not know it
    assert "alphabet of es was copied" in proc.stdout
    assert "COPIED FROM THE SOURCE RECIPE" in (recipes / "ba" / "hparams" / "ba.yaml").read_text(encoding="utf-8")
    # an existing recipe is not overwritten
    again = new_language("tr", "--recipes-dir", recipes, check=False)
    assert again.returncode != 0 and "exists" in again.stderr
    # unspaced scripts are detected from sample sentences
    sample = tmp_path / "ja.txt"
    sample.write_text("今日は、いい天気ですね。\n私はコーヒーが好きです。\n", encoding="utf-8")
    new_language("ja-XX", "--voice", "ja", "--sentences", sample, "--recipes-dir", recipes)
    data = (recipes / "ja-XX" / "hparams" / "ja-XX.yaml").read_text(encoding="utf-8")
    assert "word_delimiter: False" in data and "primary_metric: CER" in data


def scaffold(code, sentences, tmp_path):
    """local/new_language.py CODE --sentences (a sample written to a file); the new recipe's normaliser."""
    import ruamel.yaml

    sample = tmp_path / f"{code}.txt"
    sample.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    recipes = tmp_path / "recipes"
    new_language(code, "--sentences", sample, "--recipes-dir", recipes)
    data = ruamel.yaml.YAML(typ="safe", pure=True).load((recipes / code / "hparams" / f"{code}.yaml").read_text())
    return data, TextNormalizer(LanguageSpec(code=code, **data["text"]))


TURKISH_SENTENCES = [
    "İstanbul'da yaşıyorum ve her gün işe gidiyorum.",
    "IĞDIR'dan gelen arkadaşım çok güzel şarkı söylüyor.",
    "Öğretmen öğrencilere ödev verdi.",
    "Bu akşam ne yiyeceğiz?",
]


def test_new_language_gets_dotless_i_and_apostrophes_from_its_sentences(tmp_path):
    """Turkish: "I" lower-cases to "ı" and "İ" to "i" (not "i" + U+0307); suffixes after ' stay attached."""
    data, normalizer = scaffold("tr", TURKISH_SENTENCES, tmp_path)
    assert data["text"]["case_map"] == {"I": "ı", "İ": "i"}
    assert data["text"]["word_internal_punctuation"] == "'"
    assert "\u0307" not in data["text"]["alphabet"]
    assert [normalizer.normalize(s) for s in TURKISH_SENTENCES[:2]] == [
        "istanbul'da yaşıyorum ve her gün işe gidiyorum",
        "ığdır'dan gelen arkadaşım çok güzel şarkı söylüyor",
    ]
    # Without a sample the language code alone sets the case map (az writes ı too).
    new_language("az", "--alphabet", "a-zçəğıöşü", "--recipes-dir", tmp_path / "recipes")
    assert 'case_map: {"I": "ı", "İ": "i"}' in (tmp_path / "recipes" / "az" / "hparams" / "az.yaml").read_text()


@pytest.mark.needs_espeak  # asks espeak-ng for its voices
def test_new_language_in_an_abugida_keeps_its_vowel_signs(tmp_path):
    """Hindi (Devanagari): vowel signs, virama and nukta are marks, not punctuation; the danda is."""
    sentences = ["मैं आज बाज़ार जा रहा हूँ।", "क्या आपने यह किताब पढ़ी है?", "बच्चे स्कूल में खेल रहे हैं।"]
    data, normalizer = scaffold("hi", sentences, tmp_path)
    assert data["primary_metric"] == "WER" and data["synthetic"]["voice"] == "hi"
    for sentence in sentences:
        result = normalizer(sentence)
        assert normalizer.reject_reason(result) is None, (sentence, result)
        assert result.text == unicodedata.normalize("NFKC", sentence).rstrip("।?").strip()


@pytest.mark.parametrize(
    "code, sentences, expected",
    [
        # Belarusian stress accents are optional: "мо́ва" is "мова".
        (
            "be",
            ["Беларуская мо́ва вельмі прыгожая.", "Ён ча́ста чытае кнігі.", "Мы пайшлі ў лес."],
            ["беларуская мова вельмі прыгожая", "ён часта чытае кнігі", "мы пайшлі ў лес"],
        ),
        # Hebrew niqqud is optional: pointed and unpointed spellings are one word; the
        # gershayim of an abbreviation stays inside it.
        (
            "he",
            ["שָׁלוֹם, מה שלומך?", "הַיּוֹם יום יפה.", "הילדים הלכו לבית הספר.", 'דובר צה״ל אמר: "כן".'],
            ["שלום מה שלומך", "היום יום יפה", "הילדים הלכו לבית הספר", "דובר צה״ל אמר כן"],
        ),
        # Armenian marks written on a vowel do not split the word; NFKC's "եւ" is the letter "և" again.
        (
            "hy-AM",
            ["Ինչո՞ւ ես ուշացել։", "Մենք և նրանք գնացինք Երևան։", "Ընկե՛ր, արի այստեղ։"],
            ["ինչու ես ուշացել", "մենք և նրանք գնացինք երևան", "ընկեր արի այստեղ"],
        ),
        # Urdu: tatweel only stretches a word on the line; harakat are optional.
        (
            "ur",
            ["یہ کتاب بہت جمیـــل ہے۔", "وہ اسکول جاتا ہے۔", "آپ کیسے ہیں؟"],
            ["یہ کتاب بہت جمیل ہے", "وہ اسکول جاتا ہے", "آپ کیسے ہیں"],
        ),
    ],
)
def test_new_language_deletes_the_optional_marks_of_its_script(code, sentences, expected, tmp_path):
    """Marks a script writes only sometimes become char_map deletions, never alphabet letters."""
    data, normalizer = scaffold(code, sentences, tmp_path)
    marks = [k for k, v in data["text"]["char_map"].items() if v == "" and len(k) == 1]
    assert marks and not any(re.fullmatch(f"[{data['text']['alphabet']}]", m) for m in marks)
    assert [normalizer.normalize(s) for s in sentences] == expected


def test_new_language_writes_unknown_facts_as_null_and_says_what_to_set(tmp_path):
    """Basque: URIEL gives no family; the yaml says so loudly and the command prints what to set."""
    import ruamel.yaml

    proc = new_language("eu", "--alphabet", "a-zñ", "--recipes-dir", tmp_path / "recipes")
    assert "WARNING: family unknown" in proc.stdout and "hparams/eu.yaml" in proc.stdout
    text = (tmp_path / "recipes" / "eu" / "hparams" / "eu.yaml").read_text(encoding="utf-8")
    assert "# !!! UNKNOWN: URIEL" in text and "\nfamily: null\n" in text
    data = ruamel.yaml.YAML(typ="safe", pure=True).load(text)
    assert (data["language_name"], data["iso639_3"], data["family"]) == ("Basque", "eus", None)
    assert "not run" in (tmp_path / "recipes" / "eu" / "README.md").read_text(encoding="utf-8")


def test_new_language_asks_on_a_terminal_and_takes_flags(tmp_path):
    """What cannot be looked up is asked for (an interactive terminal); flags replace every lookup."""
    import ruamel.yaml

    from crossling_asr.new_language.scaffold import create_recipe

    def load(code):
        return ruamel.yaml.YAML(typ="safe", pure=True).load(
            (tmp_path / code / "hparams" / f"{code}.yaml").read_text(encoding="utf-8")
        )

    prompts = []
    create_recipe(
        "ar",
        alphabet="\\u0621-\\u064a",
        recipes_dir=tmp_path,
        echo=lambda line: None,
        ask=lambda prompt: prompts.append(prompt) or "arb",
    )
    assert len(prompts) == 1 and prompts[0].startswith("iso639_3 of ar?") and "macrolanguage" in prompts[0]
    assert (load("ar")["iso639_3"], load("ar")["family"]) == ("arb", "Afro-Asiatic")
    assert "# given at the prompt" in (tmp_path / "ar" / "hparams" / "ar.yaml").read_text(encoding="utf-8")

    create_recipe(
        "gl",
        alphabet="a-zñáéíóú",
        name="Galician",
        iso639_3="glg",
        family="Indo-European",
        recipes_dir=tmp_path,
        echo=lambda line: None,
        ask=None,
    )
    assert (load("gl")["language_name"], load("gl")["iso639_3"], load("gl")["family"]) == (
        "Galician",
        "glg",
        "Indo-European",
    )
