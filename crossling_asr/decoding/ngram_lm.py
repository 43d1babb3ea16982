"""Word n-gram language models for CTC beam search, estimated from a language's text (ARPA).

KenLM's `lmplz` is not installable from PyPI or Debian here, so the LM is
estimated in Python: interpolated Kneser-Ney (Chen & Goodman 1998, one
discount per order) written as an ARPA back-off model that the `kenlm` Python
module reads. Written that way, the ARPA probability of a listed n-gram is
the interpolated probability and a context's back-off weight is its
interpolation weight, so every context's distribution sums to one exactly
(the tests check this through KenLM). Pure Python keeps everything in
memory: fine for Common Voice transcripts (a few hundred thousand sentences);
for a large text corpus use KenLM's lmplz and pass its ARPA to the decoder.

Text goes through the language's `TextNormalizer`, the one used for training
targets and references: the LM and the acoustic model share an alphabet.
Languages written without spaces have no words to model: they are decoded
greedily (`require_word_delimiter`).
"""

import csv
import itertools
import logging
import math
from collections import Counter, defaultdict
from pathlib import Path

from crossling_asr.atomic import atomic_path
from crossling_asr.data.text import TextNormalizer

logger = logging.getLogger(__name__)

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


# log10 probability ARPA files give <s>, which is never predicted.
ARPA_NEVER = -99.0


# Discount used when an order has no n-gram seen once or none seen twice.
FALLBACK_DISCOUNT = 0.5


MIN_ORDER = 2  # KenLM reads bigram models and up


MAX_ORDER = 6


class LMTextError(ValueError):
    """LM training text that cannot be used (empty, or a language without words)."""


def require_word_delimiter(spec):
    """Raise LMTextError for a language written without spaces (no words to model)."""
    if not spec.word_delimiter:
        raise LMTextError(
            f"Language {spec.code} is written without spaces between words, so a word "
            "n-gram LM does not apply; decode it greedily (CER is its metric)."
        )


def normalized_sentences(lines, normalizer):
    """Yield normalised, non-empty sentences of `lines`; count those rejected.

    Lines follow the training targets' rules: a line the language's policy
    would skip as a training target (digits, foreign characters) is skipped.
    Returns (generator of sentences, Counter of rejection reasons filled as
    the generator runs).
    """
    rejected = Counter()

    def generate():
        for line in lines:
            result = normalizer(line)
            reason = normalizer.reject_reason(result)
            if reason:
                rejected[reason] += 1
                continue
            yield result.text

    gen = generate()
    return gen, rejected


