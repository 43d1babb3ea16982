"""Word n-gram LMs: a correct ARPA, the language's normalisation, and lower WER than greedy."""

import argparse
import hashlib
import inspect
import json
import logging
import math
import random
import subprocess
import sys

import kenlm
import pytest
import torch
from conftest import ROOT

from crossling_asr.cli import add_lm_weight_arguments
from crossling_asr.cli.tune_lm import dev_posteriors
from crossling_asr.data.text import LanguageSpec, TextNormalizer
from crossling_asr.decoding.beam_search import LM_DEFAULTS, resolve_lm_weights, tuning_file
from crossling_asr.decoding.lm_tuning import RESCORING_DECODES, tune_lm_weights
from crossling_asr.decoding.ngram_lm import (
    BOS,
    EOS,
    FALLBACK_DISCOUNT,
    KneserNeyLM,
    LMTextError,
    build_run_lm,
    normalized_sentences,
    require_word_delimiter,
)
from crossling_asr.decoding.transcribe import Decoder, collect_inputs, score, transcribe
from crossling_asr.model.trained_model import TrainedModel, load_finished_run


def random_sentences(n=300, seed=0):
    rng = random.Random(seed)
    words = "casa perro gato agua sol luna niño río".split()
    return [" ".join(rng.choice(words[: rng.randint(2, 8)]) for _ in range(rng.randint(1, 6))) for _ in range(n)]


def kenlm_state_after(model, context):
    """KenLM's state after reading `context` (from <s> if it starts with it)."""
    state = kenlm.State()
    if context and context[0] == BOS:
        model.BeginSentenceWrite(state)
        context = context[1:]
    else:
        model.NullContextWrite(state)
    for word in context:
        nxt = kenlm.State()
        model.BaseScore(state, word, nxt)
        state = nxt
    return state


@pytest.mark.parametrize("order", [2, 3, 4])
def test_every_context_distribution_sums_to_one_in_kenlm(tmp_path, order):
    lm = KneserNeyLM(random_sentences(), order)
    arpa = lm.write_arpa(tmp_path / "lm.arpa")
    model = kenlm.Model(str(arpa))
    assert model.order == order
    contexts = [()] + [g for g in lm.log10_probs if len(g) < order and g[-1] != EOS]
    assert len(contexts) > 10
    for context in contexts:
        state = kenlm_state_after(model, context)
        total = sum(10 ** model.BaseScore(state, w, kenlm.State()) for w in lm.vocabulary)
        assert total == pytest.approx(1.0, abs=1e-5), context


def test_kneser_ney_values_by_hand():
    # "<s> a b </s>", "<s> b </s>": unigram continuation counts a 1, b 2, </s> 1, so
    # D1 = n1 / (n1 + 2 n2) = 2 / 4 and the uniform share 0.5 * 3 types / 4 = 0.375 is
    # spread over {a, b, </s>, <unk>}.
    lm = KneserNeyLM(["a b", "b"], order=2)
    prob = {g: 10**p for g, p in lm.log10_probs.items()}
    assert prob[("a",)] == pytest.approx(0.5 / 4 + 0.375 / 4)
    assert prob[("b",)] == pytest.approx(1.5 / 4 + 0.375 / 4)
    assert prob[("<unk>",)] == pytest.approx(0.375 / 4)
    # Bigram discount 3/5 (counts 1, 1, 2, 1); context <s> has 2 types of total count 2.
    assert prob[(BOS, "a")] == pytest.approx(0.4 / 2 + 0.6 * prob[("a",)])
    assert 10 ** lm.log10_backoffs[(BOS,)] == pytest.approx(0.6)


