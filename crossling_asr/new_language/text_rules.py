"""The text rules a sample of a language's sentences calls for: script, alphabet, word-internal
punctuation, case map, char map, word delimiter.

Every function looks at the sentences as crossling_asr.data.text.TextNormalizer
rewrites them before checking their characters (`TextNormalizer.rewrite`),
so what is derived here is what the recipe's normaliser will see.
"""

import unicodedata
from collections import Counter

from crossling_asr.data.text import LanguageSpec, TextNormalizer

# Before the alphabet is known every letter of any script is taken as the language's
# (the regex class body of "a letter": a word character that is not a digit or "_").
ANY_LETTER = r"^\W\d_"
# A character must make up at least this share of the sample's letters to
# enter a derived alphabet (in a Common Voice validated.tsv, rarer ones are
# names and words of other languages); in a small sample every letter counts.
MIN_SHARE = 1e-4
MIN_COUNT = 1
# A script making up at least this share of the sample's letters is part of
# the derived alphabet (Japanese mixes kanji, hiragana and katakana).
MIN_SCRIPT_SHARE = 0.05
# Unicode name prefixes that belong to one writing system.
SCRIPT_GROUPS = {
    "HIRAGANA": "CJK",
    "KATAKANA": "CJK",
    "KATAKANA-HIRAGANA": "CJK",
    "IDEOGRAPHIC": "CJK",
    "HALFWIDTH": "CJK",
    "CJK": "CJK",
}
# Scripts whose every character may occur in text (ideographs, syllable
# blocks): when a sample shows one, its whole block enters the alphabet, not
# just the characters the sample happens to contain.
FULL_BLOCKS = {
    "CJK": [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F)],
    "IDEOGRAPHIC": [(0x3005, 0x3007)],
    "HIRAGANA": [(0x3041, 0x3096), (0x309D, 0x309F)],
    "KATAKANA": [(0x30A1, 0x30FA), (0x30FC, 0x30FF)],
    "KATAKANA-HIRAGANA": [(0x30FC, 0x30FC)],
    "HANGUL": [(0xAC00, 0xD7A3)],
}
# Scripts written without spaces between words.
UNSPACED_SCRIPTS = {"CJK", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"}
# Fewer spaces per letter than this: a sample written without spaces.
MIN_SPACES_PER_LETTER = 0.03
# Latin orthographies with a dotted and a dotless i (Turkish, Azerbaijani,
# Crimean Tatar, Gagauz): "I" lower-cases to "ı" and "İ" to "i", which
# str.lower() gets wrong ("İ" -> "i" + U+0307). Given to any language whose
# code is listed or whose sample sentences contain "ı".
DOTLESS_I_CASE_MAP = {"I": "ı", "İ": "i"}
DOTLESS_I_LANGUAGES = {"tr", "az", "crh", "gag"}
# Characters that some orthographies write inside words: the apostrophe
# (l'homme, İstanbul'da, п'ять), the Catalan middle dot (col·lecció), ZWNJ
# (Persian می‌روم), the Hebrew geresh and gershayim of abbreviations (צה״ל).
# One is kept between letters when at least this share of the sample
# sentences has it there.
WORD_INTERNAL_CANDIDATES = "'\u00b7\u200c\u05f3\u05f4"
MIN_WORD_INTERNAL_SHARE = 0.01


def _deleted(*ranges):
    return {chr(p): "" for start, end in ranges for p in range(start, end + 1)}


# Marks a script writes only sometimes (as the shipped ar, fa and ru recipes
# delete them): for the sample's main script they become char_map entries
# deleting them, so they never enter the alphabet and "мо́ва" is "мова".
SCRIPT_CHAR_MAPS = {
    # harakat, superscript alef, combining madda/hamza, tatweel
    "ARABIC": _deleted((0x064B, 0x0655), (0x0670, 0x0670), (0x0640, 0x0640)),
    # cantillation and niqqud (vowel points, dagesh, shin/sin dots)
    "HEBREW": _deleted((0x0591, 0x05BD), (0x05BF, 0x05BF), (0x05C1, 0x05C2), (0x05C4, 0x05C5), (0x05C7, 0x05C7)),
    # stress accents (NFKC keeps them combining on Cyrillic letters)
    "CYRILLIC": _deleted((0x0300, 0x0301)),
    # stress, emphasis and question marks written on a word's vowel; NFKC splits
    # the letter "և" into "եւ" (ւ follows ե in no other spelling), put back together
    "ARMENIAN": {**_deleted((0x055B, 0x055C), (0x055E, 0x055E)), "եւ": "և"},
}


def dotless_i_case_map(code, sentences):
    """DOTLESS_I_CASE_MAP for a Turkic-style orthography (by code, or "ı" in the sample), else {}."""
    if code.split("-")[0].lower() in DOTLESS_I_LANGUAGES or any("ı" in s for s in sentences):
        return dict(DOTLESS_I_CASE_MAP)
    return {}


def sample_normalizer(code, case_map, char_map=None, lowercase=True, word_internal="", word_map=None):
    """The language's TextNormalizer before its alphabet is known (every letter counts as the language's)."""
    return TextNormalizer(
        LanguageSpec(
            code=code,
            alphabet=ANY_LETTER,
            word_internal_punctuation=word_internal,
            case_map=case_map,
            char_map=char_map or {},
            word_map=word_map or {},
            lowercase=lowercase,
        )
    )


def is_letter(ch):
    """Whether `ch` can be part of a word's letters (a letter or a mark)."""
    return unicodedata.category(ch)[0] in "LM"  # marks too: Indic vowel signs, virama


def _escape(ch):
    """A character as it should appear inside a regex class written in YAML."""
    if ch in "\\]^-[":
        return "\\" + ch
    if unicodedata.category(ch)[0] in "MC" or ord(ch) > 0xFFFF:
        return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"
    return ch


def compact_class(chars):
    """Regex class body for `chars`, runs of 4+ consecutive code points as ranges."""
    points = sorted({ord(c) for c in chars})
    parts, i = [], 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        if j - i >= 3:
            parts.append(f"{_escape(chr(points[i]))}-{_escape(chr(points[j]))}")
        else:
            parts.extend(_escape(chr(p)) for p in points[i : j + 1])
        i = j + 1
    return "".join(parts)


def script_of(ch):
    """First word of the character's Unicode name (LATIN, CYRILLIC, CJK, ...)."""
    first = unicodedata.name(ch, "UNKNOWN").split()[0]
    return SCRIPT_GROUPS.get(first, first)


def main_script_of(sentences, normalizer):
    """The script of most letters of the sample sentences (LATIN, CYRILLIC, ...), None without letters."""
    scripts = Counter(script_of(ch) for s in sentences for ch in normalizer.rewrite(s) if ch.isalpha())
    return scripts.most_common(1)[0][0] if scripts else None


def analyse_sentences(sentences, normalizer):
    """Letters and marks of sample sentences: (kept Counter, rare Counter, scripts Counter, spaces per letter)."""
    counts, spaces = Counter(), 0
    for sentence in sentences:
        text = normalizer.rewrite(sentence)
        spaces += len(text.split()) - 1 if text.strip() else 0
        counts.update(ch for ch in text if is_letter(ch))
    total = sum(counts.values())
    threshold = max(MIN_COUNT, MIN_SHARE * total)
    kept = Counter({c: n for c, n in counts.items() if n >= threshold})
    rare = Counter({c: n for c, n in counts.items() if n < threshold})
    scripts = Counter()
    for ch, n in kept.items():
        scripts[script_of(ch)] += n
    return kept, rare, scripts, spaces / max(1, total)


def with_full_blocks(letters):
    """`letters` plus the whole Unicode block of every FULL_BLOCKS script among them."""
    letters = set(letters)
    for prefix in {unicodedata.name(c, "?").split()[0] for c in letters} & set(FULL_BLOCKS):
        for start, end in FULL_BLOCKS[prefix]:
            letters |= {chr(p) for p in range(start, end + 1)}
    return letters


def alphabet_for_scripts(kept, scripts):
    """Letters of the language's script(s) (plus basic Latin where Latin is one); (letters, scripts)."""
    total = sum(scripts.values())
    main = [s for s, n in scripts.most_common() if n >= MIN_SCRIPT_SHARE * total]
    letters = {c for c in kept if script_of(c) in main or unicodedata.category(c)[0] == "M"}
    if "LATIN" in main:
        letters |= set("abcdefghijklmnopqrstuvwxyz")
    return with_full_blocks(letters), main


def written_without_spaces(main_scripts, spaces_per_letter):
    """Whether a sample in these scripts, with this many spaces per letter (None: no sample), is
    written without spaces."""
    return main_scripts[0] in UNSPACED_SCRIPTS or (
        spaces_per_letter is not None and spaces_per_letter < MIN_SPACES_PER_LETTER
    )


def word_internal_characters(sentences, normalizer):
    """The WORD_INTERNAL_CANDIDATES found between two letters in enough sample sentences."""
    found = Counter()
    for sentence in sentences:
        text = normalizer.rewrite(sentence)
        found.update(
            {
                ch
                for i, ch in enumerate(text[1:-1], 1)
                if ch in WORD_INTERNAL_CANDIDATES and is_letter(text[i - 1]) and is_letter(text[i + 1])
            }
        )
    return "".join(
        ch for ch in WORD_INTERNAL_CANDIDATES if found[ch] >= max(1, MIN_WORD_INTERNAL_SHARE * len(sentences))
    )


def frequent_words(sentences, normalizer, n=40):
    """The `n` most frequent words (2+ letters) of sentences that normalise cleanly."""
    counts = Counter()
    for sentence in sentences:
        result = normalizer(sentence)
        if normalizer.reject_reason(result) is None:
            counts.update(w for w in result.text.split() if len(w) >= 2)
    return [w for w, _ in counts.most_common(n)]
