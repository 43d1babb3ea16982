"""TextNormalizer: one code path, language rules as data."""

from collections import Counter

import pytest

from crossling_asr.data.text import LanguageSpec, TextNormalizer

SPANISH = LanguageSpec(code="es", alphabet="a-zñáéíóúü")
FRENCH = LanguageSpec(code="fr", alphabet="a-zàâæçéèêëîïôœùûüÿ", word_internal_punctuation="'-")


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ('¿Qué tal, "amigo"?  ¡Bien!', "qué tal amigo bien"),
        ("Cafe\u0301 CON leche.", "café con leche"),  # NFD accent composed by NFKC
        ("«Hola» — dijo… ‘él’", "hola dijo él"),
        ("\ufeffHola\u200b mundo", "hola mundo"),  # BOM and zero-width space dropped
        ("  varios   espacios\ty\ttabs ", "varios espacios y tabs"),
    ],
)
def test_spanish_normalisation(sentence, expected):
    assert TextNormalizer(SPANISH).normalize(sentence) == expected


def test_word_internal_apostrophe_kept_only_between_letters():
    norm = TextNormalizer(FRENCH)
    assert norm.normalize("L’homme qu'il a vu, 'peut-être' -demain-") == "l'homme qu'il a vu peut-être demain"


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u2018", "\u02bc", "`"])
def test_char_map_keys_written_with_the_ascii_apostrophe_match_every_variant(apostrophe):
    """Apostrophes are unified before the language's char_map, as documented."""
    spec = LanguageSpec(code="x", alphabet="a-zğ", word_internal_punctuation="'", char_map={"g'": "ğ"})
    assert TextNormalizer(spec).normalize(f"Tog{apostrophe} va bog{apostrophe}") == "toğ va boğ"


def test_digits_and_foreign_characters_are_counted_and_skip_the_utterance():
    norm = TextNormalizer(SPANISH)
    result = norm("Tengo 42 años 😀 в Москве")
    assert result.digits == {"4": 1, "2": 1}
    assert result.foreign == Counter("вмоскве")  # lower-cased; the emoji is a symbol
    assert norm.reject_reason(result) == "digits"
    assert norm.reject_reason(norm("hola мир")) == "out_of_alphabet"
    assert norm.reject_reason(norm("¡¿...!?")) == "empty_text"
    assert norm.reject_reason(norm("hola")) is None


@pytest.mark.parametrize("policy, expected", [("delete", "tengo años"), ("space", "tengo años")])
def test_other_out_of_alphabet_policies_keep_the_utterance(policy, expected):
    norm = TextNormalizer(LanguageSpec(code="es", alphabet="a-zñáéíóúü", out_of_alphabet=policy))
    result = norm("Tengo 42 años")
    assert result.text == expected
    assert norm.reject_reason(result) is None


def test_keep_policy_leaves_characters_for_references():
    norm = TextNormalizer(SPANISH)
    assert norm("Tengo 42 años", out_of_alphabet="keep").text == "tengo 42 años"


def test_case_map_handles_turkish_dotted_i():
    turkish = LanguageSpec(code="tr", alphabet="a-zçğıöşü", case_map={"I": "ı", "İ": "i"})
    assert TextNormalizer(turkish).normalize("IŞIK İstanbul") == "ışık istanbul"


def test_scripts_without_spaces_drop_them():
    ja = LanguageSpec(code="ja", alphabet="\u3040-\u30ff\u4e00-\u9fff", word_delimiter=False)
    assert TextNormalizer(ja).normalize("今日は、 いい 天気です。") == "今日はいい天気です"


def test_bad_language_data_fails_clearly():
    with pytest.raises(ValueError, match="out_of_alphabet"):
        LanguageSpec(code="es", alphabet="a-z", out_of_alphabet="ignore")
    with pytest.raises(ValueError, match="not a valid regex"):
        LanguageSpec(code="es", alphabet="z-a")
    with pytest.raises(ValueError, match="foreign_letters"):
        LanguageSpec(code="de", alphabet="a-zäöüß", foreign_letters="drop")
    with pytest.raises(ValueError, match="word_map of it has keys without letters"):
        LanguageSpec(code="it", alphabet="a-zà", word_map={"-": "à"})


def test_word_map_whole_words_win_over_endings_and_longer_endings_over_shorter():
    spec = LanguageSpec(
        code="it", alphabet="a-zàéè", word_internal_punctuation="'", word_map={"-e'": "è", "-che'": "ché", "de'": "de"}
    )
    normalizer = TextNormalizer(spec)
    assert normalizer.normalize("E' de' Medici, perche' c'e'") == "è de medici perché c'è"
    # an ending never matches inside a word, nor a whole-word key at a word's end
    assert normalizer.normalize("tede'sco made'") == "tede'sco madè"
    # the closing apostrophe of a quote is not an ending
    assert normalizer.normalize("la parola 'sede' e' breve") == "la parola sede è breve"


def test_fold_writes_base_letters_of_letters_outside_the_alphabet_only():
    spec = LanguageSpec(code="es", alphabet="a-zñáéíóúü", foreign_letters="fold")
    result = TextNormalizer(spec)("Niño en São Paulo y Łódź")
    assert result.text == "niño en sao paulo y ódz"
    assert result.folded == {"ã": 1, "ź": 1}  # ñ and ó are Spanish letters
    assert result.foreign == {"ł": 1}


@pytest.mark.parametrize(
    "sentence",
    ["Johnson & Johnson", "Subió un 5 %", "Cuesta 3 €", "Cuesta €", "tema #1", "escribe a info@ejemplo", "hace 20 °C"],
)
def test_symbols_read_out_as_words_are_not_silently_dropped(sentence):
    """ "&" is spoken ("y"): a transcript without it would not match the audio, so the row is not trained on."""
    normalizer = TextNormalizer(LanguageSpec(code="es", alphabet="a-zñáéíóúü"))
    result = normalizer(sentence)
    assert normalizer.reject_reason(result) in ("digits", "out_of_alphabet")
    assert normalizer(sentence, out_of_alphabet="keep").text != normalizer(sentence, out_of_alphabet="delete").text


def test_symbols_not_read_out_become_spaces():
    normalizer = TextNormalizer(LanguageSpec(code="es", alphabet="a-zñáéíóúü"))
    result = normalizer("¡Hola! 😀 → adiós • fin")
    assert result.text == "hola adiós fin" and normalizer.reject_reason(result) is None
