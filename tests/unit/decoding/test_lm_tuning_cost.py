"""LM tuning's cost is stated before the search and bounded: pruning reaches the searcher, a time cap
decodes fewer pairs, and on flat posteriors harder token pruning bounds the hypotheses scored per frame.

Bounds are counts (decodes, hypotheses scored), never seconds: time is a fake clock where it matters.
"""

import logging

import pytest
import torch
from speechbrain.dataio.encoder import CTCTextEncoder

from crossling_asr.decoding import lm_tuning
from crossling_asr.decoding.lm_tuning import LMTuningCostError, decodes_within, tune_lm_weights
from crossling_asr.decoding.ngram_lm import KneserNeyLM

WORDS = "casa perro gato agua sol luna".split()
LETTERS = sorted(set("".join(WORDS)))


@pytest.fixture
def tokenizer():
    encoder = CTCTextEncoder()
    encoder.insert_blank("<blank>", 0)
    for index, label in enumerate([" ", *LETTERS], start=1):
        encoder.insert_label(label, index)
    return encoder


@pytest.fixture
def arpa(tmp_path):
    sentences = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(1 + i % 4)) for i in range(40)]
    return KneserNeyLM(sentences, 2).write_arpa(tmp_path / "lm.arpa")


def flat_utterances(tokenizer, n=4, frames=12, seed=0):
    """Posteriors of an untrained model: every token about equally likely at every frame."""
    generator = torch.Generator().manual_seed(seed)
    vocab = len(tokenizer)
    return [
        (torch.log_softmax(0.1 * torch.randn(frames, vocab, generator=generator), dim=-1), frames, WORDS[i % 6])
        for i in range(n)
    ]


class CountingSearcher:
    """Wraps make_beam_searcher: keeps the searcher, counts its decodes and the hypotheses it LM-scores."""

    def __init__(self, monkeypatch, clock_step=0.0):
        self.searchers, self.decodes, self.scored, self.now = [], 0, 0, 0.0
        real = lm_tuning.make_beam_searcher
        monkeypatch.setattr(lm_tuning.time, "perf_counter", lambda: self.now)

        def make(*args, **kwargs):
            searcher = real(*args, **kwargs)
            decode, score = searcher.decode_log_probs, searcher.get_lm_beams

            def counted_decode(*a, **k):
                self.decodes += 1
                self.now += clock_step
                return decode(*a, **k)

            def counted_score(beams, *a, **k):
                self.scored += len(beams)
                return score(beams, *a, **k)

            searcher.decode_log_probs, searcher.get_lm_beams = counted_decode, counted_score
            self.searchers.append(searcher)
            return searcher

        monkeypatch.setattr(lm_tuning, "make_beam_searcher", make)


def test_decodes_within_a_time_cap_are_counted_from_the_estimate():
    assert decodes_within(10.0, 3, "rescore", None) == 3
    assert decodes_within(10.0, 3, "rescore", 30.0) == 3
    assert decodes_within(10.0, 3, "rescore", 29.0) == 2
    assert decodes_within(10.0, 3, "rescore", 10.0) == 1
    with pytest.raises(LMTuningCostError, match=r"about 30 s \(3 decode\(s\) of about 10 s\), more than the 9 s"):
        decodes_within(10.0, 3, "rescore", 9.0)
    with pytest.raises(LMTuningCostError, match="--token-prune-min-logp"):
        decodes_within(10.0, 35, "exhaustive", 349.0)  # the exhaustive grid decodes every pair or none


def test_the_estimate_is_logged_before_the_search_goes_on(tokenizer, arpa, caplog):
    with caplog.at_level(logging.INFO, logger=lm_tuning.__name__):
        tune_lm_weights(flat_utterances(tokenizer), tokenizer, arpa, [0.5, 1.0], [0.0, 1.0], beam_size=8, decodes=2)
    messages = [record.getMessage() for record in caplog.records]
    estimates = [i for i, m in enumerate(messages) if m.startswith("LM tuning: about")]
    decodes = [i for i, m in enumerate(messages) if m.startswith("alpha ") and "dev WER" in m]
    assert len(estimates) == 1 and len(decodes) == 2
    assert estimates[0] < decodes[0]
    assert "2 decode(s) of 4 utterances, 48 frames, at beam 8" in messages[estimates[0]]


def test_pruning_options_reach_the_searcher(tokenizer, arpa, monkeypatch):
    counting = CountingSearcher(monkeypatch)
    result = tune_lm_weights(
        flat_utterances(tokenizer),
        tokenizer,
        arpa,
        [0.5],
        [1.0],
        beam_size=8,
        pruning={"token_prune_min_logp": -1.5, "beam_prune_logp": -4.0},
    )
    (searcher,) = counting.searchers
    assert (searcher.token_prune_min_logp, searcher.beam_prune_logp) == (-1.5, -4.0)
    assert result["pruning"] == {"token_prune_min_logp": -1.5, "beam_prune_logp": -4.0}


def test_a_time_cap_decodes_fewer_pairs_on_flat_posteriors(tokenizer, arpa, monkeypatch):
    # Each utterance takes 10 (fake) seconds: a decode of the 4 is estimated at 40 s.
    counting = CountingSearcher(monkeypatch, clock_step=10.0)
    utterances = flat_utterances(tokenizer)
    result = tune_lm_weights(
        utterances, tokenizer, arpa, [0.0, 0.5, 1.0], [0.0, 1.0, 2.0], beam_size=8, decodes=3, max_seconds=90.0
    )
    assert len(result["decoded"]) == 2  # 3 decodes would be 120 s; 2 fit in 90
    assert counting.decodes == 2 * len(utterances)
    assert result["estimated_seconds_per_decode"] == pytest.approx(40.0)

    with pytest.raises(LMTuningCostError):
        tune_lm_weights(utterances, tokenizer, arpa, [0.5, 1.0], [0.0, 1.0], 8, search="exhaustive", max_seconds=90.0)
    assert counting.decodes == 2 * len(utterances) + 1  # stopped after the timed first utterance


def test_token_pruning_bounds_the_hypotheses_scored_per_frame_on_flat_posteriors(tokenizer, arpa, monkeypatch):
    utterances = flat_utterances(tokenizer)
    frames = sum(n for _, n, _ in utterances)
    beam_size = 8
    scored = {}
    for name, pruning in {"default": None, "pruned": {"token_prune_min_logp": -2.0}}.items():
        counting = CountingSearcher(monkeypatch)
        tune_lm_weights(utterances, tokenizer, arpa, [0.5], [1.0], beam_size=beam_size, pruning=pruning)
        scored[name] = counting.scored
    # ln(1/V) is about -2.6 here: SpeechBrain's -5.0 keeps every token, -2.0 only each frame's best one,
    # so each frame LM-scores at most one extension of each of the beam_size hypotheses kept.
    assert scored["pruned"] <= frames * beam_size
    assert scored["default"] > frames * beam_size


@pytest.mark.parametrize(
    "option", [["--token-prune-min-logp", "0.5"], ["--beam-prune-logp", "2"], ["--max-seconds", "0"]]
)
def test_cost_options_out_of_range_are_refused_when_parsed(option, tmp_path, capsys):
    from crossling_asr.cli.tune_lm import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), "--lm", str(tmp_path / "lm.arpa"), *option])
    assert exit_info.value.code == 2 and option[0] in capsys.readouterr().err
