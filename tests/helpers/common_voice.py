"""The Spanish normaliser that the Common Voice preparation tests read their corpora with."""

from crossling_asr.data.text import LanguageSpec, TextNormalizer

SPANISH = TextNormalizer(LanguageSpec(code="es", alphabet="a-zñáéíóúü"))
