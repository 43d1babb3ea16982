"""What the analysis knows about the languages: name, family, ISO 639-3 code, URIEL distances.

The facts are data of each language's hparams (`language_name`, `iso639_3`,
`family` in recipes/<lang>/hparams/<lang>.yaml). Every run records its
resolved hparams in its results.json, so a results root describes its own
languages; results written before a language's yaml stated its facts fall
back to the recipe's yaml. A fact found in neither is unknown: the report
warns about it and leaves the language out of what needs it, never guessing.
The study groups its languages into Indo-European and the others (Afro-
Asiatic, Uralic, Austronesian, Japonic, Kra-Dai, Sino-Tibetan).

Distances between languages come from URIEL via urielplus; they take
minutes to compute, so they are computed once by

    python local/compute_typology.py

for the languages of the recipes present and read from
hparams/typology_distances.json by the report. URIEL knows Arabic, Persian
and Chinese under their individual-language codes (arb, pes, cmn: the
macrolanguage codes ara, fas, zho have no typological values), Estonian
under est. Kinds kept: genetic (shared branches of the family tree),
syntactic, featural (all typological features) and geographic; phonological
and inventory distances are left out because, without urielplus's
imputation step, several of these languages have no values for them (they
come back as -1).
"""

import datetime
import json
from pathlib import Path

from crossling_asr.hparams import RECIPES_DIR, REPO_ROOT, language_file, read_language_data, recipe_languages

TYPOLOGY_FILE = REPO_ROOT / "hparams" / "typology_distances.json"
DISTANCE_KINDS = ("genetic", "syntactic", "featural", "geographic")
# The hparams keys holding a language's facts (declared in hparams/ctc_study.yaml).
FACT_KEYS = ("language_name", "iso639_3", "family")
INDO_EUROPEAN = "Indo-European"


def recipe_facts(language, recipes_dir=RECIPES_DIR):
    """{fact: value or None} from the language's recipe yaml; all None without a recipe."""
    if not language_file(language, recipes_dir).is_file():
        return dict.fromkeys(FACT_KEYS)
    data = read_language_data(language, recipes_dir)
    return {key: data.get(key) for key in FACT_KEYS}


def language_facts(runs, languages=(), recipes_dir=RECIPES_DIR):
    """(facts, warnings): one row per language of `runs` and of `languages`.

    `runs` is aggregate.collect's table, whose FACT_KEYS columns hold what
    each run's results.json recorded. Per language and fact: the value its
    runs recorded; else the recipe yaml's; else None. Runs of one language
    that recorded different values make the fact unknown (a warning names
    them). Columns: language, FACT_KEYS, source (where the facts came from).
    """
    import pandas as pd  # not at import time: the commands' --help stays fast

    recorded = {}
    for row in runs.itertuples(index=False):
        for key in FACT_KEYS:
            value = getattr(row, key)
            if isinstance(value, str) and value:
                recorded.setdefault(row.language, {}).setdefault(key, set()).add(value)
    rows, warnings = [], []
    for language in sorted(set(runs["language"]) | set(languages)):
        row, sources = {"language": language}, []
        from_recipe = None
        for key in FACT_KEYS:
            values = recorded.get(language, {}).get(key, set())
            if len(values) > 1:
                warnings.append(
                    f"{language}: its runs' results.json record different {key} values "
                    f"({', '.join(sorted(values))}): {key} taken as unknown"
                )
                row[key] = None
            elif values:
                row[key] = next(iter(values))
                sources.append("results.json")
            else:
                from_recipe = recipe_facts(language, recipes_dir) if from_recipe is None else from_recipe
                row[key] = from_recipe[key]
                if row[key] is not None:
                    sources.append(str(language_file(language, recipes_dir).relative_to(Path(recipes_dir).parent)))
        row["source"] = ", ".join(dict.fromkeys(sources)) or "none"
        rows.append(row)
    return pd.DataFrame(rows, columns=["language", *FACT_KEYS, "source"]), warnings


def iso639_3_of(code, iso_codes):
    """The ISO 639-3 code of a Common Voice code ('sv-SE') or of the first part of one ('sv').

    `iso_codes`: {Common Voice code: ISO 639-3 code or None}. 'sv' matches
    the languages whose code starts with 'sv-' when they agree; None when
    nothing matches or the matches disagree.
    """
    if iso_codes.get(code):
        return iso_codes[code]
    matches = {iso for language, iso in iso_codes.items() if language.split("-")[0] == code and iso}
    return matches.pop() if len(matches) == 1 else None


def recipe_iso_codes(recipes_dir=RECIPES_DIR):
    """({language: ISO 639-3 code} of every recipe that states one, [recipes that do not])."""
    codes, missing = {}, []
    for language in recipe_languages(recipes_dir):
        iso = recipe_facts(language, recipes_dir)["iso639_3"]
        if iso:
            codes[language] = iso
        else:
            missing.append(language)
    return codes, missing


def compute_distances(iso_codes, kinds=DISTANCE_KINDS):
    """The URIEL distance matrices of the languages {Common Voice code: ISO 639-3 code}, as the cache
    file's object.

    The diagonal is set to exactly 0: urielplus's angular distances give
    ~2e-4 there (floating-point noise of arccos near 1).
    """
    from importlib.metadata import version

    from urielplus.urielplus import URIELPlus

    uriel = URIELPlus()
    codes = list(iso_codes.values())
    matrices = {}
    for kind in kinds:
        values = uriel.new_distance(kind, codes)
        if len(codes) == 2:  # urielplus returns a pair's one distance, not a matrix
            values = [[0.0, values], [values, 0.0]]
        matrices[kind] = {
            a: {b: (0.0 if a == b else round(float(values[i][j]), 4)) for j, b in enumerate(codes)}
            for i, a in enumerate(codes)
        }
    return {
        "source": f"urielplus {version('urielplus')}: URIELPlus().new_distance(kind, languages), no imputation",
        "command": "python local/compute_typology.py",
        "computed": datetime.date.today().isoformat(),
        "languages": dict(iso_codes),
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
