"""Add a Common Voice language to the recipes in minutes.

    python local/new_language.py ca --sentences ca_sentences.txt --words ca_words.txt
    python local/new_language.py tr --alphabet "a-zçğıöşü" --word-internal "'"

Copies recipes/<from>/ (default es) to recipes/<code>/: train.py unchanged
(it is generic), a README for the language, and hparams/<code>.yaml with:

* language: the Common Voice code;
* text.alphabet: --alphabet, else derived from --sentences FILE (one sentence
  a line, e.g. `cut -f3 validated.tsv`: the letters and marks that occur
  often enough, written as compact Unicode ranges), else the source
  language's alphabet under a comment saying it must be replaced;
* synthetic.voice: --voice, else the espeak-ng voice named like the code
  ("sv-SE" -> "sv"), else null;
* synthetic.words: --words FILE (one word a line; "written<TAB>reading" for
  a word espeak must read from another spelling), else the most frequent
  words of --sentences, else none.

* text.word_internal_punctuation: --word-internal, else the apostrophe,
  middle dot, ZWNJ and Hebrew geresh/gershayim where --sentences write them
  between letters, else the source's;
* text.case_map: Turkish-style dotted/dotless i ({"I": "ı", "İ": "i"}) for
  tr, az, crh, gag and any language whose --sentences contain "ı".

Everything else (text rules the language needs: char_map, ...)
is then edited in the yaml; see README_languages.md, "Adding a language".
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

from crossling_asr.hparams import REPO_ROOT as ROOT

import ruamel.yaml

from crossling_asr.text import TYPOGRAPHIC_MAP, LanguageSpec, TextNormalizer

# A character must make up at least this share of the sample's letters to
# enter a derived alphabet (in a Common Voice validated.tsv, rarer ones are
# names and words of other languages); in a small sample every letter counts.
MIN_SHARE = 1e-4
MIN_COUNT = 1
# A script making up at least this share of the sample's letters is part of
# the derived alphabet (Japanese mixes kanji, hiragana and katakana).
MIN_SCRIPT_SHARE = 0.05
# Unicode name prefixes that belong to one writing system.
SCRIPT_GROUPS = {
    "HIRAGANA": "CJK", "KATAKANA": "CJK", "KATAKANA-HIRAGANA": "CJK", "IDEOGRAPHIC": "CJK",
    "HALFWIDTH": "CJK", "CJK": "CJK",
}
# Scripts whose every character may occur in text (ideographs, syllable
# blocks): when a sample shows one, its whole block enters the alphabet, not
# just the characters the sample happens to contain.
FULL_BLOCKS = {
    "CJK": [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F)],
    "IDEOGRAPHIC": [(0x3005, 0x3007)],
    "HIRAGANA": [(0x3041, 0x3096), (0x309D, 0x309F)],
    "KATAKANA": [(0x30A1, 0x30FA), (0x30FC, 0x30FF)],
    "KATAKANA-HIRAGANA": [(0x30FC, 0x30FC)],
    "HANGUL": [(0xAC00, 0xD7A3)],
}
# Scripts written without spaces between words.
UNSPACED_SCRIPTS = {"CJK", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"}
# Latin orthographies with a dotted and a dotless i (Turkish, Azerbaijani,
# Crimean Tatar, Gagauz): "I" lower-cases to "ı" and "İ" to "i", which
# str.lower() gets wrong ("İ" -> "i" + U+0307). Given to any language whose
# code is listed or whose sample sentences contain "ı".
DOTLESS_I_CASE_MAP = {"I": "ı", "İ": "i"}
DOTLESS_I_LANGUAGES = {"tr", "az", "crh", "gag"}
# Characters that some orthographies write inside words: the apostrophe
# (l'homme, İstanbul'da, п'ять), the Catalan middle dot (col·lecció), ZWNJ
# (Persian می‌روم), the Hebrew geresh and gershayim of abbreviations (צה״ל).
# One is kept between letters when at least this share of the sample
# sentences has it there.
WORD_INTERNAL_CANDIDATES = "'\u00b7\u200c\u05f3\u05f4"
MIN_WORD_INTERNAL_SHARE = 0.01


def _deleted(*ranges):
    return {chr(p): "" for start, end in ranges for p in range(start, end + 1)}


# Marks a script writes only sometimes (as the shipped ar, fa and ru recipes
# delete them): for the sample's main script they become char_map entries
# deleting them, so they never enter the alphabet and "мо́ва" is "мова".
SCRIPT_CHAR_MAPS = {
    # harakat, superscript alef, combining madda/hamza, tatweel
    "ARABIC": _deleted((0x064B, 0x0655), (0x0670, 0x0670), (0x0640, 0x0640)),
    # cantillation and niqqud (vowel points, dagesh, shin/sin dots)
    "HEBREW": _deleted((0x0591, 0x05BD), (0x05BF, 0x05BF), (0x05C1, 0x05C2), (0x05C4, 0x05C5), (0x05C7, 0x05C7)),
    # stress accents (NFKC keeps them combining on Cyrillic letters)
    "CYRILLIC": _deleted((0x0300, 0x0301)),
    # stress, emphasis and question marks written on a word's vowel; NFKC splits
    # the letter "և" into "եւ" (ւ follows ե in no other spelling), put back together
    "ARMENIAN": {**_deleted((0x055B, 0x055C), (0x055E, 0x055E)), "եւ": "և"},
}

LANGUAGE_NAMES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "et": "Estonian",
    "fa": "Persian", "fr": "French", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "ru": "Russian", "sv-SE": "Swedish",
    "th": "Thai", "uk": "Ukrainian", "zh-CN": "Chinese (China)",
}

README_TEMPLATE = """\
# Common Voice 7.0 {name} ({code})

