"""Error rates: the project's WER (whitespace-split words) and CER (characters, spaces counted)."""

import pytest

from crossling_asr.decoding.metrics import error_rate_stats, error_rates


def test_cer_counts_spaces_and_wer_splits_on_whitespace():
    # "abc" read as "ab c": words abc -> ab, c is 1 substitution + 1 insertion (2 / 1 word);
    # characters: one inserted space (1 / 3).
    assert error_rates(["ab c"], ["abc"]) == pytest.approx({"WER": 200.0, "CER": 100 / 3})
    # "a b" read as "ab": words a b -> ab is 1 substitution + 1 deletion (2 / 2);
    # characters: the deleted space is the only error (1 / 3).
    assert error_rates(["ab"], ["a b"]) == pytest.approx({"WER": 100.0, "CER": 100 / 3})
    # Extra whitespace between words is not a word error (it is a character one).
    assert error_rates(["a  b"], ["a b"]) == pytest.approx({"WER": 0.0, "CER": 100 / 3})


def test_rates_pool_the_edits_of_all_utterances():
    # (2 + 2) word errors over 1 + 2 reference words; (1 + 1) character errors over 3 + 3.
    assert error_rates(["ab c", "ab"], ["abc", "a b"]) == pytest.approx({"WER": 400 / 3, "CER": 100 / 3})


def test_stats_keep_the_utterance_ids_for_the_alignment_report():
    wer, cer = error_rate_stats(["u1", "u2"], ["hola mundo", "sol"], ["hola mundo", "luna"])
    assert [score["key"] for score in wer.scores] == ["u1", "u2"]
    assert wer.summarize("error_rate") == pytest.approx(100 / 3)  # 1 of 3 words
    assert cer.summarize("error_rate") == pytest.approx(100 * 4 / 14)  # sol -> luna: 3 subs + 1 ins of 14
