"""Choosing the LM weight (alpha) and word bonus (beta) of beam search by dev WER."""

import copy
import functools
import itertools
import logging

import numpy as np

from crossling_asr.decoding.beam_search import make_beam_searcher, set_lm_weights

logger = logging.getLogger(__name__)

# tune_lm.py's default grid.
TUNING_ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0]


TUNING_BETAS = [0.0, 0.5, 1.0, 2.0, 3.0]


# How tune_lm_weights searches the grid: N-best rescoring (the default), or every pair decoded.
TUNING_SEARCHES = ("rescore", "exhaustive")


# Pairs the rescoring search decodes at the full beam: 3 of the default grid's 35, which
# chose as the exhaustive search did, x12-13 faster (bench/lm_tuning.py, docs/benchmarks.md).
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


def tune_lm_weights(
    utterances, tokenizer, arpa_path, alphas, betas, beam_size, greedy=None, search="rescore", decodes=RESCORING_DECODES
):
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
    from crossling_asr.decoding.metrics import error_rates

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
            return min(
                abs(alpha_steps[pair[0]] - alpha_steps[a]) + abs(beta_steps[pair[1]] - beta_steps[b])
                for a, b in decoded
            )

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
            logger.info(
                "rescored over %d decodes: next alpha %.2f beta %.2f (rescored dev WER %.2f)",
                len(decoded),
                *pair,
                rescored[pair],
            )
        result["rescored"] = [{"alpha": a, "beta": b, "WER": wer} for (a, b), wer in rescored.items()]
    (alpha, beta), wer = min(decoded.items(), key=by_wer)
    best = {"alpha": alpha, "beta": beta, "WER": wer}
    edges = [
        f"{name} {best[name]} is the {'smallest' if best[name] == min(values) else 'largest'} value tried"
        for name, values in (("alpha", alphas), ("beta", betas))
        if len(set(values)) > 1 and best[name] in (min(values), max(values))
    ]
    if edges:
        logger.warning(
            "best LM weights on the grid's edge (%s): the best may lie outside; widen the grid (--alphas/--betas)%s",
            "; ".join(edges),
            ""
            if search == "exhaustive"
            else ", or check the choice with more decodes (--decodes) or --search exhaustive: the rescoring "
            "search decoded only some pairs",
        )
    result.update(
        best=best,
        decoded=[{"alpha": a, "beta": b, "WER": wer} for (a, b), wer in decoded.items()],
        on_grid_edge=edges,
        n_utterances=len(references),
    )
    if greedy is not None:
        result["greedy_WER"] = error_rates(greedy, references)["WER"]
    return result