CTC fine-tuning of a pre-trained wav2vec2-family encoder on {name} speech, as in
"On the Cross-lingual Transferability of Pre-trained wav2vec2-based Models"
(Grosman et al.). `train.py` is the same file in every language directory; all
that is {name} is in `hparams/{code}.yaml` (text rules, metric, synthetic voice).
The experiment itself (optimiser, batching, encoder settings) is the shared
`hparams/ctc_study.yaml` of the repository root.

## How to run

    cd recipes/{code}
    python train.py hparams/{code}.yaml --data_folder=/path/to/cv-corpus-7.0-2021-07-21/{code}

Choose the encoder with `--encoder=<name>`, a name from `hparams/encoders.yaml`
(default `xlsr-53`), and the seed with `--seed`:

    python train.py hparams/{code}.yaml --data_folder=/path/to/cv-corpus-7.0-2021-07-21/{code} \\
        --encoder=xls-r-300m --seed=2

Encoders: {encoders}.

Data preparation (MP3 to 16 kHz WAV, once, shared by all runs of the language)
writes `results/prepared/{code}/` with `prep_report.json` (rows kept and skipped,
by reason); each run writes `results/{code}/<encoder>/seed_<seed>/results.json`.
Primary metric: **{metric}**{metric_note}.

## Text normalisation

{normalisation}

## Results (Common Voice 7.0 test)

Error rates in percent, mean over seeds 1-3 (`results.json` of each run:
`metrics.test`).

| encoder | test WER | test CER |
|---|---|---|
{rows}
"""

COMMON_STEPS = (
    "Every language goes through the same steps (crossling_asr/text.py): Unicode NFKC, "
    "lower-casing, typographic apostrophes unified to ', the language's character map, "
    "punctuation and symbols that are not read out (emoji, bullets) to spaces, invisible "
    "format characters deleted. Training sentences that still contain digits, symbols read "
    "as words (& % @ § ° # + = currency signs) or characters outside the alphabet are skipped "
    "and counted in prep_report.json (numbers are not spelled out); dev and test keep "
    "every sentence."
)


def encoder_names():
    """Short names of hparams/encoders.yaml, in file order."""
    text = (ROOT / "hparams" / "encoders.yaml").read_text(encoding="utf-8")
    return re.findall(r"^([A-Za-z0-9][\w.-]*):\s*$", text, flags=re.M)


def render_readme(code, name, normalisation, primary_metric="WER"):
    """README.md of a recipe directory."""
    names = encoder_names()
    note = "" if primary_metric == "WER" else (
        " (written without spaces between words: WER would count whole sentences; "
        "WER is reported too)"
    )
    return README_TEMPLATE.format(
        code=code,
        name=name,
        encoders=", ".join(f"`{n}`" for n in names),
        metric=primary_metric,
        metric_note=note,
        normalisation=normalisation + "\n\n" + COMMON_STEPS,
        rows="\n".join(f"| {n} | | |" for n in names),
    )


# ---------------------------------------------------------------------------
# espeak-ng voices


def espeak_voices():
    """{voice identifier: language name} of the installed espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return {}
    out = subprocess.run([exe, "--voices"], capture_output=True, text=True, check=False).stdout
    voices = {}
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4:
            voices.setdefault(fields[1], fields[3].replace("_", " "))
    return voices


