"""Text edge cases of real Common Voice sentences, with each recipe's own rules.

Each case is a sentence of the kind users type and native speakers read: a
Turkish name in German, an emoji with its variation selector, Ukrainian
apostrophe look-alikes, Italian accents typed as apostrophes, letters of other
languages in names, Latin letters in Japanese and Chinese, Urdu-keyboard
letters in Arabic. The normalisers are built from the recipes' yaml files;
the expected texts are written out by hand.
"""

import logging
import re
import unicodedata

import pytest

from crossling_asr.data.common_voice import _log_report
from crossling_asr.data.text import LanguageSpec, TextNormalizer, language_spec_from_hparams
from crossling_asr.hparams import read_language_data

LATIN = ["de", "en", "es", "et", "fr", "id", "it", "nl", "pl", "pt", "sv-SE"]
ZWNJ, ZWJ = "\u200c", "\u200d"


def normalizer_for(lang):
    return TextNormalizer(language_spec_from_hparams(read_language_data(lang)))


def check(lang, sentence, expected, reason=None):
    normalizer = normalizer_for(lang)
    result = normalizer(sentence)
    assert (result.text, normalizer.reject_reason(result)) == (expected, reason)
    return result


# ---------------------------------------------------------------------------
# Capital dotted İ


@pytest.mark.parametrize("lang", LATIN)
def test_capital_dotted_i_is_i_outside_turkic_languages(lang):
    """str.lower() makes İ "i" + U+0307, a combining dot no alphabet lists."""
    assert normalizer_for(lang).normalize("İzmir") == "izmir"
    assert normalizer_for(lang).reject_reason(normalizer_for(lang)("İzmir")) is None


def test_german_sentence_with_a_turkish_city_is_kept():
    check("de", "Wir flogen nach İzmir.", "wir flogen nach izmir")


def test_turkish_case_map_still_decides_dotted_and_dotless_i():
    turkish = TextNormalizer(
        LanguageSpec(code="tr", alphabet="a-zçğıöşü", word_internal_punctuation="'", case_map={"I": "ı", "İ": "i"})
    )
    assert turkish.normalize("DİYARBAKIR'a ISPARTA'dan gittik.") == "diyarbakır'a ısparta'dan gittik"


# ---------------------------------------------------------------------------
# Emoji sequences


@pytest.mark.parametrize(
    "lang, sentence, expected",
    [
        ("en", "I ❤️ Paris.", "i paris"),  # U+2764 U+FE0F
        ("fr", "J'❤️ Paris !", "j paris"),
        ("en", "Great job 👍🏽", "great job"),  # skin-tone modifier
        ("en", "Our doctor 👩🏽‍⚕️ was kind.", "our doctor was kind"),  # ZWJ sequence with VS16
        ("es", "¡Vamos! 🏳️‍🌈 Orgullo", "vamos orgullo"),
        ("de", "Ich ☀️ mag die Sonne", "ich mag die sonne"),
    ],
)
def test_emoji_sequences_become_one_space(lang, sentence, expected):
    check(lang, sentence, expected)


def test_keycap_emoji_keeps_its_digit():
    """ "1️⃣" is read "one": the digit stays and the training row is skipped, as for "1"."""
    result = check("en", "Press 1️⃣ now", "press now", "digits")
    assert result.digits == {"1": 1} and not result.foreign


def test_persian_zwnj_stays_inside_words_next_to_an_emoji():
    check("fa", f"من هر روز می{ZWNJ}روم ❤️", f"من هر روز می{ZWNJ}روم")


def test_zwj_between_letters_stays_where_a_language_keeps_it():
    """Sinhala writes ශ්‍රී (Sri) with a ZWJ; the ZWJs of a family emoji go with the emoji."""
    sinhala = TextNormalizer(LanguageSpec(code="si", alphabet="\u0d80-\u0dff", word_internal_punctuation=ZWJ))
    sri = f"ශ්{ZWJ}රී"
    assert sinhala.normalize(f"{sri} ලංකාවට ගියා 👨{ZWJ}👩{ZWJ}👧") == f"{sri} ලංකාවට ගියා"


