"""One text normalisation for training transcripts, references and LM text.

Every language uses the same code path; what differs is data from the
language's hparams (see `LanguageSpec`). Using this one function everywhere
(training targets, dev/test references, n-gram LM text) keeps the acoustic
model, the LM and the scoring on the same alphabet.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections import Counter
from dataclasses import dataclass, field

from crossling_asr.data.cldr import cldr_exemplars

# Typographic variants that every language writes the same way in ASR targets.
TYPOGRAPHIC_MAP = {
    "\u2019": "'",  # right single quotation mark, the usual CV apostrophe
    "\u2018": "'",
    "\u02bc": "'",  # modifier letter apostrophe (Ukrainian)
    "\u02bb": "'",
    "`": "'",
    "\u00b4": "'",
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
}

# Typed for the apostrophe between two letters of a word ("П′ять", "П”ять",
# "Пʹять"): prime, right double quotation mark, modifier letter prime. They
# count as the apostrophe only there, and only in languages that keep it
# inside words; elsewhere ” closes a quote and stays punctuation.
APOSTROPHE_LOOKALIKES = "\u2032\u201d\u02b9"
# str.lower() turns the capital dotted İ ("İzmir") into "i" + U+0307, a
# combining dot no alphabet lists. It is "i" everywhere; the Turkic
# orthographies map "I" -> "ı" and "İ" -> "i" in their case_map, which runs first.
LOWERCASE_FIXES = {"\u0130": "i"}

OUT_OF_ALPHABET_POLICIES = ("skip", "delete", "space")
FOREIGN_LETTER_POLICIES = ("skip", "fold")
# Symbols a reader says as words ("&" is "y", "%" is "por ciento"): like
# digits, turning them into spaces would leave words in the audio that the
# transcript lacks, so they count as out-of-alphabet characters. Other
# symbols (emoji, bullets, arrows) are not read out and become spaces.
PRONOUNCED_SYMBOLS = frozenset("&%‰@§°#+=±×÷")
# A letter of any script (a word character that is not a digit or "_"): what
# must stand on both sides of a look-alike apostrophe, and what may not touch
# a key of a LanguageSpec's word_map.
_LETTER = r"[^\W\d_]"


def _is_glyph_modifier(ch):
    """Whether `ch` only chooses or frames the glyph of the character before it.

    Variation selectors (VS16 makes "❤️" the emoji form of "❤"; VS17 and up
    choose a kanji's glyph variant) and enclosing marks (the keycap of "1️⃣")
    are never read out: they are deleted and leave that character as it is.
    """
    code = ord(ch)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or unicodedata.category(ch) == "Me"


@dataclass(frozen=True)
class LanguageSpec:
    """What a language's transcripts may contain: pure data from its hparams.

    Arguments
    ---------
    code : Common Voice language code (e.g. "es", "sv-SE").
    alphabet : body of a regex character class with the letters a normalised
        transcript may contain, e.g. "a-zñáéíóúü" or "\\u0621-\\u064a".
    word_internal_punctuation : characters kept only between two letters
        (apostrophe in "l'homme", hyphen in "peut-être"); elsewhere a space.
    homoglyph_map : letters of another script that look like letters of the
        alphabet (Latin "i" typed for Ukrainian "і"), replaced only inside
        words that also contain letters of the alphabet: "вiн" -> "він",
        while a word wholly in the other script ("iPhone") stays as it is.
        Applied first, in the original case.
    case_map : applied before lower-casing (Turkish "I" -> "ı").
    char_map : applied after lower-casing; a value of "" deletes the key
        (Arabic harakat), other values unify variants (Russian "ё" -> "е").
    word_map : whole words, or word endings (keys starting with "-"),
        replaced after char_map; keys are written lower-case with the plain
        apostrophe. A key matches only where no letter follows it, and a
        whole-word key only where no letter precedes it either; a whole-word
        key wins over an ending, a longer ending over a shorter one. A match
        ending with an apostrophe that closes a quote opened by an apostrophe
        ("'casa'") is left alone. Italian: "-a'" -> "à" ("citta'" -> "città"),
        "po'" -> "po".
    foreign_letters : what happens to a letter outside the alphabet whose
        base letter (NFD with its combining marks removed) is in it: "skip"
        leaves it out of alphabet, "fold" writes the base letter ("é" in a
        German "Café" -> "e"; counted in `Normalized.folded`). Letters of the
        alphabet are never touched, whatever their diacritics, and neither
        are letters CLDR lists as the language's own (an alphabet missing
        "ộ" must not write Vietnamese "ộ" as "o"): those stay out of
        alphabet, with a warning naming them.
    fold_own_letters : letters of the language's own CLDR alphabet that
        "fold" may nevertheless write as their base letter, on purpose
        (Portuguese "ò", found only in Italian names: "Niccolò" -> "niccolo").
    lowercase : lower-case the text (no effect on caseless scripts).
    word_delimiter : False for scripts written without spaces (ja, zh-CN, th):
        spaces are then removed and CER is the meaningful metric.
    out_of_alphabet : what to do with an utterance that still has digits or
        characters outside the alphabet: "skip" it (counted by reason),
        "delete" those characters, or replace them with a "space".
    """

    code: str
    alphabet: str
    word_internal_punctuation: str = ""
    homoglyph_map: dict = field(default_factory=dict)
    case_map: dict = field(default_factory=dict)
    char_map: dict = field(default_factory=dict)
    word_map: dict = field(default_factory=dict)
    lowercase: bool = True
    word_delimiter: bool = True
    out_of_alphabet: str = "skip"
    foreign_letters: str = "skip"
    fold_own_letters: str = ""

    def __post_init__(self):
        if self.out_of_alphabet not in OUT_OF_ALPHABET_POLICIES:
            raise ValueError(
                f"out_of_alphabet must be one of {OUT_OF_ALPHABET_POLICIES}, "
                f"got {self.out_of_alphabet!r} for language {self.code}"
            )
        if self.foreign_letters not in FOREIGN_LETTER_POLICIES:
            raise ValueError(
                f"foreign_letters must be one of {FOREIGN_LETTER_POLICIES}, "
                f"got {self.foreign_letters!r} for language {self.code}"
            )
        empty = [key for key in self.word_map if not key.lstrip("-")]
        if empty:
            raise ValueError(f"word_map of {self.code} has keys without letters: {empty}")
        try:
            re.compile(f"[{self.alphabet}]")
        except re.error as err:
            raise ValueError(f"alphabet of {self.code} is not a valid regex class: {err}") from err


@dataclass
class Normalized:
    """A normalised transcript and what was found on the way."""

    text: str
    digits: Counter
    foreign: Counter
    folded: Counter = field(default_factory=Counter)  # letters written as their base letter


def _replacer(mapping):
    """A function replacing every key of `mapping` in one pass, longest key first."""
    if not mapping:
        return lambda text: text
    keys = sorted(mapping, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(k) for k in keys))
    return lambda text: pattern.sub(lambda m: mapping[m.group(0)], text)


class TextNormalizer:
    """Normalises raw Common Voice sentences into CTC training targets.

    Steps: typographic apostrophes/hyphens unified (before NFKC, which would
    split "´" into a space and a combining accent); Unicode NFKC; look-alike
    apostrophes between two letters made apostrophes where the language keeps
    them inside words; look-alike letters of another script replaced in words
    of the language's script; language case map; lower-casing (İ -> i); the
    language's char map, then word map; letters of other Latin-script
    languages folded to their base letter where the language says so;
    punctuation and symbols become spaces (word-internal apostrophes/hyphens
    kept where the language lists them); invisible format characters (ZWNJ,
    BOM, marks of direction), variation selectors and enclosing marks are
    deleted unless the alphabet lists them; digits, symbols read out as
    words (PRONOUNCED_SYMBOLS, currency signs) and other characters outside
    the alphabet follow the language's policy and are counted; spaces are
    collapsed (or removed for scripts without them).
    """

    def __init__(self, spec: LanguageSpec):
        self.spec = spec
        self._letter = re.compile(f"[{spec.alphabet}]")
        self._homoglyphs = dict(spec.homoglyph_map)
        self._homoglyph = _replacer(self._homoglyphs)
        self._word = re.compile(r"\S+")
        self._typographic = _replacer(TYPOGRAPHIC_MAP)
        self._apostrophe_lookalike = (
            re.compile(f"(?<={_LETTER})[{APOSTROPHE_LOOKALIKES}](?={_LETTER})")
            if "'" in spec.word_internal_punctuation
            else None
        )
        self._case_map = _replacer(dict(spec.case_map))
        self._lowercase_fixes = _replacer(LOWERCASE_FIXES)
        self._char_map = _replacer(dict(spec.char_map))
        self._word_map = self._word_map_pattern(spec.word_map)
        self._classes = {}
        self._folds = {}
        # Letters of the language's own CLDR alphabet that "fold" must leave alone.
        self._own_unfoldable = frozenset()
        self._own_unfoldable = self._own_letters_fold_would_strip()
        if self._own_unfoldable:
            letters = " ".join(sorted(self._own_unfoldable))
            warnings.warn(
                f"{spec.code}: foreign_letters: fold leaves {letters} as they are (out of alphabet): CLDR "
                f"lists them as letters of the language, not foreign ones. Add them to the alphabet, or "
                f"to fold_own_letters where writing them as their base letter is meant.",
                stacklevel=2,
            )

    def _own_letters_fold_would_strip(self):
        """Letters of the language's CLDR standard set (as `rewrite` writes them) that
        `foreign_letters: fold` would write as their base letter, unless `fold_own_letters`
        lists them: with an incomplete alphabet, folding would silently remove tones and
        accents ("ộ" -> "o" in Vietnamese)."""
        if self.spec.foreign_letters != "fold":
            return frozenset()
        exemplars = cldr_exemplars(self.spec.code)
        if exemplars is None:
            return frozenset()
        own = {ch for string in exemplars.standard for ch in self.rewrite(string)}
        return frozenset(
            ch
            for ch in own
            if not self._letter.fullmatch(ch) and ch not in self.spec.fold_own_letters and self._fold(ch)
        )

    @staticmethod
    def _word_map_pattern(word_map):
        """One regex for a word_map: whole-word keys first, then endings, each longest first."""
        if not word_map:
            return None
        words = sorted((k for k in word_map if not k.startswith("-")), key=len, reverse=True)
        endings = sorted((k for k in word_map if k.startswith("-")), key=len, reverse=True)
        branches = []
        if words:
            branches.append(f"(?<!{_LETTER})(?P<word>{'|'.join(map(re.escape, words))})")
        if endings:
            branches.append(f"(?P<ending>{'|'.join(re.escape(k[1:]) for k in endings)})")
        return re.compile(f"(?:{'|'.join(branches)})(?!{_LETTER})")

    def _map_words(self, text):
        """Apply the language's word_map, leaving apostrophes that close a quote alone."""
        closing_quotes, quote_open = set(), False
        for i, ch in enumerate(text):
            if ch != "'":
                continue
            letter_before = i > 0 and text[i - 1].isalpha()
            letter_after = i + 1 < len(text) and text[i + 1].isalpha()
            if letter_after and not letter_before:
                quote_open = True
            elif letter_before and not letter_after and quote_open:
                closing_quotes.add(i)
                quote_open = False
        mapping = self.spec.word_map

        def replace(match):
            if match.end() - 1 in closing_quotes:
                return match.group(0)
            if match.lastgroup == "word":
                return mapping[match.group(0)]
            return mapping["-" + match.group(0)]

        return self._word_map.sub(replace, text)

    def _fold(self, ch):
        """The base letter(s) of `ch` if they are all in the alphabet, else None."""
        if ch not in self._folds:
            base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
            fits = base and base != ch and all(self._letter.fullmatch(c) for c in base)
            self._folds[ch] = base if fits else None
        return self._folds[ch]

    def _char_class(self, ch):
        """Classify one character: letter, fold, space, internal, drop, digit, foreign or punct."""
        cls = self._classes.get(ch)
        if cls is None:
            category = unicodedata.category(ch)
            if self._letter.fullmatch(ch):
                cls = "letter"
            elif ch.isspace():
                cls = "space"
            elif ch in self.spec.word_internal_punctuation:
                cls = "internal"
            elif category == "Cf" or _is_glyph_modifier(ch):
                cls = "drop"
            elif category == "Nd" or ch.isdigit():
                cls = "digit"
            elif ch in PRONOUNCED_SYMBOLS or category == "Sc":  # currency signs: $ € £ ₽ ...
                cls = "foreign"
            elif category[0] in "PS" or category in ("Zs", "Cc"):
                cls = "punct"
            elif self.spec.foreign_letters == "fold" and ch not in self._own_unfoldable and self._fold(ch):
                cls = "fold"
            else:
                cls = "foreign"
            self._classes[ch] = cls
        return cls

    def _unmix_word(self, match):
        """A word mixing look-alikes with letters of the alphabet, written in the alphabet."""
        word = match.group(0)
        if any(ch in self._homoglyphs for ch in word) and self._letter.search(word.lower()):
            return self._homoglyph(word)
        return word

    def rewrite(self, sentence: str) -> str:
        """`sentence` after the steps that rewrite text (typographic map, NFKC, look-alike
        apostrophes and letters, case map, lower-casing, char map, word map), before its
        characters are checked against the alphabet: what a tool deriving an alphabet
        from sample sentences must look at."""
        text = unicodedata.normalize("NFKC", self._typographic(sentence))
        if self._apostrophe_lookalike:
            text = self._apostrophe_lookalike.sub("'", text)
        if self._homoglyphs:
            text = self._word.sub(self._unmix_word, text)
        text = self._case_map(text)
        if self.spec.lowercase:
            text = self._lowercase_fixes(text).lower()
        text = self._char_map(text)
        if self._word_map:
            text = self._map_words(text)
        return text

    def __call__(self, sentence: str, out_of_alphabet=None) -> Normalized:
        """Normalise `sentence`; `out_of_alphabet` overrides the language's
        policy, and "keep" leaves such characters in place (for references)."""
        policy = out_of_alphabet or self.spec.out_of_alphabet
        text = self.rewrite(sentence)
        digits, foreign, folded = Counter(), Counter(), Counter()
        out = []
        for i, ch in enumerate(text):
            cls = self._char_class(ch)
            if cls == "letter":
                out.append(ch)
            elif cls == "fold":
                out.append(self._folds[ch])
                folded[ch] += 1
            elif cls == "internal":
                between_letters = (
                    0 < i < len(text) - 1
                    and self._char_class(text[i - 1]) in ("letter", "fold")
                    and self._char_class(text[i + 1]) in ("letter", "fold")
                )
                out.append(ch if between_letters else " ")
            elif cls in ("space", "punct"):
                out.append(" ")
            elif cls == "drop":
                continue
            else:
                (digits if cls == "digit" else foreign)[ch] += 1
                if policy == "space":
                    out.append(" ")
                elif policy == "keep":
                    out.append(ch)
        joiner = " " if self.spec.word_delimiter else ""
        normalized = joiner.join("".join(out).split())
        return Normalized(normalized, digits, foreign, folded)

    def normalize(self, sentence: str) -> str:
        """The normalised text alone (for LM text and references)."""
        return self(sentence).text

    def reject_reason(self, result: Normalized) -> str | None:
        """Why `result` cannot be a training target under this language's policy, or None."""
        if self.spec.out_of_alphabet == "skip":
            if result.digits:
                return "digits"
            if result.foreign:
                return "out_of_alphabet"
        return None if result.text else "empty_text"


def language_spec_from_hparams(hparams: dict) -> LanguageSpec:
    """Build the LanguageSpec from a recipe's resolved hparams (key `text`)."""
    text = dict(hparams["text"])
    return LanguageSpec(code=hparams["language"], **text)