def test_kneser_ney_with_a_fallback_discount_by_hand(caplog):
    # "<s> a b </s>", "<s> c d </s>": every bigram is seen once, so the bigram discount
    # cannot be estimated (no n2) and falls back; the order is named in a warning.
    with caplog.at_level(logging.WARNING, logger="crossling_asr.decoding.beam_search"):
        lm = KneserNeyLM(["a b", "c d"], order=2)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("LM order 2:"), warnings
    # Unigram continuation counts a 1, b 1, c 1, d 1, </s> 2 (after b and after d):
    # n1 = 4, n2 = 1, D1 = 4 / (4 + 2) = 2/3; total 6; the uniform share D1 * 5 types / 6
    # = 5/9 is spread over {a, b, c, d, </s>, <unk>}: 5/54 each.
    assert lm.discounts[1:] == pytest.approx([2 / 3, FALLBACK_DISCOUNT])
    prob = {g: 10**p for g, p in lm.log10_probs.items()}
    assert prob[("a",)] == pytest.approx((1 - 2 / 3) / 6 + 5 / 54)  # 4/27
    assert prob[("</s>",)] == pytest.approx((2 - 2 / 3) / 6 + 5 / 54)  # 17/54
    assert prob[("<unk>",)] == pytest.approx(5 / 54)
    # Bigrams, D2 = 0.5: context <s> has 2 types of total count 2, so its back-off weight
    # is 0.5 * 2 / 2; context b has one bigram, (b, </s>), of count 1: weight 0.5 * 1 / 1.
    assert 10 ** lm.log10_backoffs[(BOS,)] == pytest.approx(0.5)
    assert prob[(BOS, "a")] == pytest.approx(0.5 / 2 + 0.5 * 4 / 27)  # 35/108
    assert prob[("b", EOS)] == pytest.approx(0.5 / 1 + 0.5 * 17 / 54)  # 71/108


def test_lm_weights_tuned_then_given_else_speechbrains_defaults(tmp_path, caplog):
    from speechbrain.decoders.ctc import CTCBeamSearcher

    searcher_defaults = inspect.signature(CTCBeamSearcher).parameters
    assert LM_DEFAULTS == {key: searcher_defaults[key].default for key in LM_DEFAULTS}
    arpa = tmp_path / "lm.arpa"
    with caplog.at_level(logging.WARNING, logger="crossling_asr.decoding.beam_search"):
        assert resolve_lm_weights(arpa) == {"alpha": 0.5, "beta": 1.5, "beam_size": 100}
    assert "lm.arpa.tuning.json not found" in caplog.text
    assert resolve_lm_weights(arpa, beta=0.0, beam_size=8) == {"alpha": 0.5, "beta": 0.0, "beam_size": 8}
    arpa.write_text("\\data\\\nngram 1=1\n\n\\1-grams:\n-1.0\t<unk>\n\n\\end\\\n")
    digest = hashlib.sha256(arpa.read_bytes()).hexdigest()
    tuning_file(arpa).write_text(json.dumps({"best": {"alpha": 1.25, "beta": 2.0, "WER": 9.0}, "lm_sha256": digest}))
    assert resolve_lm_weights(arpa) == {"alpha": 1.25, "beta": 2.0, "beam_size": 100}
    assert resolve_lm_weights(arpa, alpha=0.75) == {"alpha": 0.75, "beta": 2.0, "beam_size": 100}
    # An LM rebuilt at the same path: the weights tuned for the old one are not used.
    arpa.write_text(arpa.read_text().replace("-1.0", "-2.0"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="crossling_asr.decoding.beam_search"):
        assert resolve_lm_weights(arpa) == {"alpha": 0.5, "beta": 1.5, "beam_size": 100}
    assert "was tuned for another LM" in caplog.text


@pytest.mark.parametrize("value", ["0", "-3"])
def test_a_beam_size_below_one_is_refused_when_the_arguments_are_parsed(value, capsys):
    parser = argparse.ArgumentParser()
    add_lm_weight_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--beam-size", value])
    assert f"must be > 0, got {value}" in capsys.readouterr().err


def test_lm_text_uses_the_training_normalisation():
    spec = LanguageSpec(code="es", alphabet="a-zñáéíóúü")
    sentences, rejected = normalized_sentences(["¡Hola, Niño!", "tengo 42 años", "  ", "río"], TextNormalizer(spec))
    assert list(sentences) == ["hola niño", "río"]
    assert rejected == {"digits": 1, "empty_text": 1}


def test_languages_without_spaces_are_refused_with_a_reason():
    with pytest.raises(LMTextError, match="without spaces"):
        require_word_delimiter(LanguageSpec(code="ja", alphabet="ぁ-ん", word_delimiter=False))


def test_empty_text_and_bad_order_are_refused():
    with pytest.raises(LMTextError):
        KneserNeyLM([], order=3)
    with pytest.raises(ValueError, match="order"):
        KneserNeyLM(["a b"], order=1)


def run_tool(script, *args):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "local" / script), *map(str, args)], capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_lm_decoding_lowers_test_wer_of_an_undertrained_model(usage_run, tmp_path):
    """build_lm.py (train transcripts) -> tune_lm.py (dev) -> test WER with and without the LM."""
    output_folder, _ = usage_run
    arpa = tmp_path / "3gram.arpa"
    report = json.loads(run_tool("build_lm.py", output_folder, "--out", arpa, "--order", "3").stdout)
    assert report["vocabulary"] <= 45  # the synthetic word list, </s> and <unk>
    run_tool("tune_lm.py", output_folder, "--lm", arpa, "--alphas", "0.5,1", "--betas", "0,1.5", "--beam-size", "32")
    tuning = json.loads(tuning_file(arpa).read_text())
    assert tuning["best"]["WER"] <= tuning["greedy_WER"]

    model = TrainedModel.load(output_folder, "cpu")
    test_csv = json.loads((output_folder / "results.json").read_text())["hparams"]["test_csv"]
    weights = resolve_lm_weights(arpa, beam_size=32)
    scores = {
        name: score(transcribe(model, collect_inputs([test_csv]), decoder, progress=False), model.normalizer)
        for name, decoder in (("greedy", Decoder(model)), ("lm", Decoder(model, arpa, **weights)))
    }
    print("test WER/CER greedy vs LM:", scores)
    assert scores["lm"]["n_scored"] == scores["greedy"]["n_scored"] > 0
    assert scores["lm"]["WER"] < scores["greedy"]["WER"] - 5, scores


