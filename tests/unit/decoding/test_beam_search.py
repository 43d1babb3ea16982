"""Beam search settings: tuned weights, then given ones, else SpeechBrain's defaults; beam sizes below one refused."""

import argparse
import hashlib
import inspect
import json
import logging

import pytest

from crossling_asr.cli import add_lm_weight_arguments
from crossling_asr.decoding.beam_search import LM_DEFAULTS, resolve_lm_weights, tuning_file


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
