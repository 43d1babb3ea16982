"""A new language's alphabet: CLDR's letters of the language, completed by its sample sentences.

A few hundred sample sentences do not show every letter of an alphabet
(Vietnamese writes 12 vowels with 6 tones each; an alphabet derived from
165 sentences lacked 39 of CLDR's 89 letters), so the letters come from CLDR where it
knows the language (crossling_asr.data.cldr): its standard exemplar set is
the alphabet, its auxiliary set the foreign letters, left out. The sample
then adds what CLDR lacks, each addition reported: letters of the language's
script outside both sets, and auxiliary letters written in at least
MIN_AUXILIARY_SENTENCE_SHARE of the sentences (CLDR puts Urdu's "ں" and
"آ" there). For a language CLDR does not know, the alphabet is derived from
the sample alone (text_rules), and said so.

Every choice also names rules that the sentences did not shape, and the
sentences to measure them on, so that the scaffold's "kept" figure is not
circular: CLDR's alphabet alone on the whole sample, or, for a derived
alphabet, the alphabet derived from one half of the sample measured on the
other half.
"""

import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from crossling_asr.data.cldr import icu_version
from crossling_asr.new_language import text_rules

# An auxiliary letter written in at least this share of the sample's sentences
# is taken as the language's own in its Common Voice text.
MIN_AUXILIARY_SENTENCE_SHARE = 0.05
# At most this many letters are listed in one line of the report or the yaml.
LISTED = 60


@dataclass
class AlphabetChoice:
    """The letters of a new language's alphabet, where they came from, and how to measure them."""

    letters: set
    note: list  # comment lines above the alphabet in the yaml
    report: list  # lines printed by the scaffold
    reference: str | None  # regex class of rules the measured sentences did not shape (None: nothing to measure)
    reference_name: str  # what `reference` is, said with the kept figure
    measured_on: list  # the sentences to measure `reference` on
    foreign: set = field(default_factory=set)  # CLDR's auxiliary letters left out of the alphabet
    main_scripts: list = field(default_factory=list)  # the sample's scripts (empty without sentences)
    spaces_per_letter: float | None = None  # in the sample (None without sentences)


def listed(letters):
    """Letters as a line of text, sorted, at most LISTED of them."""
    letters = sorted(letters)
    more = f" ... ({len(letters)} in all)" if len(letters) > LISTED else ""
    return " ".join(letters[:LISTED]) + more


def language_letters(strings, normalizer):
    """The letters and marks `normalizer` writes for exemplar strings ("дж" gives д and ж;
    NFC "क़" gives क and the nukta, as NFKC decomposes it; Turkish "İ" gives "i")."""
    return {ch for string in strings for ch in normalizer.rewrite(string) if text_rules.is_letter(ch)}


def cldr_script(exemplars):
    """The script of most of CLDR's standard letters of a language (LATIN, CYRILLIC, ...)."""
    scripts = Counter(text_rules.script_of(ch) for s in exemplars.standard for ch in s if ch.isalpha())
    return scripts.most_common(1)[0][0] if scripts else None


def cldr_word_internal(exemplars, normalizer):
    """The WORD_INTERNAL_CANDIDATES CLDR lists among a language's letters (Catalan "·", Ukrainian "ʼ")."""
    found = {ch for s in exemplars.standard for ch in normalizer.rewrite(s)}
    return "".join(ch for ch in text_rules.WORD_INTERNAL_CANDIDATES if ch in found)


def _is_mark(ch):
    return unicodedata.category(ch)[0] == "M"


