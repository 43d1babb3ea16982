"""LM weight tuning: rescoring n-best lists reproduces the searcher and chooses weights as good as the
exhaustive search; best weights on the grid's edge are a warning."""

import logging
import math
import random

import kenlm
import pytest
import torch

from crossling_asr.decoding.lm_tuning import RESCORING_DECODES, tune_lm_weights
from crossling_asr.decoding.ngram_lm import KneserNeyLM
from tests.helpers.lm import char_tokenizer, random_sentences


def peaked_log_probs(text, tokenizer):
    """(frames, vocab) log-posteriors that spell `text` with certainty, a blank after each character."""
    ids = []
    for char in text:
        ids += [tokenizer.lab2ind[char], tokenizer.get_blank_index()]
    log_probs = torch.full((len(ids), len(tokenizer)), -30.0)
    log_probs[torch.arange(len(ids)), ids] = 0.0
    return log_probs


def confusable_log_probs(text, tokenizer, rng):
    """(frames, vocab) log-posteriors of `text` where each character competes with a random other one.

    The rival's logit is drawn from 2 to 5 against the right character's 4, so the acoustics
    alone misspell words and the LM weights matter; a blank frame follows each character.
    """
    letters = [label for label in tokenizer.lab2ind if label != tokenizer.ind2lab[tokenizer.get_blank_index()]]
    rows = []
    for char in text:
        logits = torch.zeros(len(tokenizer))
        logits[tokenizer.lab2ind[char]] = 4.0
        logits[tokenizer.lab2ind[rng.choice([c for c in letters if c != char])]] = rng.uniform(2.0, 5.0)
        blank = torch.zeros(len(tokenizer))
        blank[tokenizer.get_blank_index()] = 4.0
        rows += [logits, blank]
    return torch.log_softmax(torch.stack(rows), dim=-1)


def confusable_dev_set(tokenizer, n=6, seed=0):
    """[(log_probs, frames, reference)] of `n` sentences of the LM's word list, spelt confusably."""
    rng = random.Random(seed)
    return [
        (lp, len(lp), text)
        for text in random_sentences(n, seed=3)
        for lp in [confusable_log_probs(text, tokenizer, rng)]
    ]


def test_rescoring_reproduces_the_searchers_own_scores_and_choice(tmp_path):
    from crossling_asr.decoding.beam_search import make_beam_searcher
    from crossling_asr.decoding.lm_tuning import NBestPool

    arpa = KneserNeyLM(random_sentences(), 2).write_arpa(tmp_path / "lm.arpa")
    tokenizer = char_tokenizer(random_sentences())
    alpha, beta, beam = 0.5, 1.0, 16
    searcher = make_beam_searcher(tokenizer, arpa, alpha, beta, beam)
    searcher.topk = beam
    utterances = confusable_dev_set(tokenizer, seed=1)
    final_beams = [searcher.decode_log_probs(lp.numpy(), frames) for lp, frames, _ in utterances]
    assert sum(len(hypotheses) for hypotheses in final_beams) > len(utterances)  # some beams keep several
    # The searcher's score: CTC + alpha * natural-log KenLM score of the words from <s>, no </s>
    # (a word KenLM does not know gets SpeechBrain's unk offset of -10, in log10) + beta per word.
    model = kenlm.Model(str(arpa))

    def ln_lm(text):
        words = text.split()
        log10 = model.score(text, bos=True, eos=False) - 10.0 * sum(1 for w in words if w not in model)
        return log10 / math.log10(math.e)

    pool = NBestPool(searcher, len(utterances))
    pool.add(final_beams)
    assert pool.lm_log_prob("casa qqq") == pytest.approx(ln_lm("casa qqq"))
    for hypotheses, pooled in zip(final_beams, pool.scores):
        for hyp in hypotheses:
            words = len(hyp.text.split())
            assert hyp.lm_score == pytest.approx(hyp.score + alpha * ln_lm(hyp.text) + beta * words, abs=1e-4)
            assert pooled[hyp.text] == pytest.approx([hyp.score, ln_lm(hyp.text), words], abs=1e-4)
    # Rescored at the decoded pair, the pool chooses what the searcher chose.
    assert pool.choices([(alpha, beta)])[alpha, beta] == [hypotheses[0].text for hypotheses in final_beams]