# Common Voice codes whose espeak-ng voice has another name.
VOICE_ALIASES = {"zh-TW": "cmn", "zh-CN": "cmn", "zh-HK": "yue", "kmr": "ku", "nan-tw": "nan"}


def default_voice(code, voices):
    """The espeak-ng voice named like the CV code: "ca" -> "ca", "sv-SE" -> "sv", "zh-TW" -> "cmn"."""
    base = code.split("-")[0].lower()
    for candidate in (code, code.lower(), f"{base}-{code.split('-')[-1].lower()}", base, VOICE_ALIASES.get(code)):
        if candidate in voices:
            return candidate
    return None


# ---------------------------------------------------------------------------
# Alphabet from sample sentences


def _prepare(sentence, case_map, char_map=None):
    """What TextNormalizer does to a sentence before it looks at characters."""
    text = unicodedata.normalize("NFKC", sentence)
    for key, value in case_map.items():
        text = text.replace(key, value)
    text = text.lower()
    for key, value in TYPOGRAPHIC_MAP.items():
        text = text.replace(key, value)
    for key in sorted(char_map or {}, key=len, reverse=True):
        text = text.replace(key, char_map[key])
    return text


def _escape(ch):
    """A character as it should appear inside a regex class written in YAML."""
    if ch in "\\]^-[":
        return "\\" + ch
    if unicodedata.category(ch)[0] in "MC" or ord(ch) > 0xFFFF:
        return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"
    return ch


def compact_class(chars):
    """Regex class body for `chars`, runs of 4+ consecutive code points as ranges."""
    points = sorted({ord(c) for c in chars})
    parts, i = [], 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        if j - i >= 3:
            parts.append(f"{_escape(chr(points[i]))}-{_escape(chr(points[j]))}")
        else:
            parts.extend(_escape(chr(p)) for p in points[i : j + 1])
        i = j + 1
    return "".join(parts)


def script_of(ch):
    """First word of the character's Unicode name (LATIN, CYRILLIC, CJK, ...)."""
    first = unicodedata.name(ch, "UNKNOWN").split()[0]
    return SCRIPT_GROUPS.get(first, first)


def main_script_of(sentences, case_map):
    """The script of most letters of the sample sentences (LATIN, CYRILLIC, ...)."""
    scripts = Counter(script_of(ch) for s in sentences for ch in _prepare(s, case_map) if ch.isalpha())
    return scripts.most_common(1)[0][0] if scripts else None


def analyse_sentences(sentences, case_map, char_map=None):
    """Letters and marks of sample sentences: (kept Counter, rare Counter, scripts Counter, spaces per letter)."""
    counts, spaces = Counter(), 0
    for sentence in sentences:
        text = _prepare(sentence, case_map, char_map)
        spaces += len(text.split()) - 1 if text.strip() else 0
        counts.update(ch for ch in text if unicodedata.category(ch)[0] in "LM")
    total = sum(counts.values())
    threshold = max(MIN_COUNT, MIN_SHARE * total)
    kept = Counter({c: n for c, n in counts.items() if n >= threshold})
    rare = Counter({c: n for c, n in counts.items() if n < threshold})
    scripts = Counter()
    for ch, n in kept.items():
        scripts[script_of(ch)] += n
    return kept, rare, scripts, spaces / max(1, total)


