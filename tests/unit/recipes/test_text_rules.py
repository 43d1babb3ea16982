"""The 18 recipes' text rules on real sentences of each language, of the kind Common Voice has
(quotes, elisions, diacritics, mixed punctuation), with the exact normalised form."""

import unicodedata

import pytest

from crossling_asr.data.text import LanguageSpec, TextNormalizer
from tests.helpers.languages import LANGUAGES, normalizer_for

# (sentence, normalised text, reason the sentence cannot be a training target or None)
CASES = {
    "ar": [
        # harakat and tanwin deleted; إ -> ا, ى -> ي; guillemets are punctuation
        ("«ذهبَ الولدُ إلى المدرسةِ صباحاً.»", "ذهب الولد الي المدرسة صباحا", None),
        ('هل قرأتَ كتابَ "الأيام" لطه حسين؟', "هل قرات كتاب الايام لطه حسين", None),
        # shadda deleted, tatweel deleted
        ("قالت: إنّ الجوَّ جميـــل اليوم!", "قالت ان الجو جميل اليوم", None),
        # presentation-form ligature lam-alef (NFKC), Arabic comma, ى -> ي
        ("ﻻ أعرف، ربما في المستشفى.", "لا اعرف ربما في المستشفي", None),
        # hamza seats ؤ ئ and taa marbuta are kept
        ("سؤالُ الرئيسِ كان واضحاً", "سؤال الرئيس كان واضحا", None),
        ("وُلد في عام ١٩٨٠.", "ولد في عام", "digits"),
    ],
    "fa": [
        # ZWNJ kept inside the word
        ("من هر روز به مدرسه می\u200cروم.", "من هر روز به مدرسه می\u200cروم", None),
        # Arabic kaf and yeh typed for Persian ones
        ("كتاب\u200cهاي زيادي خريدم", "کتاب\u200cهای زیادی خریدم", None),
        # ezafe hamza deleted
        ("خانهٔ ما بزرگ است.", "خانه ما بزرگ است", None),
        ("«سلام»، حالِ شما چطور است؟", "سلام حال شما چطور است", None),
        # أ -> ا, ئ kept
        ("مسئله تأثیر زیادی دارد", "مسئله تاثیر زیادی دارد", None),
        ("او در سال ۱۴۰۰ به دنیا آمد.", "او در سال به دنیا آمد", "digits"),
        # a ZWNJ at a word's edge means nothing
        ("می\u200c روم", "می روم", None),
    ],
    "de": [
        ("„Wie geht’s dir?“, fragte sie.", "wie gehts dir fragte sie", None),
        ("Hab' ich dir das nicht gesagt?", "hab ich dir das nicht gesagt", None),
        ("Er wohnt in Baden-Württemberg.", "er wohnt in baden württemberg", None),
        ("GROẞE Freude über das Mädchen!", "große freude über das mädchen", None),
        ("Die Straße ist 5 km lang.", "die straße ist km lang", "digits"),
    ],
    "en": [
        ("\"Don't worry, it's fine,\" she said.", "don't worry it's fine she said", None),
        ("The students' books were left at the café.", "the students books were left at the cafe", None),
        ("It's a well-known fact — isn't it?", "it's a well known fact isn't it", None),
        ("“Naïve” isn't spelled with an umlaut.", "naive isn't spelled with an umlaut", None),
        ("It’s five o’clock.", "it's five o'clock", None),
        ("We met in 1999.", "we met in", "digits"),
    ],
    "es": [
        ('"¿Qué hora es?", preguntó el niño.', "qué hora es preguntó el niño", None),
        ("¡El pingüino nada en el agua!", "el pingüino nada en el agua", None),
        ("El acuerdo franco-alemán se firmó en 1963.", "el acuerdo franco alemán se firmó en", "digits"),
    ],
    "et": [
        ("Õhtul läksime jõe äärde.", "õhtul läksime jõe äärde", None),
        ("Ta ütles: „Tere hommikust!“", "ta ütles tere hommikust", None),
        ("Šokolaad ja žürii – mõlemad laenud.", "šokolaad ja žürii mõlemad laenud", None),
    ],
    "fr": [
        ("« L’homme qu’il a vu est arrivé aujourd’hui. »", "l'homme qu'il a vu est arrivé aujourd'hui", None),
        ("Peut-être viendra-t-il demain\u202f?", "peut être viendra t il demain", None),
        ("Le cœur de Noël ; c'est là !", "le coeur de noël c'est là", None),
        ("Il a dit : 'bonjour'.", "il a dit bonjour", None),
        ("Ça coûte 20 euros.", "ça coûte euros", "digits"),
    ],
    "id": [
        ("Anak-anak bermain di halaman sekolah.", "anak anak bermain di halaman sekolah", None),
        ("Salat Jum'at dimulai pukul dua belas.", "salat jum'at dimulai pukul dua belas", None),
        ("“Terima kasih,” kata ibu.", "terima kasih kata ibu", None),
    ],
    "it": [
        # "E'" written for "È"; the truncation "po'" loses its apostrophe
        ("E' vero, ne voglio un po'.", "è vero ne voglio un po", None),
        ("Dell'anno scorso ricordo poco.", "dell'anno scorso ricordo poco", None),
        ("L’acqua è più fredda, perché piove.", "l'acqua è più fredda perché piove", None),
        ("Dammi un po' di caffè!", "dammi un po di caffè", None),
        ("«Così è, se vi pare»", "così è se vi pare", None),
    ],
    "ja": [
        ("「今日は、いい天気ですね。」", "今日はいい天気ですね", None),
        ("私はコーヒーが好きです。", "私はコーヒーが好きです", None),
        ("人々は時々、東京へ行く。", "人々は時々東京へ行く", None),
        # half-width katakana become full-width (NFKC)
        ("ﾃﾚﾋﾞを見ました", "テレビを見ました", None),
        ("一ヶ月後に会いましょう！", "一ヶ月後に会いましょう", None),
        ("二〇二一年の夏", "二〇二一年の夏", None),
        ("トム・ハンクスは俳優です", "トムハンクスは俳優です", None),
        # full-width Latin letters become a-z; digits skip the sentence
        ("ＣＤを３枚買った。", "cdを枚買った", "digits"),
    ],
    "nl": [
        ("Hij kocht twee auto's en één fiets.", "hij kocht twee auto's en één fiets", None),
        ("’s Avonds gaan we naar België.", "s avonds gaan we naar belgië", None),
        ("De ideeën van Noord-Holland.", "de ideeën van noord holland", None),
        ("Zo'n mooie dag!", "zo'n mooie dag", None),
    ],
    "pl": [
        ("Żółta łódź płynęła po jeziorze.", "żółta łódź płynęła po jeziorze", None),
        ("„Dzień dobry” – powiedziała pani.", "dzień dobry powiedziała pani", None),
        ("Spotkałem Kennedy'ego w Białymstoku.", "spotkałem kennedy'ego w białymstoku", None),
        ("Gęś je źdźbło trawy.", "gęś je źdźbło trawy", None),
    ],
    "pt": [
        ("Você já foi à praia hoje?", "você já foi à praia hoje", None),
        ("O guarda-chuva está na caixa-d'água.", "o guarda chuva está na caixa d'água", None),
        ("Ele disse-me: «Não sei.»", "ele disse me não sei", None),
        ("A lingüiça estava ótima.", "a linguiça estava ótima", None),
    ],
    "ru": [
        # Latin o and e typed inside Russian words; a Latin word keeps its letters
        ("Мы пoехали на мoрe.", "мы поехали на море", None),
        ("Это OK.", "это", "out_of_alphabet"),
        ("Ёлка стояла в углу, ещё зелёная.", "елка стояла в углу еще зеленая", None),
        ("«Кто-то пришёл?» — спросила мама.", "кто то пришел спросила мама", None),
        ("Это за\u0301мок, а не замо\u0301к.", "это замок а не замок", None),
        ("В 2020 году.", "в году", "digits"),
    ],
    "sv-SE": [
        ("Jag går till affären på måndag.", "jag går till affären på måndag", None),
        ("”Vilken idé!” sa hon.", "vilken idé sa hon", None),
        # S:t is read "sankt"
        ("Hon bor i S:t Petersburg.", "hon bor i sankt petersburg", None),
    ],
    "th": [
        ("วันนี้อากาศร้อนมาก", "วันนี้อากาศร้อนมาก", None),
        # sara am survives NFKC; ๆ kept; spaces between phrases removed
        ("ฉันดื่มน้ำ เด็กๆ กินข้าว", "ฉันดื่มน้ำเด็กๆกินข้าว", None),
        ("เเมวของฉัน", "แมวของฉัน", None),
        ("“สวัสดีครับ” เขากล่าว", "สวัสดีครับเขากล่าว", None),
        ("ไปกรุงเทพฯ ราคา ๕๐ บาท", "ไปกรุงเทพฯราคาบาท", "digits"),
    ],
    "uk": [
        # Latin i / o / e typed inside Ukrainian words become the Cyrillic letters they look like;
        # a word wholly in Latin stays Latin, and its sentence is not a training target
        ("Цiкаво, що вiн скажe.", "цікаво що він скаже", None),
        ("Я купив iPhone.", "я купив", "out_of_alphabet"),
        ("М’ясо й п'ять яблук лежали на столі.", "м'ясо й п'ять яблук лежали на столі", None),
        ("Ґанок біля нашої хати — старий.", "ґанок біля нашої хати старий", None),
        ("Сімʼя їхала до Європи.", "сім'я їхала до європи", None),
        ("«Будь-який» варіант.", "будь який варіант", None),
        ("Это не украинский.", "то не украинский", "out_of_alphabet"),
    ],
    "zh-CN": [
        ("今天天气很好，我们去公园吧！", "今天天气很好我们去公园吧", None),
        ("他说：“我喜欢《红楼梦》。”", "他说我喜欢红楼梦", None),
        ("马克·吐温是美国作家。", "马克吐温是美国作家", None),
        ("二〇二一年", "二〇二一年", None),
        ("我买了一件T恤。", "我买了一件t恤", None),
    ],
}