def peaked_log_probs(text, tokenizer):
    """(frames, vocab) log-posteriors that spell `text` with certainty, a blank after each character."""
    ids = []
    for char in text:
        ids += [tokenizer.lab2ind[char], tokenizer.get_blank_index()]
    log_probs = torch.full((len(ids), len(tokenizer)), -30.0)
    log_probs[torch.arange(len(ids)), ids] = 0.0
    return log_probs


def char_tokenizer(sentences):
    """A CTC character tokenizer (blank first) for the characters of `sentences`."""
    from speechbrain.dataio.encoder import CTCTextEncoder

    tokenizer = CTCTextEncoder()
    tokenizer.insert_blank(index=0)
    for char in sorted(set("".join(sentences))):
        tokenizer.add_label(char)
    tokenizer.ignore_len()
    return tokenizer


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


def test_tuned_weights_decode_dev_as_tuning_reported_exhaustive_or_rescored(usage_run, tmp_path):
    output_folder, _ = usage_run
    run = load_finished_run(output_folder)
    arpa = tmp_path / "lm.arpa"
    build_run_lm(run, arpa)
    model = TrainedModel.load(output_folder, "cpu")
    utterances, _ = dev_posteriors(model, run.manifest("dev"))
    grid = {"alphas": [0.0, 0.5, 1.0, 2.0], "betas": [0.0, 1.0, 3.0], "beam_size": 32}
    exhaustive = tune_lm_weights(utterances, model.tokenizer, arpa, **grid, search="exhaustive")
    rescored = tune_lm_weights(utterances, model.tokenizer, arpa, **grid)
    print("exhaustive:", exhaustive["best"], "rescoring:", rescored["best"], "decoded", rescored["decoded"])
    full_beam = {(g["alpha"], g["beta"]): g["WER"] for g in exhaustive["decoded"]}
    assert len(full_beam) == 12 and exhaustive["best"]["WER"] == min(full_beam.values())
    # Rescoring reports its decoded pairs' WERs at the full beam: never better than the exhaustive best.
    assert len(rescored["decoded"]) == RESCORING_DECODES and len(rescored["rescored"]) == 12
    assert all(g["WER"] == full_beam[g["alpha"], g["beta"]] for g in rescored["decoded"])
    assert rescored["best"]["WER"] >= exhaustive["best"]["WER"]
    # The chosen weights mean the same when transcribing: same decoder, same dev WER.
    chosen = {key: rescored["best"][key] for key in ("alpha", "beta")}
    dev = score(
        transcribe(
            model, collect_inputs([run.manifest("dev")]), Decoder(model, arpa, **chosen, beam_size=32), progress=False
        ),
        model.normalizer,
    )
    assert dev["n_scored"] == len(utterances) and dev["WER"] == pytest.approx(rescored["best"]["WER"])