def test_kanji_glyph_variant_selector_is_deleted():
    """葛 + U+E0100 is the Katsushika glyph of the same kanji."""
    check("ja", "葛\U000e0100飾区に住んでいます", "葛飾区に住んでいます")


# ---------------------------------------------------------------------------
# Apostrophe look-alikes


@pytest.mark.parametrize("apostrophe", ["\u2032", "\u201d", "\u02b9", "\u00b4"])
def test_ukrainian_apostrophe_lookalikes_between_letters(apostrophe):
    check("uk", f"П{apostrophe}ять хвилин до сім{apostrophe}ї.", "п'ять хвилин до сім'ї")


def test_closing_double_quote_stays_punctuation():
    check("uk", "Вона відповіла: „Так”, і пішла.", "вона відповіла так і пішла")


def test_apostrophe_lookalike_in_english_contraction():
    check("en", "It′s O′Brien’s car.", "it's o'brien's car")


def test_lookalikes_stay_punctuation_where_words_have_no_apostrophe():
    check("es", "Dijo ”hola”y se fue", "dijo hola y se fue")


# ---------------------------------------------------------------------------
# Italian accents typed as apostrophes


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("Lui e' qui.", "lui è qui"),
        ("E' vero, ne voglio un po'.", "è vero ne voglio un po"),
        ("Perche' non vieni?", "perché non vieni"),
        ("Pero' la citta' e' bella.", "però la città è bella"),
        ("Poiche' piove, resto a casa finche' smette.", "poiché piove resto a casa finché smette"),
        ("Non voglio ne' questo ne' quello.", "non voglio né questo né quello"),
        ("Lo fa da se'.", "lo fa da sé"),
        ("Ha ventitre' anni, non trentatre'.", "ha ventitré anni non trentatré"),
        ("C'e' qualcuno? Cos'e' successo?", "c'è qualcuno cos'è successo"),
        ("Non ne posso piu', vado giu'.", "non ne posso più vado giù"),
        ("Lunedi' si', martedi' no.", "lunedì sì martedì no"),
        ("PERCHE' NO?", "perché no"),
        ("Perchè nè lui nè lei?", "perché né lui né lei"),  # the è key typed for é
    ],
)
def test_italian_final_accent_typed_as_apostrophe(sentence, expected):
    check("it", sentence, expected)


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("Dell'anno scorso ricordo un'altra storia.", "dell'anno scorso ricordo un'altra storia"),
        ("L'uomo beve l'acqua.", "l'uomo beve l'acqua"),
        ("Dammi un po' di pane, a mo' di esempio.", "dammi un po di pane a mo di esempio"),
        ("Lorenzo de' Medici visse a Firenze.", "lorenzo de medici visse a firenze"),
        ("Va' a casa e di' la verita'!", "va a casa e di la verità"),
        ("Be', andiamo a Ca' Foscari.", "be andiamo a ca foscari"),
        ("Vieni qua'!", "vieni qua"),
        # a word-final apostrophe that closes a quote opened by one is a quote
        ("La parola 'casa' e' corta.", "la parola casa è corta"),
        ("Il cosiddetto ‘effetto serra’ preoccupa.", "il cosiddetto effetto serra preoccupa"),
    ],
)
def test_italian_elisions_apocopes_and_quotes_are_not_accents(sentence, expected):
    check("it", sentence, expected)


# ---------------------------------------------------------------------------
# Letters of other languages


