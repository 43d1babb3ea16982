"""A new language's facts for its hparams: English name, ISO 639-3 code, top-level family.

Name and ISO 639-3 code come from the ISO 639 tables of iso639-lang, looked
up by the first part of the Common Voice code ("sv-SE" -> sv -> swe). A
macrolanguage (Arabic ara, Persian fas, Chinese zho, Estonian est, ...) is
not settled by them: URIEL, which the report's distances come from, may know
the language under the macrolanguage's code (est) or only under one of its
individual languages (arb, pes, cmn), so the code is left for a person to
choose. The family is the root of the language's family tree in URIEL's
genetic features (urielplus's copy of URIEL); URIEL has none for isolates
such as Basque. Every lookup says where its value came from, or why there is
none.
"""

from dataclasses import dataclass
from importlib import resources
from importlib.metadata import version

# URIEL's genetic features: one "F_<clade>" column per node of every family tree,
# 1 where the language belongs to it. urielplus ships URIEL's matrices as package data;
# URIELPlus() would copy all four into its install folder first and load them (~10 s).
URIEL_FAMILY_FILE = ("database", "original_uriel", "family_features.npz")
FAMILY_FEATURE_PREFIX = "F_"
MACROLANGUAGE_SUFFIX = " (macrolanguage)"  # of ISO 639-3 reference names: "Malay (macrolanguage)"


@dataclass(frozen=True)
class Fact:
    """A looked-up value (None: unknown) and where it came from, or why it is unknown."""

    value: object
    source: str


def iso639_entry(code):
    """iso639-lang's entry of the first part of a Common Voice code, or None."""
    from iso639 import Lang
    from iso639.exceptions import InvalidLanguageValue

    try:
        return Lang(code.split("-")[0])
    except InvalidLanguageValue:
        return None


def language_name(code):
    """The English name of the language (its ISO 639 reference name)."""
    entry = iso639_entry(code)
    if entry is None:
        return Fact(None, f"ISO 639 has no language '{code.split('-')[0]}'")
    name = entry.name.removesuffix(MACROLANGUAGE_SUFFIX)
    return Fact(name, f"ISO 639 name of '{code.split('-')[0]}' (iso639-lang {version('iso639-lang')})")


def iso639_3_code(code):
    """The ISO 639-3 code, unless the code is a macrolanguage's (then the candidates say which to choose)."""
    entry = iso639_entry(code)
    if entry is None:
        return Fact(None, f"ISO 639 has no language '{code.split('-')[0]}'")
    source = f"ISO 639-3 code of '{code.split('-')[0]}' (iso639-lang {version('iso639-lang')})"
    if entry.scope() == "Macrolanguage":
        members = ", ".join(lang.pt3 for lang in entry.individuals())
        return Fact(
            None,
            f"{entry.pt3} is a macrolanguage: URIEL may know the language as {entry.pt3} or as "
            f"one of its languages ({members}); choose the one of your sentences",
        )
    return Fact(entry.pt3, source)


def macrolanguage_code(code):
    """The ISO 639-3 code of the first part of the Common Voice code, macrolanguage or not (None if unknown)."""
    entry = iso639_entry(code)
    return None if entry is None else entry.pt3


def uriel_families(iso_codes):
    """{ISO 639-3 code: Fact} of the top-level family URIEL gives each language: the root of its tree.

    A family's root is the clade of the language that the most URIEL
    languages belong to (every language of its branches belongs to it).
    The matrix is read once for all the codes (a few seconds).
    """
    import numpy as np

    path = resources.files("urielplus").joinpath(*URIEL_FAMILY_FILE)
    source = f"URIEL (urielplus {version('urielplus')})"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: urielplus {version('urielplus')} ships no URIEL family file "
            "there (requirements.txt pins the version this was written for)"
        )
    families = {}
    with np.load(path) as uriel:
        row_of = {str(code): row for row, code in enumerate(uriel["langs"])}
        features, data = uriel["feats"], uriel["data"][:, :, 0]
        for code in iso_codes:
            if code not in row_of:
                families[code] = Fact(None, f"{source} has no language '{code}'")
                continue
            clades = np.flatnonzero(data[row_of[code]] == 1)
            if clades.size == 0:
                families[code] = Fact(None, f"{source} gives '{code}' no family (as for an isolate)")
                continue
            members = (data[:, clades] == 1).sum(axis=0)
            root = str(features[clades[np.argmax(members)]]).removeprefix(FAMILY_FEATURE_PREFIX)
            families[code] = Fact(root, f"top-level family of '{code}' in {source}")
    return families


def uriel_family(iso639_3):
    """The Fact of the top-level family URIEL gives one language (see uriel_families)."""
    return uriel_families([iso639_3])[iso639_3]
