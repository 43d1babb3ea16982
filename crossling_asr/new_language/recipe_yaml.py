"""The text of a new recipe's hparams/<code>.yaml, written as text rather than dumped.

Its comments, saying where each value came from and what to check, are the
point of the file, and a YAML dumper would write letters as escapes or quote
them needlessly; these writers keep it as readable as the shipped recipes.
"""

import json
import re
import textwrap
import unicodedata

YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}
# A name YAML reads as the plain string it is ("Indo-European", "Chinese (China)").
PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 ()-]*[A-Za-z0-9)]")
# What the report cannot do without each fact (said next to a fact left null).
FACT_NEEDED_FOR = {
    "language_name": "the report names the language by its code",
    "iso639_3": "the report leaves the language out of the transfer analysis (URIEL distances)",
    "family": "the report leaves the language out of the Indo-European comparison",
}


def yaml_string(value):
    """A YAML scalar: plain for a word of letters, else double-quoted with
    marks and format characters as \\u escapes."""
    if value and all(unicodedata.category(c)[0] == "L" for c in value) and value.lower() not in YAML_WORDS:
        return value
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif unicodedata.category(ch)[0] in "MC" and ch not in "\t":
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def yaml_alphabet(body):
    """The alphabet (already escaped for the regex) as a YAML double-quoted scalar."""
    # Backslashes of \\uXXXX escapes are YAML escapes; other backslashes are regex ones.
    parts = re.split(r"(\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8})", body)
    out = []
    for part in parts:
        if re.fullmatch(r"\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}", part or ""):
            out.append(part)
        else:
            out.append(part.replace("\\", "\\\\").replace('"', '\\"'))
    return '"' + "".join(out) + '"'


def yaml_words(words):
    """A flow list of words ([written, reading] pairs allowed), wrapped at 80 columns."""
    items = [
        "[" + ", ".join(yaml_string(x) for x in w) + "]" if isinstance(w, (list, tuple)) else yaml_string(w)
        for w in words
    ]
    if not items:
        return "[]"
    indent = " " * len("    words: ")
    lines, line = [], indent + "["
    for i, item in enumerate(items):
        piece = item + ("]" if i == len(items) - 1 else ", ")
        if len(line) + len(piece) > 80 and line.strip() != "[":
            lines.append(line.rstrip())
            line = indent + " " + piece
        else:
            line += piece
    lines.append(line)
    return "\n".join(lines)[len(indent) :]


def fact_lines(key, fact, code):
    """`key: value` with a comment saying where the value came from, or, for an unknown
    value, a loud one saying what to set and what the report does without it."""
    if fact.value is None:
        warning = f"UNKNOWN: {fact.source}. Set {key} for {code}; while it is null {FACT_NEEDED_FOR[key]}."
        return [f"# !!! {line}" for line in textwrap.wrap(warning, 80)] + [f"{key}: null"]
    plain = PLAIN_NAME.fullmatch(fact.value) and fact.value.lower() not in YAML_WORDS
    return [f"# {fact.source}", f"{key}: {fact.value if plain else yaml_string(fact.value)}"]


def build_yaml(
    code,
    source,
    base_rel,
    facts,
    alphabet_line,
    alphabet_note,
    text,
    variants_note,
    foreign,
    primary_metric,
    voice,
    words,
):
    """Text of hparams/<code>.yaml.

    facts: {"language_name"|"iso639_3"|"family": facts.Fact}; text: the
    `text:` keys written; alphabet_line: the alphabet as a YAML scalar,
    alphabet_note: comment lines above it; variants_note: what text["word_map"]
    unifies (None without one); foreign: CLDR's foreign letters left out of
    the alphabet, named above foreign_letters.
    """
    name = facts["language_name"].value or code
    out = [
        f"# Common Voice 7.0 {name} ({code}), made by local/new_language.py from {source}.",
        "# Only what is particular to the language lives here; the experiment",
        "# itself (encoder, optimiser, batching, outputs) is base_hparams.",
        f"base_hparams: {base_rel}",
        "",
        f"language: {code}",
    ]
    for key in ("language_name", "iso639_3", "family"):
        out += fact_lines(key, facts[key], code)
    out.append("text:")
    out += [f"    # {line}" for line in alphabet_note]
    out.append(f"    alphabet: {alphabet_line}")
    out.append(f"    word_internal_punctuation: {yaml_string(text['word_internal_punctuation'])}")
    out.append(f"    case_map: {json.dumps(text['case_map'], ensure_ascii=False)}")
    if text["char_map"]:
        out.append("    # Marks the script writes only sometimes, deleted (SCRIPT_CHAR_MAPS in")
        out.append("    # crossling_asr/new_language/text_rules.py); add the language's variant letters here.")
    out.append(f"    char_map: {json.dumps(text['char_map'])}")
    if text["word_map"]:
        out += [f"    # {line}" for line in textwrap.wrap(f"Variant spellings unified: {variants_note}", 76)]
        out.append("    # (crossling_asr/new_language/variants.py; keys starting with - are word endings)")
        out.append(f"    word_map: {json.dumps(text['word_map'], ensure_ascii=False)}")
    out.append(f"    lowercase: {text['lowercase']}")
    out.append(f"    word_delimiter: {text['word_delimiter']}")
    out.append(f"    out_of_alphabet: {text['out_of_alphabet']}")
    fold_note = (
        "fold writes a letter outside the alphabet as its base letter where that is in it; letters CLDR lists "
        "as the language's own are never folded. "
        + (f"CLDR's foreign letters here: {' '.join(sorted(foreign))}." if foreign else "")
    )
    out += [
        f"    # {line}" for line in textwrap.wrap(f"Foreign letters: skip leaves them out of alphabet; {fold_note}", 76)
    ]
    out.append(f"    foreign_letters: {text['foreign_letters']}")
    out.append(f"primary_metric: {primary_metric}")
    out.append("synthetic:")
    if voice is None:
        out.append("    # No espeak-ng voice matches the code: set one from `espeak-ng --voices`.")
    out.append(f"    voice: {voice if voice else 'null'}")
    if not words:
        out.append("    # Give 30-40 words of the language (--words FILE) for the synthetic corpus.")
    out.append(f"    words: {yaml_words(words)}")
    return "\n".join(out) + "\n"