def alphabet_for_scripts(kept, scripts):
    """Letters of the language's script(s) (plus basic Latin where Latin is one); (letters, scripts)."""
    total = sum(scripts.values())
    main = [s for s, n in scripts.most_common() if n >= MIN_SCRIPT_SHARE * total]
    letters = {c for c in kept if script_of(c) in main or unicodedata.category(c)[0] == "M"}
    if "LATIN" in main:
        letters |= set("abcdefghijklmnopqrstuvwxyz")
    for prefix in {unicodedata.name(c, "?").split()[0] for c in letters} & set(FULL_BLOCKS):
        for start, end in FULL_BLOCKS[prefix]:
            letters |= {chr(p) for p in range(start, end + 1)}
    return letters, main


def _is_letter(ch):
    return unicodedata.category(ch)[0] in "LM"  # marks too: Indic vowel signs, virama


def word_internal_characters(sentences, case_map, char_map=None):
    """The WORD_INTERNAL_CANDIDATES found between two letters in enough sample sentences."""
    found = Counter()
    for sentence in sentences:
        text = _prepare(sentence, case_map, char_map)
        found.update({ch for i, ch in enumerate(text[1:-1], 1) if ch in WORD_INTERNAL_CANDIDATES
                      and _is_letter(text[i - 1]) and _is_letter(text[i + 1])})
    return "".join(ch for ch in WORD_INTERNAL_CANDIDATES
                   if found[ch] >= max(1, MIN_WORD_INTERNAL_SHARE * len(sentences)))


def frequent_words(sentences, normalizer, n=40):
    """The `n` most frequent words (2+ letters) of sentences that normalise cleanly."""
    counts = Counter()
    for sentence in sentences:
        result = normalizer(sentence)
        if normalizer.reject_reason(result) is None:
            counts.update(w for w in result.text.split() if len(w) >= 2)
    return [w for w, _ in counts.most_common(n)]


# ---------------------------------------------------------------------------
# Writing the recipe


YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}


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
    return "\n".join(lines)[len(indent):]


