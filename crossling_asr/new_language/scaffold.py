"""recipes/<code>/ for a new Common Voice language: train.py, README.md and hparams/<code>.yaml.

The recipe copies recipes/<source>/ (train.py is the same file everywhere)
and derives what it can of the language's hparams: text rules from sample
sentences (text_rules), name, ISO 639-3 code and family (facts), the
espeak-ng voice (voices). What cannot be known is asked for when `ask` is
given (an interactive terminal), else written as null under a loud comment
and printed.
"""

import os
import re
import shutil
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import ruamel.yaml

from crossling_asr.atomic import write_text
from crossling_asr.data.cldr import cldr_exemplars
from crossling_asr.data.text import LanguageSpec, TextNormalizer
from crossling_asr.hparams import RECIPES_DIR
from crossling_asr.new_language import facts as lookup
from crossling_asr.new_language import text_rules
from crossling_asr.new_language.alphabet import cldr_script, cldr_word_internal, from_cldr, from_sample
from crossling_asr.new_language.recipe_readme import render_readme
from crossling_asr.new_language.recipe_yaml import FACT_NEEDED_FOR, build_yaml, yaml_alphabet
from crossling_asr.new_language.variants import known_variants
from crossling_asr.new_language.voices import default_voice, espeak_voices

CODE_PATTERN = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
ISO639_3_PATTERN = re.compile(r"[a-z]{3}")


class NewLanguageError(ValueError):
    """A recipe that cannot be made as asked (the message says why)."""


def read_words(path):
    """Words of a --words file: one a line, "written<TAB>reading" for pairs; blank and # lines skipped."""
    words = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" in line:
            written, reading = line.split("\t", 1)
            words.append([written.strip(), reading.strip()])
        else:
            words.append(line.strip())
    return words


def read_sentences(path):
    """The non-blank lines of a --sentences file."""
    sentences = [s for s in Path(path).read_text(encoding="utf-8").splitlines() if s.strip()]
    if not sentences:
        raise NewLanguageError(f"{path} has no sentences")
    return sentences


def _asked(fact, key, code, ask):
    """`fact`, or what a person answers for it when it is unknown and `ask` is given."""
    if fact.value is not None or ask is None:
        return fact
    answer = ask(f"{key} of {code}? ({fact.source}; Enter leaves it null) ").strip()
    return lookup.Fact(answer, "given at the prompt") if answer else fact


def language_facts(code, name=None, iso639_3=None, family=None, ask=None):
    """{"language_name"|"iso639_3"|"family": Fact}: given, looked up, or asked for."""
    if iso639_3 is not None and not ISO639_3_PATTERN.fullmatch(iso639_3):
        raise NewLanguageError(f"--iso639-3 {iso639_3!r} is not an ISO 639-3 code (three lower-case letters)")
    facts = {
        "language_name": lookup.Fact(name, "given with --name") if name else lookup.language_name(code),
        "iso639_3": lookup.Fact(iso639_3, "given with --iso639-3") if iso639_3 else lookup.iso639_3_code(code),
    }
    facts = {key: _asked(fact, key, code, ask) for key, fact in facts.items()}
    if family:
        facts["family"] = lookup.Fact(family, "given with --family")
    else:
        # A macrolanguage's languages share its family: its code finds the family as well.
        uriel_code = facts["iso639_3"].value or lookup.macrolanguage_code(code)
        facts["family"] = (
            lookup.uriel_family(uriel_code)
            if uriel_code
            else lookup.Fact(None, "no ISO 639-3 code to look its family up in URIEL")
        )
        facts["family"] = _asked(facts["family"], "family", code, ask)
    return facts


def kept_between_letters_line(word_internal, found, listed_by_cldr):
    """What the scaffold says about the characters kept between letters, plainly when there are none."""
    if not word_internal:
        return (
            "Kept between letters: nothing (no apostrophe, middle dot, ZWNJ, geresh or gershayim stands "
            "between two letters in enough sentences, nor among CLDR's letters): all punctuation becomes a space"
        )
    sources = []
    for c in word_internal:
        where = " and ".join(w for w, chars in (("CLDR", listed_by_cldr), ("the sentences", found)) if c in chars)
        sources.append(f"U+{ord(c):04X} {unicodedata.name(c, '?').lower()} (from {where})")
    return "Kept between letters: " + ", ".join(sources)


