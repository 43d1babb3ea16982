"""A new language's alphabet comes from CLDR (through ICU), completed by its sample sentences.

The expected alphabets are typed out here from the languages' spelling, not read
back from ICU: a handful of sentences must give the whole alphabet.
"""

import re
import unicodedata
import warnings

import pytest
import ruamel.yaml

from crossling_asr.data.cldr import cldr_exemplars
from crossling_asr.data.text import LanguageSpec, TextNormalizer
from crossling_asr.hparams import RECIPES_DIR
from crossling_asr.new_language.scaffold import create_recipe

# Vietnamese: 17 consonant letters and 12 vowels, each with its 5 tone marks as well (72 vowel letters).
VIETNAMESE_CONSONANTS = "b c d đ g h k l m n p q r s t v x"
VIETNAMESE_VOWELS = """
a à á ả ã ạ   ă ằ ắ ẳ ẵ ặ   â ầ ấ ẩ ẫ ậ
e è é ẻ ẽ ẹ   ê ề ế ể ễ ệ   i ì í ỉ ĩ ị
o ò ó ỏ õ ọ   ô ồ ố ổ ỗ ộ   ơ ờ ớ ở ỡ ợ
u ù ú ủ ũ ụ   ư ừ ứ ử ữ ự   y ỳ ý ỷ ỹ ỵ
"""
VIETNAMESE = set((VIETNAMESE_CONSONANTS + VIETNAMESE_VOWELS).split())

# Hindi (Devanagari): letters, and the marks written on them, one code point each.
HINDI = set(
    "ँ ं ः"  # candrabindu, anusvara, visarga
    " अ आ इ ई उ ऊ ऋ ऌ ऍ ए ऐ ऑ ओ औ"  # independent vowels
    " क ख ग घ ङ च छ ज झ ञ ट ठ ड ढ ण त थ द ध न प फ ब भ म य र ल ळ व श ष स ह"  # consonants
    " ़ ऽ"  # nukta, avagraha
    " ा ि ी ु ू ृ ॅ े ै ॉ ो ौ ्"  # vowel signs, virama
    " ॐ".split()
)

VIETNAMESE_SENTENCES = [
    "Phở Hà Nội rất ngon.",
    "Tôi thích uống “cà phê” sữa đá.",
    "Hòa bình là mong ước của mọi người.",
    "Nước sông Hồng chảy về biển Đông.",
]


def scaffold(code, sentences, tmp_path, **options):
    """create_recipe(code) from `sentences`: (hparams text, normaliser, printed lines)."""
    lines = []
    tmp_path.mkdir(parents=True, exist_ok=True)
    sample = tmp_path / f"{code}.txt"
    sample.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    create_recipe(
        code,
        sentences_file=sample if sentences else None,
        name="Test language",
        iso639_3="xxx",
        family="Test family",
        recipes_dir=tmp_path / "recipes",
        echo=lines.append,
        ask=None,
        **options,
    )
    text_file = tmp_path / "recipes" / code / "hparams" / f"{code}.yaml"
    text = ruamel.yaml.YAML(typ="safe", pure=True).load(text_file.read_text(encoding="utf-8"))["text"]
    return text, TextNormalizer(LanguageSpec(code=code, **text)), lines


def letters_of(alphabet, start=0, end=0x10000):
    """Every character from `start` to `end` that the alphabet's regex class matches."""
    pattern = re.compile(f"[{alphabet}]")
    return {chr(p) for p in range(start, end) if pattern.fullmatch(chr(p))}


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_vietnamese_gets_all_89_letters_from_four_sentences(form, tmp_path):
    sentences = [unicodedata.normalize(form, s) for s in VIETNAMESE_SENTENCES]
    text, normalizer, lines = scaffold("vi", sentences, tmp_path)
    assert letters_of(text["alphabet"]) == VIETNAMESE
    assert len(VIETNAMESE) == 89
    # Letters the four sentences never show are in: "Phở Hà Nội", "cà phê" keep every letter.
    assert normalizer.normalize(unicodedata.normalize(form, "“Phở Hà Nội” và cà phê.")) == "phở hà nội và cà phê"
    for word in ("kẹo", "ỷ", "thẳng", "vẵn", "ỵ", "gỗ"):
        assert normalizer.reject_reason(normalizer(word)) is None, word
    # f j w z are CLDR's foreign letters for Vietnamese: left out, and named in the yaml.
    assert normalizer.reject_reason(normalizer("wifi")) == "out_of_alphabet"
    assert text["foreign_letters"] == "skip"
    report = "\n".join(lines)
    assert "CLDR's standard exemplar set of vi" in report
    # Letters of CLDR the sentences never show are reported (ỹ is in none of them).
    never = next(line for line in lines if "never show" in line)
    assert "ỹ" in never and "ở" not in never