@pytest.mark.parametrize(
    "lang, sentence, expected, folded",
    [
        ("de", "Wir treffen uns im Café in Düsseldorf.", "wir treffen uns im cafe in düsseldorf", {"é": 1}),
        ("de", "Der Barça-Trainer sagte: „Señor, gracias“.", "der barca trainer sagte senor gracias", {"ç": 1, "ñ": 1}),
        ("es", "El Barça jugó en Múnich y en São Paulo.", "el barca jugó en múnich y en sao paulo", {"ç": 1, "ã": 1}),
        ("es", "Vive en Sant Martí de Provençals.", "vive en sant martí de provencals", {"ç": 1}),
        ("pl", "Mieszkał w Düsseldorfie, a potem w München.", "mieszkał w dusseldorfie a potem w munchen", {"ü": 2}),
        ("pl", "Słuchał Dvořáka w Škodzie.", "słuchał dvoraka w skodzie", {"ř": 1, "á": 1, "š": 1}),
        ("sv-SE", "Vi åkte till Düsseldorf och München.", "vi åkte till dusseldorf och munchen", {"ü": 2}),
        ("it", "Il signor Müller vive a Bolzano.", "il signor muller vive a bolzano", {"ü": 1}),
        ("fr", "Il habite à Göteborg, près de la Peña.", "il habite à goteborg près de la pena", {"ö": 1, "ñ": 1}),
        ("pt", "Niccolò Machiavelli nasceu em Florença.", "niccolo machiavelli nasceu em florença", {"ò": 1}),
        ("nl", "De señor woont in São Paulo.", "de senor woont in sao paulo", {"ñ": 1, "ã": 1}),
        ("et", "Jānis elab Riias.", "janis elab riias", {"ā": 1}),
        ("id", "Dia membaca Al-Qur'ān setiap hari.", "dia membaca al qur'an setiap hari", {"ā": 1}),
        (
            "en",
            "The naïve café owner loved Dvořák.",
            "the naive cafe owner loved dvorak",
            {"ï": 1, "é": 1, "ř": 1, "á": 1},
        ),
    ],
)
def test_foreign_letters_fold_to_their_base_letter(lang, sentence, expected, folded):
    assert check(lang, sentence, expected).folded == folded


def test_swedish_reads_danish_and_norwegian_letters_as_its_own():
    check("sv-SE", "Søren flyttade till Tromsø och Ærø.", "sören flyttade till tromsö och ärö")


@pytest.mark.parametrize(
    "lang, sentence, expected, foreign",
    [
        ("de", "Er kommt aus Łódź.", "er kommt aus odz", {"ł": 1}),  # ł has no base letter; ó ź fold
        ("de", "Sie wohnt in Diyarbakır.", "sie wohnt in diyarbakr", {"ı": 1}),
        ("fr", "Il a visité Ørsted.", "il a visité rsted", {"ø": 1}),
    ],
)
def test_letters_without_a_base_letter_stay_out_of_alphabet(lang, sentence, expected, foreign):
    normalizer = normalizer_for(lang)
    result = normalizer(sentence)
    assert result.foreign == foreign and normalizer.reject_reason(result) == "out_of_alphabet"
    assert result.text == expected


def _latin_letters_of(lang):
    """The letters of a recipe's alphabet in the Latin blocks (a-z, Latin-1, Extended-A/B)."""
    letter = re.compile(f"[{read_language_data(lang)['text']['alphabet']}]")
    candidates = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(0xC0, 0x250)]
    return [ch for ch in candidates if ch == ch.lower() and letter.fullmatch(ch)]


@pytest.mark.parametrize("lang", LATIN)
def test_letters_of_the_alphabet_are_never_folded(lang):
    normalizer = normalizer_for(lang)
    for ch in _latin_letters_of(lang):
        result = normalizer(f"x{ch}x")
        assert result.text == f"x{ch}x" and not result.folded, (lang, ch)
    # spot checks of native letters with diacritics
    native = {"et": "õäöüšž", "sv-SE": "åäö", "pl": "ąćęłńóśźż", "es": "ñáéíóúü", "de": "äöüß"}
    for ch in native.get(lang, ""):
        assert normalizer.normalize(ch) == ch, (lang, ch)


@pytest.mark.parametrize(
    "lang, sentence",
    [
        ("uk", "Семён живе в Києві."),  # a Russian name: ё is not Ukrainian
        ("ru", "Я жыву ў Мінску."),  # Belarusian
    ],
)
def test_cyrillic_recipes_keep_other_cyrillic_letters_out(lang, sentence):
    normalizer = normalizer_for(lang)
    result = normalizer(sentence)
    assert normalizer.reject_reason(result) == "out_of_alphabet" and not result.folded


def test_foreign_letter_policy_is_declared_for_every_recipe():
    langs = LATIN + ["ar", "fa", "ja", "ru", "th", "uk", "zh-CN"]
    declared = {lang: read_language_data(lang)["text"]["foreign_letters"] for lang in langs}
    assert declared == {
        **{lang: "fold" for lang in LATIN + ["ja", "zh-CN"]},
        **{lang: "skip" for lang in ["ar", "fa", "ru", "th", "uk"]},
    }


