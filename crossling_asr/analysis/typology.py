"""What the analysis knows about the languages: family, ISO 639-3 code, URIEL distances.

Families follow paper.md (the study's grouping into Indo-European and
others). Distances between languages come from URIEL via urielplus; they
take minutes to compute, so they are computed once by

    python local/compute_typology.py

and read from hparams/typology_distances.json by the report. URIEL knows
Arabic, Persian and Chinese under their individual-language codes (arb,
pes, cmn: the macrolanguage codes ara, fas, zho are missing), Estonian under
est. Kinds kept: genetic (shared branches of the family tree), syntactic,
featural (all typological features) and geographic; phonological and
inventory distances are left out because, without urielplus's imputation
step, several of these languages have no values for them (they come back
as -1).
"""

import datetime
import json
from pathlib import Path

from crossling_asr.hparams import REPO_ROOT

TYPOLOGY_FILE = REPO_ROOT / "hparams" / "typology_distances.json"
DISTANCE_KINDS = ("genetic", "syntactic", "featural", "geographic")

# ISO 639-1 part of a Common Voice code -> the ISO 639-3 code URIEL uses.
ISO639_3 = {
    "ar": "arb", "de": "deu", "en": "eng", "es": "spa", "et": "est", "fa": "pes",
    "fr": "fra", "id": "ind", "it": "ita", "ja": "jpn", "nl": "nld", "pl": "pol",
    "pt": "por", "ru": "rus", "sv": "swe", "th": "tha", "uk": "ukr", "zh": "cmn",
}

# The study's 18 Common Voice languages and their families (paper.md).
FAMILIES = {
    **{lang: "Indo-European" for lang in
       ("de", "en", "es", "fa", "fr", "it", "nl", "pl", "pt", "ru", "sv-SE", "uk")},
    "ar": "Afro-Asiatic", "et": "Uralic", "id": "Austronesian",
    "ja": "Japonic", "th": "Kra-Dai", "zh-CN": "Sino-Tibetan",
}
STUDY_LANGUAGES = tuple(FAMILIES)


def is_indo_european(language):
    """True for the study's Indo-European languages (Common Voice code)."""
    return FAMILIES.get(language) == "Indo-European"


def iso639_3(code):
    """ISO 639-3 code of a Common Voice code ('sv-SE') or an ISO 639-1 code ('sv')."""
    base = code.split("-")[0]
    if base not in ISO639_3:
        raise KeyError(f"No ISO 639-3 code known for language '{code}'; add it to ISO639_3 in {__file__}")
    return ISO639_3[base]


def compute_distances(languages=STUDY_LANGUAGES, kinds=DISTANCE_KINDS):
    """The URIEL distance matrices of `languages` (Common Voice codes), as the cache file's object.

    The diagonal is set to exactly 0: urielplus's angular distances give
    ~2e-4 there (floating-point noise of arccos near 1).
    """
    from importlib.metadata import version

    from urielplus.urielplus import URIELPlus

    uriel = URIELPlus()
    codes = [iso639_3(lang) for lang in languages]
    matrices = {}
    for kind in kinds:
        values = uriel.new_distance(kind, codes)
        matrices[kind] = {
            a: {b: (0.0 if a == b else round(float(values[i][j]), 4)) for j, b in enumerate(codes)}
            for i, a in enumerate(codes)
        }
    return {
        "source": f"urielplus {version('urielplus')}: URIELPlus().new_distance(kind, languages), no imputation",
        "command": "python local/compute_typology.py",
        "computed": datetime.date.today().isoformat(),
        "languages": {lang: iso639_3(lang) for lang in languages},
        "distances": matrices,
    }


def load_distances(path=TYPOLOGY_FILE):
    """{kind: DataFrame of distances indexed by ISO 639-3 code} from the cache file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `python local/compute_typology.py` to create it")
    import pandas as pd  # not at import time: the commands' --help stays fast

    data = json.loads(path.read_text(encoding="utf-8"))
    return {kind: pd.DataFrame(matrix) for kind, matrix in data["distances"].items()}
