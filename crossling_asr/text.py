"""One text normalisation for training transcripts, references and LM text.

Every language uses the same code path; what differs is data from the
language's hparams (see `LanguageSpec`). Using this one function everywhere
(training targets, dev/test references, n-gram LM text) keeps the acoustic
model, the LM and the scoring on the same alphabet.
"""

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

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

OUT_OF_ALPHABET_POLICIES = ("skip", "delete", "space")
# Symbols a reader says as words ("&" is "y", "%" is "por ciento"): like
# digits, turning them into spaces would leave words in the audio that the
# transcript lacks, so they count as out-of-alphabet characters. Other
# symbols (emoji, bullets, arrows) are not read out and become spaces.
PRONOUNCED_SYMBOLS = frozenset("&%‰@§°#+=±×÷")


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
    lowercase: bool = True
    word_delimiter: bool = True
    out_of_alphabet: str = "skip"

    def __post_init__(self):
        if self.out_of_alphabet not in OUT_OF_ALPHABET_POLICIES:
            raise ValueError(
                f"out_of_alphabet must be one of {OUT_OF_ALPHABET_POLICIES}, "
                f"got {self.out_of_alphabet!r} for language {self.code}"
            )
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



def _replacer(mapping):
    """A function replacing every key of `mapping` in one pass, longest key first."""
    if not mapping:
        return lambda text: text
    keys = sorted(mapping, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(k) for k in keys))
    return lambda text: pattern.sub(lambda m: mapping[m.group(0)], text)


class TextNormalizer:
    """Normalises raw Common Voice sentences into CTC training targets.

    Steps: Unicode NFKC; look-alike letters of another script replaced in
    words of the language's script; language case map; lower-casing; typographic
    apostrophes/hyphens unified; the language's char map; punctuation and
    symbols become spaces (word-internal apostrophes/hyphens kept where the
    language lists them); invisible format characters (ZWNJ, BOM, marks of
    direction) are deleted unless the alphabet lists them; digits, symbols
    read out as words (PRONOUNCED_SYMBOLS, currency signs) and other
    characters outside the alphabet follow the language's policy and are
    counted; spaces are collapsed (or removed for scripts without them).
    """

    def __init__(self, spec: LanguageSpec):
        self.spec = spec
        self._letter = re.compile(f"[{spec.alphabet}]")
        self._homoglyphs = dict(spec.homoglyph_map)
        self._homoglyph = _replacer(self._homoglyphs)
        self._word = re.compile(r"\S+")
        self._case_map = _replacer(dict(spec.case_map))
        # Two passes: the language's char_map keys are written with the unified
        # apostrophe/hyphen and must match text typed with any of their variants.
        self._typographic = _replacer(TYPOGRAPHIC_MAP)
        self._char_map = _replacer(dict(spec.char_map))
        self._classes = {}

    def _char_class(self, ch):
        """Classify one character: letter, space, internal, drop, digit, foreign or punct."""
        cls = self._classes.get(ch)
        if cls is None:
            category = unicodedata.category(ch)
            if self._letter.fullmatch(ch):
                cls = "letter"
            elif ch.isspace():
                cls = "space"
            elif ch in self.spec.word_internal_punctuation:
                cls = "internal"
            elif category == "Cf":
                cls = "drop"
            elif category == "Nd" or ch.isdigit():
                cls = "digit"
            elif ch in PRONOUNCED_SYMBOLS or category == "Sc":  # currency signs: $ € £ ₽ ...
                cls = "foreign"
            elif category[0] in "PS" or category in ("Zs", "Cc"):
                cls = "punct"
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

    def __call__(self, sentence: str, out_of_alphabet=None) -> Normalized:
        """Normalise `sentence`; `out_of_alphabet` overrides the language's
        policy, and "keep" leaves such characters in place (for references)."""
        policy = out_of_alphabet or self.spec.out_of_alphabet
        text = unicodedata.normalize("NFKC", sentence)
        if self._homoglyphs:
            text = self._word.sub(self._unmix_word, text)
        text = self._case_map(text)
        if self.spec.lowercase:
            text = text.lower()
        text = self._char_map(self._typographic(text))
        digits, foreign = Counter(), Counter()
        out = []
        for i, ch in enumerate(text):
            cls = self._char_class(ch)
            if cls == "letter":
                out.append(ch)
            elif cls == "internal":
                between_letters = (
                    0 < i < len(text) - 1
                    and self._char_class(text[i - 1]) == "letter"
                    and self._char_class(text[i + 1]) == "letter"
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
        return Normalized(normalized, digits, foreign)

    def normalize(self, sentence: str) -> str:
        """The normalised text alone (for LM text and references)."""
        return self(sentence).text

    def reject_reason(self, result: Normalized):
        """Why `result` cannot be a training target under this language's policy, or None."""
        if self.spec.out_of_alphabet == "skip":
            if result.digits:
                return "digits"
            if result.foreign:
                return "out_of_alphabet"
        return None if result.text else "empty_text"


def language_spec_from_hparams(hparams) -> LanguageSpec:
    """Build the LanguageSpec from a recipe's resolved hparams (key `text`)."""
    text = dict(hparams["text"])
    return LanguageSpec(code=hparams["language"], **text)