def test_rescoring_search_chooses_weights_as_good_as_the_exhaustive_search(tmp_path):
    arpa = KneserNeyLM(random_sentences(), 2).write_arpa(tmp_path / "lm.arpa")
    tokenizer = char_tokenizer(random_sentences())
    utterances = confusable_dev_set(tokenizer)
    # The middle pair (0.02, 1.0) gives the LM almost no weight: the search has to move.
    grid = {"alphas": [0.0, 0.02, 1.0], "betas": [0.0, 1.0, 2.0], "beam_size": 16}
    exhaustive = tune_lm_weights(utterances, tokenizer, arpa, **grid, search="exhaustive")
    rescored = tune_lm_weights(utterances, tokenizer, arpa, **grid)
    full_beam = {(g["alpha"], g["beta"]): g["WER"] for g in exhaustive["decoded"]}
    print("exhaustive:", full_beam, "rescoring decoded:", rescored["decoded"])
    assert len(full_beam) == 9 and full_beam[0.02, 1.0] > min(full_beam.values())
    assert [(g["alpha"], g["beta"]) for g in rescored["decoded"]][:1] == [(0.02, 1.0)]
    assert len(rescored["decoded"]) == RESCORING_DECODES
    # Every WER it reports is the one a full-beam decode gets, and its choice is as good.
    assert all(g["WER"] == full_beam[g["alpha"], g["beta"]] for g in rescored["decoded"])
    assert rescored["best"]["WER"] == exhaustive["best"]["WER"] == min(full_beam.values())
    with pytest.raises(ValueError, match="search must be one of rescore, exhaustive"):
        tune_lm_weights(utterances, tokenizer, arpa, **grid, search="sweep")


def test_tuning_warns_when_the_best_weights_are_on_the_grids_edge(tmp_path, caplog):
    arpa = KneserNeyLM(random_sentences(), 2).write_arpa(tmp_path / "lm.arpa")
    tokenizer = char_tokenizer(random_sentences())
    text = "casa perro"
    utterances = [(peaked_log_probs(text, tokenizer), 2 * len(text), text)]
    grid = {"alphas": [0.5, 1.0], "betas": [0.0, 1.0, 2.0], "beam_size": 16}
    with caplog.at_level(logging.WARNING, logger="crossling_asr.decoding.lm_tuning"):
        rescored = tune_lm_weights(utterances, tokenizer, arpa, **grid)
    # Certain posteriors: every pair decodes the text, so every rescored WER is 0 too. Rescoring
    # decodes the middle pair, then the pairs one grid step away, smallest weights first; the tie
    # between decoded pairs goes to the smallest weights, as in the exhaustive search.
    assert [(g["alpha"], g["beta"], g["WER"]) for g in rescored["decoded"]] == [
        (1.0, 1.0, 0.0),
        (0.5, 1.0, 0.0),
        (0.5, 0.0, 0.0),
    ]
    assert [g["WER"] for g in rescored["rescored"]] == [0.0] * 6
    exhaustive = tune_lm_weights(utterances, tokenizer, arpa, **grid, search="exhaustive")
    assert [g["WER"] for g in exhaustive["decoded"]] == [0.0] * 6
    for result in (rescored, exhaustive):
        assert result["best"] == {"alpha": 0.5, "beta": 0.0, "WER": 0.0}
        assert result["on_grid_edge"] == [
            "alpha 0.5 is the smallest value tried",
            "beta 0.0 is the smallest value tried",
        ]
    assert (
        "on the grid's edge (alpha 0.5 is the smallest value tried; beta 0.0 is the smallest value tried)"
        in caplog.text
    )