def read_words(path):
    """Words of a --words file: one a line, "written<TAB>reading" for pairs."""
    words = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip("\n\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" in line:
            written, reading = line.split("\t", 1)
            words.append([written.strip(), reading.strip()])
        else:
            words.append(line.strip())
    return words


def build_yaml(code, name, source, base_rel, alphabet_line, alphabet_note, text, primary_metric, voice, words):
    """Text of hparams/<code>.yaml."""
    out = [
        f"# Common Voice 7.0 {name} ({code}), made by local/new_language.py from {source}.",
        "# Only what is particular to the language lives here; the experiment",
        "# itself (encoder, optimiser, batching, outputs) is base_hparams.",
        f"base_hparams: {base_rel}",
        "",
        f"language: {code}",
        "text:",
    ]
    out += [f"    # {line}" for line in alphabet_note]
    out.append(f"    alphabet: {alphabet_line}")
    out.append(f"    word_internal_punctuation: {yaml_string(text['word_internal_punctuation'])}")
    out.append(f"    case_map: {json.dumps(text['case_map'], ensure_ascii=False)}")
    if text["char_map"]:
        out.append("    # Marks the script writes only sometimes, deleted (see SCRIPT_CHAR_MAPS in")
        out.append("    # local/new_language.py); add the language's variant letters here.")
    out.append(f"    char_map: {json.dumps(text['char_map'])}")
    out.append(f"    lowercase: {text['lowercase']}")
    out.append(f"    word_delimiter: {text['word_delimiter']}")
    out.append(f"    out_of_alphabet: {text['out_of_alphabet']}")
    out.append(f"primary_metric: {primary_metric}")
    out.append("synthetic:")
    if voice is None:
        out.append("    # No espeak-ng voice matches the code: set one from `espeak-ng --voices`.")
    out.append(f"    voice: {voice if voice else 'null'}")
    if not words:
        out.append("    # Give 30-40 words of the language (--words FILE) for the synthetic corpus.")
    out.append(f"    words: {yaml_words(words)}")
    return "\n".join(out) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("code", help="Common Voice language code, e.g. ca, tr, pt-BR")
    parser.add_argument("--from", dest="source", default="es", help="recipe to copy (default es)")
    parser.add_argument("--voice", help="espeak-ng voice (default: the voice named like the code)")
    parser.add_argument("--alphabet", help='regex class body of the letters, e.g. "a-zçğıöşü"')
    parser.add_argument("--sentences", type=Path, help="sample sentences, one a line: derive the alphabet")
    parser.add_argument("--words", type=Path, help="words for synthetic speech, one a line (written<TAB>reading)")
    parser.add_argument("--word-internal", dest="word_internal", default=None,
                        help="characters kept between letters, e.g. \"'\" (default: found in --sentences, else the source's)")
    parser.add_argument("--word-delimiter", choices=("auto", "yes", "no"), default="auto",
                        help="no: written without spaces (CER primary); auto: from --sentences, else the source's")
    parser.add_argument("--name", help="language name for the README (default: espeak-ng's name)")
    parser.add_argument("--recipes-dir", type=Path, default=ROOT / "recipes",
                        help="where recipe directories live (default: the repository's recipes/)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing recipe directory")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    code = args.code
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", code):
        sys.exit(f"error: '{code}' does not look like a Common Voice language code (e.g. ca, sv-SE)")
    src_dir = args.recipes_dir / args.source if (args.recipes_dir / args.source).is_dir() else ROOT / "recipes" / args.source
    src_yaml = src_dir / "hparams" / f"{args.source}.yaml"
    if not src_yaml.is_file():
        sys.exit(f"error: no recipe to copy: {src_yaml} not found")
    dest = args.recipes_dir / code
    if dest.exists() and not args.force:
        sys.exit(f"error: {dest} exists; use --force to overwrite it")
    source = ruamel.yaml.YAML(typ="safe", pure=True).load(src_yaml.read_text(encoding="utf-8")) or {}
    src_text = source.get("text", {})

    voices = espeak_voices()
    voice = args.voice or default_voice(code, voices)
    if args.voice and voices and args.voice.split("+")[0] not in voices:
        print(f"warning: espeak-ng has no voice '{args.voice}' (see `espeak-ng --voices`)")
    name = args.name or LANGUAGE_NAMES.get(code) or (voices.get(voice) if voice else None) or code

    sentences = []
    if args.sentences:
        sentences = [s for s in args.sentences.read_text(encoding="utf-8").splitlines() if s.strip()]
        if not sentences:
            sys.exit(f"error: {args.sentences} has no sentences")

    # Case pairs str.lower() gets wrong
    case_map = {}
    if code.split("-")[0].lower() in DOTLESS_I_LANGUAGES or any("ı" in s for s in sentences):
        case_map = dict(DOTLESS_I_CASE_MAP)
        print(f"Dotted/dotless i: case_map {case_map} (I -> ı, İ -> i before lower-casing)")

    # Optional marks of the sample's script, deleted (and so kept out of the alphabet)
    char_map = {}
    script = main_script_of(sentences, case_map) if sentences else None
    if script in SCRIPT_CHAR_MAPS:
        char_map = dict(SCRIPT_CHAR_MAPS[script])
        print(f"{script} script: char_map deletes its optional marks ({len(char_map)} entries)")

    # Alphabet
    word_delimiter = bool(src_text.get("word_delimiter", True))
    if args.alphabet:
        alphabet_body = args.alphabet
        alphabet_note = ["Letters given on the command line of local/new_language.py."]
    elif sentences:
        kept, rare, scripts, spaces_per_letter = analyse_sentences(sentences, case_map, char_map)
        if not kept:
            sys.exit(f"error: no letters found in {args.sentences}")
        letters, main_scripts = alphabet_for_scripts(kept, scripts)
        main_script = "/".join(main_scripts)
        alphabet_body = compact_class(letters)
        others = sorted(c for c in kept if c not in letters)
        alphabet_note = [
            f"Derived from {len(sentences)} sentences of {args.sentences.name}: the {main_script} letters",
            "and marks found in them. Check it against the language's spelling.",
        ]
        if others:
            alphabet_note.append("Left out (other scripts): " + " ".join(others[:40]))
        if rare:
            alphabet_note.append("Left out (too rare): " + " ".join(sorted(rare)[:40]))
        if args.word_delimiter == "auto" and (main_scripts[0] in UNSPACED_SCRIPTS or spaces_per_letter < 0.03):
            word_delimiter = False
        print(f"Alphabet from {len(sentences)} sentences ({main_script}): {alphabet_body}")
        if rare:
            print("  rare characters left out: " + " ".join(sorted(rare)))
    else:
        alphabet_body = src_text["alphabet"]
        alphabet_note = [
            "!!! COPIED FROM THE SOURCE RECIPE: the letters below are those of "
            f"{args.source}, not of {code}.",
            "!!! Replace them (--alphabet, or --sentences FILE to derive them) before training.",
        ]
        print(f"WARNING: no --alphabet or --sentences: the alphabet of {args.source} was copied; set it in the yaml")
    if args.word_delimiter != "auto":
        word_delimiter = args.word_delimiter == "yes"
    if args.word_internal is not None:
        word_internal = args.word_internal
    elif sentences:
        word_internal = word_internal_characters(sentences, case_map, char_map)
        print(f"Kept between letters (found there in the sentences): {word_internal!r}")
    else:
        word_internal = src_text.get("word_internal_punctuation", "")
    text = {
        "word_internal_punctuation": word_internal,
        "case_map": case_map,
        "char_map": char_map,
        "lowercase": bool(src_text.get("lowercase", True)),
        "word_delimiter": word_delimiter,
        "out_of_alphabet": src_text.get("out_of_alphabet", "skip"),
    }
    try:
        spec = LanguageSpec(code=code, alphabet=alphabet_body, **{k: v for k, v in text.items()})
    except ValueError as err:
        sys.exit(f"error: {err}")
    normalizer = TextNormalizer(spec)
    primary_metric = "WER" if word_delimiter else "CER"

    # Words for the synthetic corpus
    if args.words:
        words = read_words(args.words)
    elif sentences and word_delimiter:
        words = frequent_words(sentences, normalizer)
    else:
        words = []
    bad = [w for w in words if normalizer.reject_reason(normalizer(w[0] if isinstance(w, list) else w))]
    if bad:
        print(f"warning: these words do not normalise cleanly under the alphabet: {bad}")

    # Files
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "hparams").mkdir(exist_ok=True)
    shutil.copyfile(src_dir / "train.py", dest / "train.py")
    shutil.copymode(src_dir / "train.py", dest / "train.py")
    base_file = (src_yaml.parent / source["base_hparams"]).resolve()
    base_rel = os.path.relpath(base_file, dest / "hparams")
    yaml_text = build_yaml(
        code, name, f"recipes/{args.source}", base_rel, yaml_alphabet(alphabet_body), alphabet_note,
        text, primary_metric, voice, words,
    )
    (dest / "hparams" / f"{code}.yaml").write_text(yaml_text, encoding="utf-8")
    normalisation = (
        f"Alphabet: `{alphabet_body}`"
        + ("" if not text["word_internal_punctuation"] else
           f"; kept between letters: `{text['word_internal_punctuation']}`")
        + ("; written without spaces: spaces are removed and CER is the primary metric"
           if not word_delimiter else "")
        + f". Made by local/new_language.py from the {args.source} recipe: review the text rules "
        f"in hparams/{code}.yaml (char_map for variant letters, case_map, apostrophes and hyphens) "
        "and describe them here."
    )
    (dest / "README.md").write_text(render_readme(code, name, normalisation, primary_metric), encoding="utf-8")

    if sentences:
        rejected = Counter()
        for sentence in sentences:
            reason = normalizer.reject_reason(normalizer(sentence))
            rejected[reason or "kept"] += 1
        print(f"Sample sentences under these rules: {dict(rejected)}")
    print(f"Created {dest}/ (train.py, README.md, hparams/{code}.yaml); voice: {voice}; {len(words)} words")
    if voice is None:
        print("  no espeak-ng voice found for the code: set synthetic.voice (espeak-ng --voices)")
    print(f"Next: cd {dest} && python train.py hparams/{code}.yaml --data_folder=/path/to/cv-corpus-7.0-2021-07-21/{code}")


if __name__ == "__main__":
    main()