def test_every_language_has_cases():
    assert sorted(CASES) == sorted(LANGUAGES)


@pytest.mark.parametrize(
    "lang,sentence,expected,reason", [(lang, s, e, r) for lang, cases in CASES.items() for s, e, r in cases]
)
def test_normalisation(lang, sentence, expected, reason):
    normalizer = normalizer_for(lang)
    result = normalizer(sentence)
    assert result.text == expected
    assert normalizer.reject_reason(result) == reason
    # NFD input (as some CV sentences are) gives the same result
    assert normalizer(unicodedata.normalize("NFD", sentence)).text == expected


def test_turkish_dotted_and_dotless_i():
    """A case map before lower-casing keeps Turkish ı/i apart (str.lower() cannot)."""
    tr = LanguageSpec(code="tr", alphabet="a-zçğıöşü", word_internal_punctuation="'", case_map={"I": "ı", "İ": "i"})
    normalizer = TextNormalizer(tr)
    assert normalizer.normalize("DİYARBAKIR ve IĞDIR'a gittik.") == "diyarbakır ve ığdır'a gittik"
    assert normalizer.normalize("Işık İstanbul'da") == "ışık istanbul'da"
    # Without the case map, "I" would become the Latin "i" (İ is "i" in every language).
    plain = TextNormalizer(LanguageSpec(code="tr", alphabet="a-zçğıöşü"))
    assert plain.normalize("IĞDIR") == "iğdir"
    assert plain.normalize("İstanbul") == "istanbul"


def test_persian_zwnj_is_one_word_and_one_token():
    normalizer = normalizer_for("fa")
    text = normalizer.normalize("کتاب\u200c\u200cها را می\u200cخوانم")
    assert text.split() == ["کتاب\u200cها", "را", "می\u200cخوانم"]