# ---------------------------------------------------------------------------
# Latin letters in Japanese and Chinese


@pytest.mark.parametrize(
    "lang, sentence, expected",
    [
        ("ja", "ＮＨＫのニュースを見ました。", "nhkのニュースを見ました"),  # full-width letters
        ("ja", "新しいTシャツを買った", "新しいtシャツを買った"),
        ("ja", "Pokémonが大好きです", "pokemonが大好きです"),
        ("zh-CN", "我买了一件T恤。", "我买了一件t恤"),
        ("zh-CN", "我们去唱卡拉OK吧！", "我们去唱卡拉ok吧"),
        ("zh-CN", "他是公司的ＣＥＯ。", "他是公司的ceo"),
        ("zh-CN", "他用 iPhone 拍照", "他用iphone拍照"),  # spaces removed, as everywhere in zh-CN
    ],
)
def test_latin_letters_in_japanese_and_chinese_are_kept(lang, sentence, expected):
    check(lang, sentence, expected)


def test_digits_still_skip_japanese_and_chinese_rows():
    check("ja", "ＣＤを３枚買った。", "cdを枚買った", "digits")
    check("zh-CN", "我有3个苹果", "我有个苹果", "digits")


# ---------------------------------------------------------------------------
# Arabic typed on Persian or Urdu keyboards


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("ھذا الكتاب جميل", "هذا الكتاب جميل"),  # do-chashmi heh U+06BE
        ("ہذا بيتی", "هذا بيتي"),  # heh goal U+06C1, Farsi yeh
        ("ذهبت إلى مكتبة الجامعة", "ذهبت الي مكتبة الجامعة"),
    ],
)
def test_arabic_keyboard_variants(sentence, expected):
    check("ar", sentence, expected)


# ---------------------------------------------------------------------------
# Skip rates in the preparation log


def _report(train_rows, train_skipped, **train_counts):
    split = {"kept": 0, "hours": 0.0, "digits": {}, "out_of_alphabet_characters": {}, "folded_letters": {}}
    train = {
        **split,
        "rows_read": train_rows,
        "kept": train_rows - sum(train_skipped.values()),
        "skipped": train_skipped,
        **train_counts,
    }
    dev = {**split, "rows_read": 100, "kept": 60, "skipped": {"out_of_alphabet": 40}}
    return {"splits": {"train": train, "dev": dev}}


def test_a_training_skip_rate_above_two_percent_is_a_warning(caplog):
    report = _report(
        1000,
        {"out_of_alphabet": 50, "digits": 15},
        out_of_alphabet_characters={"\u06be": 41, "é": 9},
        digits={"1": 12, "2": 3},
    )
    with caplog.at_level(logging.INFO, logger="crossling_asr.data.common_voice"):
        _log_report(report)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # digits at 1.5% and dev (never filtered) do not warn
    (message,) = warnings
    assert "50 of 1000 rows (5.0%" in message and "out_of_alphabet" in message
    assert "U+06BE ARABIC LETTER HEH DOACHASHMEE (41)" in message
    assert message.index("U+06BE") < message.index("U+00E9")


def test_a_skip_reason_without_characters_warns_with_its_rate(caplog):
    with caplog.at_level(logging.INFO, logger="crossling_asr.data.common_voice"):
        _log_report(_report(200, {"missing_clip": 9, "too_long": 4}))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["train: 9 of 200 rows (4.5%, above 2%) skipped for missing_clip"]


def test_folded_letters_are_logged(caplog):
    with caplog.at_level(logging.INFO, logger="crossling_asr.data.common_voice"):
        _log_report(_report(100, {}, folded_letters={"é": 3}))
    assert any("U+00E9 LATIN SMALL LETTER E WITH ACUTE (3)" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_nfd_input_gives_the_same_text():
    """Some CV sentences are stored decomposed; every rule above sees NFKC text."""
    for lang, sentence in [("it", "Perche' la citta' e' bella"), ("de", "Café in Düsseldorf"), ("uk", "П′ять сімʹї")]:
        normalizer = normalizer_for(lang)
        assert normalizer.normalize(unicodedata.normalize("NFD", sentence)) == normalizer.normalize(sentence)
