"""Word n-gram LMs: a correct ARPA (Kneser-Ney by hand, distributions that sum to one in KenLM), the
training normalisation, and what is refused."""

import logging

import kenlm
import pytest

from crossling_asr.data.text import LanguageSpec, TextNormalizer
from crossling_asr.decoding.ngram_lm import (
    BOS,
    EOS,
    FALLBACK_DISCOUNT,
    KneserNeyLM,
    LMTextError,
    normalized_sentences,
    require_word_delimiter,
)
from tests.helpers.lm import random_sentences


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
