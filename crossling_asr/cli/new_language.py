"""Add a Common Voice language to the recipes in minutes.

    python local/new_language.py ca --sentences ca_sentences.txt --words ca_words.txt
    python local/new_language.py tr --alphabet "a-zçğıöşü" --word-internal "'"

Copies recipes/<from>/ (default es) to recipes/<code>/: train.py unchanged
(it is generic), a README for the language (its results table empty until
`local/report.py --update-recipe-readmes` fills it), and hparams/<code>.yaml with:

* language: the Common Voice code;
* language_name, iso639_3, family: --name, --iso639-3, --family, else the
  ISO 639 name and code of the code's language (iso639-lang) and the
  top-level family URIEL gives that code (urielplus); what cannot be known
  (the code of a macrolanguage such as ar, fa, zh: URIEL may know it under
  one of its languages, arb, pes, cmn; the family of an isolate) is asked
  for on an interactive terminal, else written as null under a loud comment;
* text.alphabet: --alphabet, else CLDR's letters of the language (its
  standard exemplar set, read with ICU), plus the letters --sentences FILE
  (one sentence a line, e.g. `cut -f3 validated.tsv`) show outside CLDR's
  sets, each reported; for a language CLDR does not know, derived from
  --sentences alone (the letters and marks that occur often enough), else
  the source language's alphabet under a comment saying it must be
  replaced (docs/alphabets.md);
* text.word_internal_punctuation: --word-internal, else the apostrophe,
  middle dot, ZWNJ and Hebrew geresh/gershayim that CLDR lists among the
  letters or --sentences write between letters, else the source's;
* text.case_map: Turkish-style dotted/dotless i ({"I": "ı", "İ": "i"}) for
  tr, az, crh, gag and any language whose --sentences contain "ı";
* text.char_map: deletions of the marks the language's script writes only
  sometimes (Arabic, Hebrew, Cyrillic, Armenian);
* text.word_map: the language's variant spellings unified, where the
  package knows them (Vietnamese tone placement: "hòa" -> "hoà");
* text.foreign_letters: skip, with CLDR's foreign letters named above it;
* synthetic.voice: --voice, else the espeak-ng voice named like the code
  ("sv-SE" -> "sv"), else null;
* synthetic.words: --words FILE (one word a line; "written<TAB>reading" for
  a word espeak must read from another spelling), else the most frequent
  words of --sentences, else none.

Everything else (text rules the language needs: char_map, ...) is then
edited in the yaml; see docs/adding-a-language.md.
"""

import argparse
import sys
from pathlib import Path

from crossling_asr.hparams import RECIPES_DIR


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("code", help="Common Voice language code, e.g. ca, tr, pt-BR")
    parser.add_argument("--from", dest="source", default="es", help="recipe to copy (default es)")
    parser.add_argument("--voice", help="espeak-ng voice (default: the voice named like the code)")
    parser.add_argument("--alphabet", help='regex class body of the letters, e.g. "a-zçğıöşü"')
    parser.add_argument("--sentences", type=Path, help="sample sentences, one a line: derive the alphabet")
    parser.add_argument("--words", type=Path, help="words for synthetic speech, one a line (written<TAB>reading)")
    parser.add_argument(
        "--word-internal",
        dest="word_internal",
        default=None,
        help="characters kept between letters, e.g. \"'\" (default: found in --sentences, else the source's)",
    )
    parser.add_argument(
        "--word-delimiter",
        choices=("auto", "yes", "no"),
        default="auto",
        help="no: written without spaces (CER primary); auto: from --sentences, else the source's",
    )
    parser.add_argument("--name", help="English name of the language (default: its ISO 639 name)")
    parser.add_argument(
        "--iso639-3",
        dest="iso639_3",
        help="ISO 639-3 code URIEL knows the language by, e.g. arb for Arabic (default: the "
        "code's ISO 639-3 code unless it is a macrolanguage's)",
    )
    parser.add_argument("--family", help="top-level language family, e.g. Indo-European (default: URIEL's)")
    parser.add_argument(
        "--recipes-dir",
        type=Path,
        default=RECIPES_DIR,
        help="where recipe directories live (default: the repository's recipes/)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing recipe directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from crossling_asr.new_language.scaffold import NewLanguageError, create_recipe

    try:
        create_recipe(
            args.code,
            args.source,
            args.voice,
            args.alphabet,
            args.sentences,
            args.words,
            args.word_internal,
            args.word_delimiter,
            args.name,
            args.iso639_3,
            args.family,
            args.recipes_dir,
            args.force,
            ask=input if sys.stdin.isatty() else None,
        )
    except NewLanguageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
