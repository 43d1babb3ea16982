"""Word n-gram language models for CTC beam search: build (ARPA), decode, tune.

KenLM's `lmplz` is not installable from PyPI or Debian here, so the LM is
estimated in Python: interpolated Kneser-Ney (Chen & Goodman 1998, one
discount per order) written as an ARPA back-off model that the `kenlm` Python
module reads. Written that way, the ARPA probability of a listed n-gram is
the interpolated probability and a context's back-off weight is its
interpolation weight, so every context's distribution sums to one exactly
(tests/test_lm.py checks this through KenLM). Pure Python keeps everything in
memory: fine for Common Voice transcripts (a few hundred thousand sentences);
for a large text corpus use KenLM's lmplz and pass its ARPA to the decoder.

Text goes through the language's `TextNormalizer`, the one used for training
targets and references: the LM and the acoustic model share an
alphabet. Decoding is SpeechBrain's CTCBeamSearcher with the ARPA through
KenLM; `alpha` weighs the LM and `beta` is a per-word insertion bonus, both
tuned on dev (`tune_lm_weights`) with that same decoder, so the tuned weights
mean the same when transcribing. Languages written without spaces have no
words to model: they are decoded greedily (`require_word_delimiter`).
"""

import copy
import csv
import functools
import hashlib
import itertools
import json
import logging
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from crossling_asr.atomic import atomic_path
from crossling_asr.text import TextNormalizer