def test_hindi_abugida_gets_its_letters_and_marks_in_nfc_and_nfd(tmp_path):
    qa = "\u0958"  # क़, a precomposed letter that NFC (and so NFKC) writes as क + nukta
    sentences = ["मैं आज बाज़ार जा रहा हूँ।", f"{qa}िस्सा “किताब” पढ़ी है?", unicodedata.normalize("NFD", "बच्चे स्कूल में खेल रहे हैं।")]
    text, normalizer, _ = scaffold("hi", sentences, tmp_path)
    assert letters_of(text["alphabet"]) == HINDI
    assert qa not in HINDI and "\u093c" in HINDI  # the nukta is a mark of the alphabet
    assert normalizer.normalize(f"{qa}िस्सा") == normalizer.normalize("क\u093cिस्सा") == "क\u093cिस्सा"
    assert normalizer.normalize("“किताब” पढ़ी है?") == unicodedata.normalize("NFC", "किताब पढ़ी है")
    # Letters no sentence shows: the vowel ऌ, the consonant ळ, the avagraha.
    for word in ("ऌ", "ळ", "सोऽहम्"):
        assert normalizer.reject_reason(normalizer(word)) is None, word


def test_korean_gets_every_hangul_syllable(tmp_path):
    sentences = ["안녕하세요. 저는 학생입니다.", "오늘 날씨가 좋네요!", "“한국어” 공부는 재미있어요."]
    text, normalizer, _ = scaffold(
        "ko", [unicodedata.normalize("NFD", s) for s in sentences[:2]] + sentences[2:], tmp_path
    )
    assert letters_of(text["alphabet"]) == {chr(p) for p in range(0xAC00, 0xD7A4)}  # 가 ... 힣, 11172 syllables
    assert text["word_delimiter"] is True
    # Jamo typed one by one (NFD) are the syllables again.
    assert normalizer.normalize(unicodedata.normalize("NFD", "“똠얌꿍” 먹었어요")) == "똠얌꿍 먹었어요"


def test_a_language_cldr_does_not_know_falls_back_to_its_sentences_and_says_so(tmp_path):
    assert cldr_exemplars("ba") is None  # Bashkir
    sentences = [
        "Башҡортостан матур ил.",
        "Мин һеҙгә рәхмәт әйтәм.",  # ҙ and һ are in no odd-numbered sentence
        "Беҙ бөгөн мәктәпкә барабыҙ.",
        "Ул китап ала.",
    ]
    text, normalizer, lines = scaffold("ba", sentences, tmp_path)
    report = "\n".join(lines)
    assert "CLDR does not know ba" in report
    found = {c for s in sentences for c in s.lower() if c.isalpha()}
    assert letters_of(text["alphabet"]) == found
    # The kept figure: an alphabet derived from sentences 1 and 3, measured on 2 and 4 (ҙ, һ, ә, ... unseen).
    kept = next(line for line in lines if line.startswith("Sample sentences"))
    assert "odd-numbered" in kept and "{'out_of_alphabet': 1, 'kept': 1} of 2" in kept


def test_the_kept_figure_is_measured_on_cldr_alone_not_on_what_the_sentences_added(tmp_path):
    # Armenian: CLDR's alphabet is ա ... ֆ; the ligature և is in its auxiliary (foreign) set, but
    # the sentences write it, so it is added (and the report says so).
    sentences = ["Ինչո՞ւ ես ուշացել։", "Մենք և նրանք գնացինք Երևան։", "Ընկե՛ր, արի այստեղ։"]
    text, normalizer, lines = scaffold("hy-AM", sentences, tmp_path)
    assert letters_of(text["alphabet"]) == {chr(p) for p in range(0x0561, 0x0587)} | {"և"}
    assert any("write CLDR's foreign letters և" in line and "added" in line for line in lines)
    kept = next(line for line in lines if line.startswith("Sample sentences"))
    assert "CLDR's hy_AM alphabet alone" in kept and "{'kept': 2, 'out_of_alphabet': 1} of 3" in kept
    assert normalizer.normalize(sentences[1]) == "մենք և նրանք գնացինք երևան"
    # A Latin letter in neither of CLDR's Vietnamese sets: added, named, and not counted as kept.
    text, _, lines = scaffold("vi", VIETNAMESE_SENTENCES + ["Anh ấy tên là Çelik."], tmp_path / "vi")
    assert letters_of(text["alphabet"]) == VIETNAMESE | {"ç"}
    assert any("add letters CLDR does not list: ç" in line for line in lines)
    kept = next(line for line in lines if line.startswith("Sample sentences"))
    assert "{'kept': 4, 'out_of_alphabet': 1} of 5" in kept


def test_foreign_letters_of_cldr_are_added_only_when_the_sentences_write_them_often(tmp_path):
    # Urdu: CLDR's auxiliary set holds ں and آ, which Urdu writes all the time; a rare f of a
    # Vietnamese sentence stays foreign.
    sentences = ["آپ کیسے ہیں؟", "میں ٹھیک ہوں۔", "یہ کتاب اچھی ہے۔"]
    text, normalizer, lines = scaffold("ur", sentences, tmp_path)
    assert {"ں", "آ"} <= letters_of(text["alphabet"])
    assert [normalizer.normalize(s) for s in sentences] == ["آپ کیسے ہیں", "میں ٹھیک ہوں", "یہ کتاب اچھی ہے"]
    many = VIETNAMESE_SENTENCES * 5 + ["Tôi dùng wifi ở nhà."]
    text, normalizer, lines = scaffold("vi", many, tmp_path / "vi")
    assert "w" not in letters_of(text["alphabet"])
    assert any("foreign letters in a few sentences" in line and "f w" in line for line in lines)