def read_text_lines(path):
    """Lines of a UTF-8 text file (one sentence a line), or a clear error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LM text file {path} not found")
    try:
        with open(path, encoding="utf-8") as f:
            yield from (line.rstrip("\n") for line in f)
    except UnicodeDecodeError as err:
        raise LMTextError(f"LM text file {path} is not UTF-8: {err}") from err


def read_manifest_transcripts(csv_path):
    """The `wrd` column of a prepared manifest CSV."""
    with open(csv_path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if "wrd" not in (reader.fieldnames or []):
            raise LMTextError(f"{csv_path} has no `wrd` column of transcripts")
        yield from (row["wrd"] for row in reader)


class KneserNeyLM:
    """An interpolated Kneser-Ney word n-gram model, estimated from sentences.

    Counts: the highest order uses raw counts; lower orders use continuation
    counts (the number of distinct words seen before the n-gram), except
    n-grams starting with <s>, which cannot be extended to the left and keep
    raw counts. Each order n has one absolute discount D_n = n1 / (n1 + 2 n2)
    from its counts of counts. Unigrams are interpolated with the uniform
    distribution over the vocabulary plus <unk>, so unseen words get mass.
    """

    def __init__(self, sentences, order=3):
        if not MIN_ORDER <= order <= MAX_ORDER:
            raise ValueError(f"LM order must be between {MIN_ORDER} and {MAX_ORDER}, got {order}")
        self.order = order
        raw = [Counter() for _ in range(order + 1)]  # raw[n][ngram tuple]
        n_sentences = 0
        for sentence in sentences:
            words = [BOS, *sentence.split(), EOS]
            n_sentences += 1
            for n in range(1, order + 1):
                for i in range(len(words) - n + 1):
                    raw[n][tuple(words[i : i + n])] += 1
        if n_sentences == 0:
            raise LMTextError("no sentences to estimate a language model from")
        self.n_sentences = n_sentences
        self.counts = self._adjusted_counts(raw)
        self.discounts = [None] + [self._discount(self.counts[n], n) for n in range(1, order + 1)]
        self.vocabulary = sorted({g[0] for g in self.counts[1]} - {BOS} | {UNK})
        self.log10_probs, self.log10_backoffs = self._estimate()

    def _adjusted_counts(self, raw):
        counts = [None] * (self.order + 1)
        counts[self.order] = raw[self.order]
        for n in range(self.order - 1, 0, -1):
            left_extensions = Counter(g[1:] for g in raw[n + 1])
            counts[n] = Counter({g: (c if g[0] == BOS else left_extensions[g]) for g, c in raw[n].items()})
        counts[1][(BOS,)] = 0  # <s> is a context only, never predicted
        return counts

    @staticmethod
    def _discount(counts, order):
        n1 = sum(1 for c in counts.values() if c == 1)
        n2 = sum(1 for c in counts.values() if c == 2)
        if n1 == 0 or n2 == 0:
            logger.warning(
                "LM order %d: %d n-grams seen once and %d seen twice, so its Kneser-Ney discount "
                "cannot be estimated; using %.2f (more text fixes this)",
                order,
                n1,
                n2,
                FALLBACK_DISCOUNT,
            )
            return FALLBACK_DISCOUNT
        return n1 / (n1 + 2 * n2)

    def _estimate(self):
        """Interpolated probabilities of every seen n-gram and back-off weights of contexts."""
        probs = {}  # ngram -> probability (not log)
        backoffs = {}  # context ngram -> interpolation weight of its lower order
        unigram_total = sum(c for g, c in self.counts[1].items() if g != (BOS,))
        seen_types = sum(1 for g, c in self.counts[1].items() if g != (BOS,) and c > 0)
        d1 = self.discounts[1]
        uniform_weight = d1 * seen_types / unigram_total
        for word in self.vocabulary:
            count = self.counts[1].get((word,), 0)
            probs[(word,)] = max(count - d1, 0) / unigram_total + uniform_weight / len(self.vocabulary)
        for n in range(2, self.order + 1):
            by_context = defaultdict(list)
            for ngram, count in self.counts[n].items():
                by_context[ngram[:-1]].append((ngram, count))
            d = self.discounts[n]
            for context, entries in by_context.items():
                total = sum(c for _, c in entries)
                weight = d * sum(1 for _, c in entries if c > 0) / total
                backoffs[context] = weight
                for ngram, count in entries:
                    # Every suffix of a seen n-gram is a seen lower-order n-gram.
                    probs[ngram] = max(count - d, 0) / total + weight * probs[ngram[1:]]
        log_probs = {g: math.log10(p) for g, p in probs.items()}
        log_probs[(BOS,)] = ARPA_NEVER
        log_backoffs = {g: math.log10(w) for g, w in backoffs.items()}
        return log_probs, log_backoffs

    def ngram_counts(self):
        """Number of n-grams the ARPA file lists, per order."""
        counts = [0] * (self.order + 1)
        for ngram in self.log10_probs:
            counts[len(ngram)] += 1
        return counts[1:]

    def write_arpa(self, path):
        """Write the model as an ARPA file (atomically)."""
        by_order = defaultdict(list)
        for ngram in self.log10_probs:
            by_order[len(ngram)].append(ngram)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write("\\data\\\n")
            for n in range(1, self.order + 1):
                f.write(f"ngram {n}={len(by_order[n])}\n")
            for n in range(1, self.order + 1):
                f.write(f"\n\\{n}-grams:\n")
                for ngram in sorted(by_order[n]):
                    line = f"{self.log10_probs[ngram]:.7f}\t{' '.join(ngram)}"
                    if n < self.order and ngram in self.log10_backoffs:
                        line += f"\t{self.log10_backoffs[ngram]:.7f}"
                    f.write(line + "\n")
            f.write("\n\\end\\\n")
        return Path(path)


def build_run_lm(run, out, order=3, text_files=(), include_train=False):
    """Write an ARPA LM for a finished run's language; returns a report dict.

    Text: the run's training transcripts, or `text_files` (plus the training
    transcripts with `include_train`); never dev or test. Sentences equal to
    a dev/test transcript are counted and reported (they make dev/test WER
    with this LM optimistic).
    """
    spec = run.language_spec
    require_word_delimiter(spec)
    sources = list(text_files)
    if include_train or not sources:
        sources.append(run.manifest("train"))
    lines = itertools.chain.from_iterable(
        read_text_lines(p) if Path(p).suffix != ".csv" else read_manifest_transcripts(p) for p in sources
    )
    generator, rejected = normalized_sentences(lines, TextNormalizer(spec))
    sentences = list(generator)
    held_out = set()
    for split in ("dev", "test"):
        held_out.update(read_manifest_transcripts(run.manifest(split)))
    overlap = sum(1 for s in sentences if s in held_out)
    if overlap:
        logger.warning(
            "%d LM sentences are also dev/test transcripts: dev/test WER with this LM is optimistic", overlap
        )
    lm = KneserNeyLM(sentences, order)
    lm.write_arpa(out)
    return {
        "arpa": str(out),
        "order": order,
        "text": [str(p) for p in sources],
        "sentences": lm.n_sentences,
        "rejected_lines": dict(rejected),
        "vocabulary": len(lm.vocabulary),
        "ngrams": lm.ngram_counts(),
        "sentences_in_dev_test": overlap,
    }