logger = logging.getLogger(__name__)

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
# log10 probability ARPA files give <s>, which is never predicted.
ARPA_NEVER = -99.0
# Discount used when an order has no n-gram seen once or none seen twice.
FALLBACK_DISCOUNT = 0.5
# Beam search settings before tuning: those of SpeechBrain's CTCBeamSearcher
# (tests/test_lm.py checks they still are). Written out so that the command
# lines can show them without importing SpeechBrain.
LM_DEFAULTS = {"alpha": 0.5, "beta": 1.5, "beam_size": 100}
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
            counts[n] = Counter(
                {g: (c if g[0] == BOS else left_extensions[g]) for g, c in raw[n].items()}
            )
        counts[1][(BOS,)] = 0  # <s> is a context only, never predicted
        return counts

    @staticmethod
    def _discount(counts, order):
        n1 = sum(1 for c in counts.values() if c == 1)
        n2 = sum(1 for c in counts.values() if c == 2)
        if n1 == 0 or n2 == 0:
            logger.warning(
                "LM order %d: %d n-grams seen once and %d seen twice, so its Kneser-Ney discount "
                "cannot be estimated; using %.2f (more text fixes this)", order, n1, n2, FALLBACK_DISCOUNT,
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
        logger.warning("%d LM sentences are also dev/test transcripts: dev/test WER with this LM "
                       "is optimistic", overlap)
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


def tuning_file(lm_path):
    """Where tune_lm.py records the weights it chose for an LM: <lm>.tuning.json."""
    return Path(f"{lm_path}.tuning.json")


def lm_sha256(lm_path):
    """SHA-256 of an LM file's bytes: a tuning file records it, so that weights tuned for an
    LM are never applied to another one rebuilt at the same path."""
    digest = hashlib.sha256()
    with open(lm_path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_lm_weights(lm_path, alpha=None, beta=None, beam_size=None):
    """{alpha, beta, beam_size} to decode with the LM at `lm_path`.

    Each given value wins; alpha and beta not given are those tune_lm.py
    chose on dev for this LM (<lm>.tuning.json), else LM_DEFAULTS (with a
    warning); beam_size not given is LM_DEFAULTS'.
    """
    weights = dict(LM_DEFAULTS)
    path = tuning_file(lm_path)
    source = "defaults"
    if path.is_file():
        tuning = json.loads(path.read_text(encoding="utf-8"))
        if tuning.get("lm_sha256") == lm_sha256(lm_path):
            weights.update(alpha=tuning["best"]["alpha"], beta=tuning["best"]["beta"])
            source = f"tuned on dev, {path}"
        elif alpha is None or beta is None:
            logger.warning("%s was tuned for another LM than %s (the file changed since, or the tuning file "
                           "does not record it): its weights are not used; run local/tune_lm.py again. Using "
                           "alpha %.2f, beta %.2f unless given", path, lm_path, LM_DEFAULTS["alpha"],
                           LM_DEFAULTS["beta"])
    elif alpha is None or beta is None:
        logger.warning("%s not found (run local/tune_lm.py): using alpha %.2f, beta %.2f unless given",
                       path, LM_DEFAULTS["alpha"], LM_DEFAULTS["beta"])
    given = {"alpha": alpha, "beta": beta, "beam_size": beam_size}
    weights.update({key: value for key, value in given.items() if value is not None})
    logger.info("LM %s: alpha %s, beta %s, beam %s (%s%s)", lm_path, weights["alpha"], weights["beta"],
                weights["beam_size"], source, "; given values win" if any(v is not None for v in given.values()) else "")
    return weights


def make_beam_searcher(tokenizer, arpa_path, alpha, beta, beam_size):
    """SpeechBrain's CTC beam search with the ARPA word LM (through KenLM).

    `alpha` weighs the LM log-probability, `beta` is added per word.
    """
    from speechbrain.decoders.ctc import CTCBeamSearcher

    vocab = [tokenizer.ind2lab[i] for i in range(len(tokenizer))]
    if " " not in vocab:
        raise LMTextError("the model's vocabulary has no space: a word LM cannot be used with it")
    return CTCBeamSearcher(
        blank_index=tokenizer.get_blank_index(),
        vocab_list=vocab,
        space_token=" ",
        kenlm_model_path=str(arpa_path),
        alpha=alpha,
        beta=beta,
        beam_size=beam_size,
    )


def set_lm_weights(searcher, alpha, beta):
    """Change a beam searcher's LM weight and word bonus without reloading the LM."""
    searcher.alpha, searcher.beta = alpha, beta
    searcher.lm.alpha, searcher.lm.beta = alpha, beta


def beam_decode(searcher, log_probs, frames):
    """Beam-search one utterance's (frames, vocab) log-probabilities; returns text."""
    hyps = searcher.decode_log_probs(log_probs[:frames].cpu().numpy(), frames)
    return hyps[0].text if hyps else ""


# tune_lm.py's default grid.
TUNING_ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
TUNING_BETAS = [0.0, 0.5, 1.0, 2.0, 3.0]
# How tune_lm_weights searches the grid: N-best rescoring (the default), or every pair decoded.
TUNING_SEARCHES = ("rescore", "exhaustive")
# Pairs the rescoring search decodes at the full beam: 3 of the default grid's 35, which
# chose as the exhaustive search did, x12-13 faster (bench/lm_tuning.py, BENCHMARKS.md).
RESCORING_DECODES = 3


class NBestPool:
    """The hypotheses the beam searcher kept at the pairs decoded so far, to rescore at any pair.

    CTCBeamSearcher with SpeechBrain's KenlmScorer ranks a hypothesis by
    acoustic + alpha * LM + beta * words: acoustic is its CTC log-probability
    (summed over the paths merged into it), LM the sum of its words' natural-log
    KenLM probabilities from <s>, without </s> (a word outside the LM's
    unigrams also gets the scorer's unk offset), words their number. Only the
    weights depend on the pair, so over the pooled final beams the searcher's
    choice at any pair costs three numbers per hypothesis. A text kept at
    several decodes keeps its highest acoustic score (the one merging the most paths).
    """

    def __init__(self, searcher, n_utterances):
        # The searcher's own scorer (same KenLM model, unigrams, unk offset) at weights 1 and 0.
        self.word_scorer = copy.copy(searcher.lm)
        self.word_scorer.alpha, self.word_scorer.beta = 1.0, 0.0
        self.scores = [{} for _ in range(n_utterances)]  # per utterance: text -> [acoustic, LM, words]

    def lm_log_prob(self, text):
        """Natural-log LM score of `text` as the searcher adds it up, word by word."""
        state, total = self.word_scorer.get_start_state(), 0.0
        for word in text.split():
            score, state = self.word_scorer.score(state, word)
            total += score
        return total

    def add(self, final_beams):
        """Pool each utterance's final beam ([CTCHypothesis] of decode_log_probs, in utterance order)."""
        for scores, hypotheses in zip(self.scores, final_beams, strict=True):
            for hyp in hypotheses:
                if hyp.text in scores:
                    scores[hyp.text][0] = max(scores[hyp.text][0], hyp.score)
                else:
                    scores[hyp.text] = [hyp.score, self.lm_log_prob(hyp.text), len(hyp.text.split())]

    def choices(self, pairs):
        """{(alpha, beta): each utterance's best pooled hypothesis at that pair} for every pair."""
        weights = np.array([[1.0, alpha, beta] for alpha, beta in pairs]).T
        chosen = {pair: [] for pair in pairs}
        for scores in self.scores:
            texts = list(scores)
            best = np.argmax(np.array(list(scores.values())) @ weights, axis=0) if texts else [None] * len(pairs)
            for pair, index in zip(pairs, best):
                chosen[pair].append("" if index is None else texts[index])
        return chosen


def tune_lm_weights(utterances, tokenizer, arpa_path, alphas, betas, beam_size, greedy=None,
                    search="rescore", decodes=RESCORING_DECODES):
    """Grid search of (alpha, beta) by dev WER, with the decoder that transcribes.

    `utterances`: [(log_probs (frames, vocab), n_frames, reference)] computed
    once with the acoustic model. `search` "exhaustive" decodes every pair at
    `beam_size`. "rescore" (N-best rescoring) decodes `decodes` pairs: first
    the grid's middle one; after each decode it pools every utterance's final
    beam (NBestPool), rescores every pair over the pool and decodes next the
    undecoded pair with the lowest rescored dev WER (ties: the one fewest grid
    steps from a decoded pair, whose pool is likeliest to hold what its own
    search would find). Either way the choice is the decoded pair with the
    lowest WER at `beam_size` (the one transcription gets; ties go to the
    smallest alpha, then beta). A choice on the grid's edge (alpha or beta at
    the smallest or largest value tried) is warned about: the best may lie
    outside. `greedy`: the greedy hypotheses, reported for comparison.
    Returns {"best": {alpha, beta, WER}, "decoded": [{alpha, beta, WER}] in
    decoding order, "rescored": (rescore only) [{alpha, beta, WER}] over the
    final pool, "on_grid_edge": [...], "greedy_WER", ...}.
    """
    from crossling_asr.metrics import error_rates

    if search not in TUNING_SEARCHES:
        raise ValueError(f"LM tuning search must be one of {', '.join(TUNING_SEARCHES)}, got {search!r}")
    if decodes < 1:
        raise ValueError(f"LM tuning needs at least one decode, got decodes={decodes}")
    references = [ref for _, _, ref in utterances]
    pairs = list(itertools.product(alphas, betas))
    searcher = make_beam_searcher(tokenizer, arpa_path, alphas[0], betas[0], beam_size)
    searcher.topk = beam_size  # return the whole final beam; its first hypothesis is the transcription
    decoded = {}  # (alpha, beta) -> dev WER at beam_size

    def decode(pair):
        set_lm_weights(searcher, *pair)
        final_beams = [searcher.decode_log_probs(lp[:frames].cpu().numpy(), frames) for lp, frames, _ in utterances]
        decoded[pair] = error_rates([beam[0].text if beam else "" for beam in final_beams], references)["WER"]
        logger.info("alpha %.2f beta %.2f beam %d: dev WER %.2f", *pair, beam_size, decoded[pair])
        return final_beams

    def by_wer(item):
        (alpha, beta), wer = item
        return wer, alpha, beta

    result = {"search": search, "beam_size": beam_size}
    if search == "exhaustive":
        for pair in pairs:
            decode(pair)
    else:
        alpha_steps, beta_steps = ({v: i for i, v in enumerate(sorted(set(values)))} for values in (alphas, betas))

        def steps_to_decoded(pair):
            return min(abs(alpha_steps[pair[0]] - alpha_steps[a]) + abs(beta_steps[pair[1]] - beta_steps[b])
                       for a, b in decoded)

        pool = NBestPool(searcher, len(utterances))
        # Many pairs choose the same hypotheses: score each distinct choice once.
        rescored_wer = functools.cache(lambda texts: error_rates(list(texts), references)["WER"])
        pair = tuple(sorted(set(values))[len(set(values)) // 2] for values in (alphas, betas))
        while True:
            pool.add(decode(pair))
            rescored = {p: rescored_wer(tuple(texts)) for p, texts in pool.choices(pairs).items()}
            undecoded = [p for p in pairs if p not in decoded]
            if len(decoded) >= decodes or not undecoded:
                break
            pair = min(undecoded, key=lambda p: (rescored[p], steps_to_decoded(p), *p))
            logger.info("rescored over %d decodes: next alpha %.2f beta %.2f (rescored dev WER %.2f)",
                        len(decoded), *pair, rescored[pair])
        result["rescored"] = [{"alpha": a, "beta": b, "WER": wer} for (a, b), wer in rescored.items()]
    (alpha, beta), wer = min(decoded.items(), key=by_wer)
    best = {"alpha": alpha, "beta": beta, "WER": wer}
    edges = [f"{name} {best[name]} is the {'smallest' if best[name] == min(values) else 'largest'} value tried"
             for name, values in (("alpha", alphas), ("beta", betas))
             if len(set(values)) > 1 and best[name] in (min(values), max(values))]
    if edges:
        logger.warning("best LM weights on the grid's edge (%s): the best may lie outside; widen the grid "
                       "(--alphas/--betas)%s", "; ".join(edges),
                       "" if search == "exhaustive" else
                       ", or check the choice with more decodes (--decodes) or --search exhaustive: the rescoring "
                       "search decoded only some pairs")
    result.update(best=best, decoded=[{"alpha": a, "beta": b, "WER": wer} for (a, b), wer in decoded.items()],
                  on_grid_edge=edges, n_utterances=len(references))
    if greedy is not None:
        result["greedy_WER"] = error_rates(greedy, references)["WER"]
    return result