def test_vietnamese_tone_placement_variants_are_one_spelling(tmp_path):
    text, normalizer, lines = scaffold("vi", VIETNAMESE_SENTENCES, tmp_path)
    assert text["word_map"]["-òa"] == "oà" and len(text["word_map"]) == 15
    pairs = {
        "Hòa bình": "hoà bình",
        "hoà bình": "hoà bình",
        "Thủy Tiên": "thuỷ tiên",
        "Khỏe không?": "khoẻ không",
        "tùy ý": "tuỳ ý",
        "họa sĩ": "hoạ sĩ",
        "xòe": "xoè",
        "Hoàng hôn": "hoàng hôn",  # a closed syllable: both placements agree
        "quý": "quý",
        "qúy": "quý",
    }
    assert {s: normalizer.normalize(s) for s in pairs} == pairs
    assert any(line.startswith("Variant spellings unified") for line in lines)


def test_fold_never_strips_a_letter_cldr_lists_as_the_languages_own():
    # An incomplete Vietnamese alphabet with fold: ở, ộ stay out of alphabet, named in a warning.
    with pytest.warns(UserWarning, match=r"vi: foreign_letters: fold leaves .*ộ.*ở"):
        normalizer = TextNormalizer(LanguageSpec(code="vi", alphabet="a-zàđ", foreign_letters="fold"))
    result = normalizer("Phở Hà Nội")
    assert normalizer.reject_reason(result) == "out_of_alphabet" and not result.folded
    assert set(result.foreign) == {"ở", "ộ"}
    # Listed on purpose in fold_own_letters, a letter folds; foreign letters fold as before.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        portuguese = TextNormalizer(
            LanguageSpec(code="pt", alphabet="a-záàâãçéêíóôõú", foreign_letters="fold", fold_own_letters="ò")
        )
        assert portuguese.normalize("Niccolò em España") == "niccolo em espana"
        # No CLDR data, nothing to protect: fold as asked.
        assert TextNormalizer(LanguageSpec(code="ba", alphabet="a-z", foreign_letters="fold")).normalize("é") == "e"


@pytest.mark.parametrize("code", sorted(p.name for p in RECIPES_DIR.iterdir() if (p / "hparams").is_dir()))
def test_shipped_recipes_fold_no_letter_of_their_own(code):
    data = ruamel.yaml.YAML(typ="safe", pure=True).load((RECIPES_DIR / code / "hparams" / f"{code}.yaml").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextNormalizer(LanguageSpec(code=code, **data["text"]))


def test_nothing_kept_between_letters_is_said_plainly_and_cldr_gives_the_apostrophe(tmp_path):
    _, _, lines = scaffold("vi", VIETNAMESE_SENTENCES, tmp_path)
    line = next(line for line in lines if line.startswith("Kept between letters"))
    assert line.startswith("Kept between letters: nothing") and "''" not in line
    # Ukrainian: CLDR lists the apostrophe among its letters; no sentence needed to keep it.
    text, normalizer, lines = scaffold("uk", ["Добрий день."], tmp_path / "uk")
    assert text["word_internal_punctuation"] == "'"
    assert any(line.startswith("Kept between letters: U+0027 apostrophe (from CLDR)") for line in lines)
    assert normalizer.normalize("П’ять м'ячів") == "п'ять м'ячів"


def test_without_sentences_the_alphabet_is_cldrs(tmp_path):
    text, normalizer, lines = scaffold("uk", [], tmp_path)
    assert letters_of(text["alphabet"]) == set("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя")
    assert text["char_map"]  # Cyrillic stress marks deleted, the script known from CLDR
    assert normalizer.normalize("Мо́ва") == "мова"
    text, _, _ = scaffold("ja", [], tmp_path / "ja")
    assert text["word_delimiter"] is False


def test_the_kept_figure_of_a_given_alphabet_is_measured_on_every_sentence(tmp_path):
    _, _, lines = scaffold("vi", VIETNAMESE_SENTENCES, tmp_path, alphabet="a-zàđ")
    kept = next(line for line in lines if line.startswith("Sample sentences"))
    assert kept == "Sample sentences under the alphabet given with --alphabet: {'out_of_alphabet': 4} of 4"


def test_multi_letter_exemplars_give_their_letters(tmp_path):
    # CLDR's Belarusian set holds the digraphs "дж" and "дз": their letters are in the alphabet, once.
    sentences = [unicodedata.normalize("NFD", "Мы пайшлі ў лес."), "Джала і дзверы."]
    text, normalizer, _ = scaffold("be", sentences, tmp_path)
    assert letters_of(text["alphabet"]) == set("абвгдеёжзійклмнопрстуўфхцчшыьэюя")
    assert normalizer.normalize(sentences[0]) == "мы пайшлі ў лес"