def kept_figure_line(code, text, alphabet, choice, sentences):
    """How many sample sentences rules the sample did not shape keep, and what those rules are."""
    if choice is None:
        reference, name, measured_on = alphabet, "the alphabet given with --alphabet", sentences
    else:
        reference, name, measured_on = choice.reference, choice.reference_name, choice.measured_on
    if not reference:
        return "Sample sentences: too few to measure an alphabet on sentences it was not derived from"
    normalizer = TextNormalizer(LanguageSpec(code=code, alphabet=reference, **text))
    outcome = Counter(normalizer.reject_reason(normalizer(sentence)) or "kept" for sentence in measured_on)
    return f"Sample sentences under {name}: {dict(outcome)} of {len(measured_on)}"


def create_recipe(
    code: str,
    source: str = "es",
    voice: str | None = None,
    alphabet: str | None = None,
    sentences_file: Path | None = None,
    words_file: Path | None = None,
    word_internal: str | None = None,
    word_delimiter: str | bool = "auto",
    name: str | None = None,
    iso639_3: str | None = None,
    family: str | None = None,
    recipes_dir: Path = RECIPES_DIR,
    force: bool = False,
    ask: Callable[[str], str] | None = None,
    echo: Callable[[str], None] = print,
) -> Path:
    """Write `recipes_dir`/<code>/ and return it; `echo` prints what was derived and what to check.

    Options as local/new_language.py's (see its --help); `ask(prompt)`
    answers for a fact that cannot be looked up (None: leave it null).
    """
    if not CODE_PATTERN.fullmatch(code):
        raise NewLanguageError(f"'{code}' does not look like a Common Voice language code (e.g. ca, sv-SE)")
    recipes_dir = Path(recipes_dir)
    src_dir = recipes_dir / source if (recipes_dir / source).is_dir() else RECIPES_DIR / source
    src_yaml = src_dir / "hparams" / f"{source}.yaml"
    if not src_yaml.is_file():
        raise NewLanguageError(f"no recipe to copy: {src_yaml} not found")
    dest = recipes_dir / code
    if dest.exists() and not force:
        raise NewLanguageError(f"{dest} exists; use --force to overwrite it")
    source_data = ruamel.yaml.YAML(typ="safe", pure=True).load(src_yaml.read_text(encoding="utf-8")) or {}
    src_text = source_data.get("text", {})
    lowercase = bool(src_text.get("lowercase", True))

    voices = espeak_voices()
    voice = voice or default_voice(code, voices)
    if voice and voices and voice.split("+")[0] not in voices:
        echo(f"warning: espeak-ng has no voice '{voice}' (see `espeak-ng --voices`)")
    sentences = read_sentences(sentences_file) if sentences_file else []

    # Case pairs str.lower() gets wrong
    case_map = text_rules.dotless_i_case_map(code, sentences)
    if case_map:
        echo(f"Dotted/dotless i: case_map {case_map} (I -> ı, İ -> i before lower-casing)")

    exemplars = cldr_exemplars(code)

    # Spellings written two ways, unified (data in new_language/variants.py)
    variants = known_variants(code)
    word_map = dict(variants.word_map) if variants else {}
    if variants:
        echo(f"Variant spellings unified (word_map, {len(word_map)} entries): {variants.note}")

    # Optional marks of the script, deleted (and so kept out of the alphabet)
    char_map = {}
    if sentences:
        script = text_rules.main_script_of(sentences, text_rules.sample_normalizer(code, case_map, lowercase=lowercase))
    else:
        script = cldr_script(exemplars) if exemplars else None
    if script in text_rules.SCRIPT_CHAR_MAPS:
        char_map = dict(text_rules.SCRIPT_CHAR_MAPS[script])
        echo(f"{script} script: char_map deletes its optional marks ({len(char_map)} entries)")

    def rules_normalizer(word_internal=""):
        return text_rules.sample_normalizer(code, case_map, char_map, lowercase, word_internal, word_map)

    # Characters kept between letters
    if word_internal is None and (sentences or exemplars):
        found = text_rules.word_internal_characters(sentences, rules_normalizer()) if sentences else ""
        listed_by_cldr = cldr_word_internal(exemplars, rules_normalizer()) if exemplars else ""
        word_internal = "".join(c for c in text_rules.WORD_INTERNAL_CANDIDATES if c in found + listed_by_cldr)
        echo(kept_between_letters_line(word_internal, found, listed_by_cldr))
    elif word_internal is None:
        word_internal = src_text.get("word_internal_punctuation", "")

    # Alphabet
    delimited = bool(src_text.get("word_delimiter", True))
    normalizer = rules_normalizer(word_internal)
    choice = None
    if alphabet:
        alphabet_note = ["Letters given on the command line of local/new_language.py."]
    elif exemplars:
        choice = from_cldr(exemplars, sentences, normalizer)
    elif sentences:
        choice = from_sample(code, sentences, normalizer, Path(sentences_file).name)
        if choice is None:
            raise NewLanguageError(f"no letters found in {sentences_file}")
    else:
        alphabet = src_text["alphabet"]
        alphabet_note = [
            f"!!! COPIED FROM THE SOURCE RECIPE: the letters below are those of {source}, not of {code}.",
            "!!! Replace them (--alphabet, or --sentences FILE to derive them) before training.",
        ]
        echo(
            f"WARNING: CLDR does not know {code} and no --alphabet or --sentences were given: "
            f"the alphabet of {source} was copied; set it in the yaml"
        )
    if choice is not None:
        alphabet = text_rules.compact_class(choice.letters)
        alphabet_note = choice.note
        for line in choice.report:
            echo(line)
        echo(f"Alphabet: {alphabet}")
        if (
            word_delimiter == "auto"
            and choice.main_scripts
            and text_rules.written_without_spaces(choice.main_scripts, choice.spaces_per_letter)
        ):
            delimited = False
    if word_delimiter != "auto":
        delimited = word_delimiter == "yes"
    text = {
        "word_internal_punctuation": word_internal,
        "case_map": case_map,
        "char_map": char_map,
        "word_map": word_map,
        "lowercase": lowercase,
        "word_delimiter": delimited,
        "out_of_alphabet": src_text.get("out_of_alphabet", "skip"),
        "foreign_letters": "skip",
    }
    try:
        normalizer = TextNormalizer(LanguageSpec(code=code, alphabet=alphabet, **text))
    except ValueError as err:
        raise NewLanguageError(str(err)) from err
    primary_metric = "WER" if delimited else "CER"

    # Words for the synthetic corpus
    if words_file:
        words = read_words(words_file)
    elif sentences and delimited:
        words = text_rules.frequent_words(sentences, normalizer)
    else:
        words = []
    bad = [w for w in words if normalizer.reject_reason(normalizer(w[0] if isinstance(w, list) else w))]
    if bad:
        echo(f"warning: these words do not normalise cleanly under the alphabet: {bad}")

    facts = language_facts(code, name, iso639_3, family, ask)
    for key, fact in facts.items():
        if fact.value is None:
            echo(f"WARNING: {key} unknown ({fact.source}): set it in hparams/{code}.yaml, else {FACT_NEEDED_FOR[key]}")
        else:
            echo(f"{key}: {fact.value} ({fact.source})")

    # Files
    (dest / "hparams").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src_dir / "train.py", dest / "train.py")
    shutil.copymode(src_dir / "train.py", dest / "train.py")
    base_file = (src_yaml.parent / source_data["base_hparams"]).resolve()
    base_rel = os.path.relpath(base_file, dest / "hparams")
    yaml_text = build_yaml(
        code,
        f"recipes/{source}",
        base_rel,
        facts,
        yaml_alphabet(alphabet),
        alphabet_note,
        text,
        variants.note if variants else None,
        choice.foreign if choice else set(),
        primary_metric,
        voice,
        words,
    )
    write_text(dest / "hparams" / f"{code}.yaml", yaml_text)
    normalisation = (
        f"Alphabet: `{alphabet}`"
        + ("" if not word_internal else f"; kept between letters: `{word_internal}`")
        + ("; written without spaces: spaces are removed and CER is the primary metric" if not delimited else "")
        + f". Made by local/new_language.py from the {source} recipe: review the text rules "
        f"in hparams/{code}.yaml (char_map for variant letters, case_map, apostrophes and hyphens) "
        "and describe them here."
    )
    readme = render_readme(code, facts["language_name"].value or code, normalisation, primary_metric)
    write_text(dest / "README.md", readme)

    if sentences:
        echo(kept_figure_line(code, text, alphabet, choice, sentences))
    echo(f"Created {dest}/ (train.py, README.md, hparams/{code}.yaml); voice: {voice}; {len(words)} words")
    if voice is None:
        echo("  no espeak-ng voice found for the code: set synthetic.voice (espeak-ng --voices)")
    echo(
        f"Next: cd {dest} && python train.py hparams/{code}.yaml --data_folder=/path/to/cv-corpus-7.0-2021-07-21/{code}"
    )
    return dest
