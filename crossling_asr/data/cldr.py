"""The letters CLDR lists for a language: its exemplar characters, read from ICU.

CLDR (the Unicode Common Locale Data Repository) gives each language it knows
a standard exemplar set (the letters of its alphabet: Vietnamese's 89, with
every tone on every vowel) and an auxiliary set (letters of foreign words and
names: f j w z in Vietnamese). ICU ships that data and PyICU reads it
(`icu.LocaleData.getExemplarSet`); nothing here parses CLDR itself. PyICU
builds against the system's ICU (libicu-dev); icu4py, whose wheels bundle
ICU, exposes no LocaleData and so no exemplar sets.

Exemplar sets hold strings, not only code points: multi-letter units
("дж" in Belarusian) and letters with combining marks ("а́" in Ukrainian's
auxiliary set). They are returned as NFC strings; how a language's
TextNormalizer writes them (`TextNormalizer.rewrite`) decides which code
points its alphabet needs.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import icu


@dataclass(frozen=True)
class Exemplars:
    """A language's exemplar strings in CLDR (NFC), and the ICU locale they were read from."""

    locale: str
    standard: frozenset
    auxiliary: frozenset


@functools.lru_cache(maxsize=1)
def _languages_with_data():
    """The language subtags ICU has locale data for ("vi", "hi", ...); the others get root's."""
    return frozenset(name.split("_")[0] for name in icu.Locale.getAvailableLocales())


@functools.lru_cache(maxsize=256)
def cldr_exemplars(code: str) -> Exemplars | None:
    """The exemplar sets of Common Voice language `code` ("vi", "sv-SE", "zh-CN"), or None
    where CLDR (as ICU ships it) does not know the language: ICU would answer with the
    root locale's a-z, which says nothing about the language."""
    locale = icu.Locale.forLanguageTag(code)
    if locale.getLanguage() not in _languages_with_data():
        return None
    data = icu.LocaleData(locale.getName())

    def strings(kind):
        return frozenset(unicodedata.normalize("NFC", s) for s in data.getExemplarSet(0, kind))

    return Exemplars(
        locale=locale.getName(),
        standard=strings(icu.ULocaleDataExemplarSetType.ES_STANDARD),
        auxiliary=strings(icu.ULocaleDataExemplarSetType.ES_AUXILIARY),
    )


def icu_version() -> str:
    """The ICU (and so CLDR) release the exemplar sets come from, e.g. "72.1"."""
    return icu.ICU_VERSION
