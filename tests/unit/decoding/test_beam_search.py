"""Beam search settings: tuned weights with the beam size and pruning they were tuned with, then given ones,
else SpeechBrain's defaults; beam sizes below one and positive pruning thresholds refused."""

import argparse
import hashlib
import inspect
import json
import logging

import pytest

from crossling_asr.cli import add_lm_weight_arguments, lm_settings_given
from crossling_asr.decoding.beam_search import LM_DEFAULTS, resolve_lm_weights, tuning_file
from tests.helpers.lm import TUNED_WEIGHTS, tuned_lm


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


def test_the_beam_size_and_pruning_tuned_with_come_with_the_tuned_weights(tmp_path):
    arpa = tuned_lm(tmp_path, beam_size=32, pruning={"token_prune_min_logp": -4.0, "beam_prune_logp": -8.0})
    tuned = {**TUNED_WEIGHTS, "beam_size": 32, "beam_prune_logp": -8.0, "token_prune_min_logp": -4.0}
    assert resolve_lm_weights(arpa) == tuned


def test_given_values_win_over_the_tuned_ones_pruning_included(tmp_path):
    arpa = tuned_lm(tmp_path, beam_size=32, pruning={"token_prune_min_logp": -4.0, "beam_prune_logp": -8.0})
    given = resolve_lm_weights(arpa, alpha=0.75, beam_size=8, token_prune_min_logp=-6.0)
    assert given == {"alpha": 0.75, "beta": 2.0, "beam_size": 8, "beam_prune_logp": -8.0, "token_prune_min_logp": -6.0}
    # The command lines' options, as transcribe.py and export_model.py pass them.
    parser = argparse.ArgumentParser()
    add_lm_weight_arguments(parser)
    args = parser.parse_args(["--beta", "0", "--beam-prune-logp", "-12", "--token-prune-min-logp", "-3.5"])
    assert resolve_lm_weights(arpa, **lm_settings_given(args)) == {
        "alpha": 1.25,
        "beta": 0.0,
        "beam_size": 32,
        "beam_prune_logp": -12.0,
        "token_prune_min_logp": -3.5,
    }


def test_a_tuning_file_from_before_pruning_was_recorded_means_no_pruning(tmp_path):
    """tune_lm.py had no pruning options then: it tuned with SpeechBrain's thresholds, which an absent key keeps."""
    arpa = tuned_lm(tmp_path, beam_size=32)
    assert resolve_lm_weights(arpa) == {**TUNED_WEIGHTS, "beam_size": 32}
    (tmp_path / "other").mkdir()
    assert resolve_lm_weights(tuned_lm(tmp_path / "other")) == {**TUNED_WEIGHTS, "beam_size": 100}  # nor beam size


@pytest.mark.parametrize("option", ["--token-prune-min-logp", "--beam-prune-logp"])
def test_a_positive_pruning_threshold_is_refused_when_the_arguments_are_parsed(option, capsys):
    parser = argparse.ArgumentParser()
    add_lm_weight_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args([option, "0.5"])
    assert "a log-probability threshold is at most 0, got 0.5" in capsys.readouterr().err
