"""Spellings a language writes two ways, unified: data the scaffold writes into a new recipe's word_map.

Common Voice sentences come from many writers; where an orthography allows
two spellings of one word, the model would otherwise learn two targets for
one sound and be scored wrong on either. Each entry is a word_map (see
crossling_asr.data.text.LanguageSpec: keys starting with "-" are word
endings) with a line saying which spelling it keeps.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class OrthographicVariants:
    """A language's word_map unifying its variant spellings, and what it keeps."""

    word_map: dict
    note: str


# Vietnamese places the tone of the open syllables in oa, oe, uy on the first
# vowel ("hòa", "khỏe", "thủy", the older placement) or on the second ("hoà",
# "khoẻ", "thuỷ", the newer rules); both are common. Keys are syllable
# endings (a Vietnamese word is one syllable), so "hoàng", where both
# placements agree, is left alone, and "qúy" becomes "quý" as it should.
VIETNAMESE_TONE_PLACEMENT = {
    "-òa": "oà",
    "-óa": "oá",
    "-ỏa": "oả",
    "-õa": "oã",
    "-ọa": "oạ",
    "-òe": "oè",
    "-óe": "oé",
    "-ỏe": "oẻ",
    "-õe": "oẽ",
    "-ọe": "oẹ",
    "-ùy": "uỳ",
    "-úy": "uý",
    "-ủy": "uỷ",
    "-ũy": "uỹ",
    "-ụy": "uỵ",
}

KNOWN_VARIANTS = {
    "vi": OrthographicVariants(
        VIETNAMESE_TONE_PLACEMENT,
        'Tone on the second vowel of a final oa, oe, uy ("hòa" -> "hoà", "thủy" -> "thuỷ", "khỏe" -> "khoẻ").',
    )
}


def known_variants(code):
    """The OrthographicVariants of language `code` ("vi", "vi-VN"), or None."""
    return KNOWN_VARIANTS.get(code) or KNOWN_VARIANTS.get(code.split("-")[0].lower())