def from_cldr(exemplars, sentences, normalizer):
    """CLDR's standard letters, plus what the sample `sentences` add (see the module docstring)."""
    standard = language_letters(exemplars.standard, normalizer)
    foreign = language_letters(exemplars.auxiliary, normalizer) - standard
    full = text_rules.with_full_blocks(standard)
    source = f"CLDR's standard exemplar set of {exemplars.locale} (ICU {icu_version()})"
    block = "; with the whole Unicode block of its script" if full != standard else ""
    note = [f"The letters of {source}{block}."]
    report = [f"Alphabet from {source}: {len(standard)} letters{block}"]
    if foreign:
        note.append(f"Foreign letters (CLDR's auxiliary set), left out: {listed(foreign)}")
    if not sentences:
        return AlphabetChoice(full, note, report, None, "", [], foreign, [cldr_script(exemplars)])

    kept, rare, scripts, spaces_per_letter = text_rules.analyse_sentences(sentences, normalizer)
    shown = kept + rare
    in_sentences = Counter(ch for s in sentences for ch in set(normalizer.rewrite(s)) if ch in shown)
    own_scripts = {text_rules.script_of(c) for c in standard if not _is_mark(c)}
    outside = {c for c in shown if c not in full and c not in foreign}
    added = {c for c in outside & set(kept) if text_rules.script_of(c) in own_scripts or _is_mark(c)}
    auxiliary_needed = max(1, MIN_AUXILIARY_SENTENCE_SHARE * len(sentences))
    foreign_added = {c for c in foreign if in_sentences[c] >= auxiliary_needed}
    foreign_shown = {c for c in foreign if 0 < in_sentences[c] < auxiliary_needed}
    other_scripts = {c for c in outside & set(kept) if c not in added}
    too_rare = outside - set(kept)
    never_shown = standard - set(shown)

    name = f"{len(sentences)} sample sentences"
    if added:
        report.append(f"  the {name} add letters CLDR does not list: {listed(added)}")
        note.append(f"Added from the {name} (CLDR does not list them): {listed(added)}")
    if foreign_added:
        report.append(
            f"  the {name} write CLDR's foreign letters {listed(foreign_added)} in "
            f"{MIN_AUXILIARY_SENTENCE_SHARE:.0%} or more of them: added"
        )
        note.append(f"Foreign letters in CLDR that the {name} write often, added: {listed(foreign_added)}")
    if foreign_shown:
        report.append(f"  CLDR's foreign letters in a few sentences, left out: {listed(foreign_shown)}")
    if other_scripts:
        report.append(f"  letters of other scripts in the sentences, left out: {listed(other_scripts)}")
        note.append(f"Left out (other scripts): {listed(other_scripts)}")
    if too_rare:
        report.append(f"  letters outside CLDR's sets too rare in the sentences, left out: {listed(too_rare)}")
        note.append(f"Left out (outside CLDR's sets, too rare in the sample): {listed(too_rare)}")
    if never_shown:
        report.append(f"  CLDR letters the sentences never show (kept in the alphabet): {listed(never_shown)}")
    sample_script = scripts.most_common(1)[0][0] if scripts else None
    if sample_script and sample_script not in own_scripts:
        report.append(
            f"  WARNING: the sentences are mostly {sample_script}, CLDR's {exemplars.locale} letters "
            f"{'/'.join(sorted(own_scripts))}: check the language code"
        )
    main_scripts = [s for s, n in scripts.most_common() if n >= text_rules.MIN_SCRIPT_SHARE * sum(scripts.values())]
    return AlphabetChoice(
        letters=full | added | foreign_added,
        note=note,
        report=report,
        reference=text_rules.compact_class(full),
        reference_name=f"CLDR's {exemplars.locale} alphabet alone (the sentences did not shape it)",
        measured_on=list(sentences),
        foreign=foreign - foreign_added,
        main_scripts=main_scripts,
        spaces_per_letter=spaces_per_letter,
    )


def _derived(sentences, normalizer):
    """(letters, main scripts, kept, rare, spaces per letter) derived from `sentences` alone."""
    kept, rare, scripts, spaces_per_letter = text_rules.analyse_sentences(sentences, normalizer)
    letters, main_scripts = text_rules.alphabet_for_scripts(kept, scripts) if kept else (set(), [])
    return letters, main_scripts, kept, rare, spaces_per_letter


def from_sample(code, sentences, normalizer, sentences_name):
    """The alphabet derived from the sample alone, for a language CLDR does not know."""
    letters, main_scripts, kept, rare, spaces_per_letter = _derived(sentences, normalizer)
    if not kept:
        return None
    main_script = "/".join(main_scripts)
    others = sorted(c for c in kept if c not in letters)
    note = [
        f"CLDR does not know {code}: derived from {len(sentences)} sentences of {sentences_name}, the",
        f"{main_script} letters and marks found in them. Check it against the language's spelling.",
    ]
    if others:
        note.append("Left out (other scripts): " + listed(others))
    if rare:
        note.append("Left out (too rare): " + listed(rare))
    report = [f"CLDR does not know {code}: alphabet derived from {len(sentences)} sentences alone ({main_script})"]
    if rare:
        report.append("  rare characters left out: " + listed(rare))
    # The kept figure: an alphabet derived from lines 1, 3, 5 ... measured on lines 2, 4, 6 ...
    reference, reference_name, measured_on = None, "", []
    if len(sentences) >= 2:
        half_letters = _derived(sentences[::2], normalizer)[0]
        if half_letters:
            reference = text_rules.compact_class(half_letters)
            reference_name = (
                "an alphabet derived from the odd-numbered sentences alone, measured on the even-numbered ones"
            )
            measured_on = sentences[1::2]
    return AlphabetChoice(
        letters, note, report, reference, reference_name, measured_on, set(), main_scripts, spaces_per_letter
    )
