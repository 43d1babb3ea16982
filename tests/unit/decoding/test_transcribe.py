"""Transcription inputs: Common Voice TSV references, and bad inputs named in the error; the beam search
decodes with the settings the LM was tuned with, or an export recorded."""

import argparse
import inspect
from types import SimpleNamespace

import pytest

from crossling_asr.cli.transcribe import main as transcribe_command
from crossling_asr.cli.transcribe import make_decoder
from crossling_asr.decoding.beam_search import tuning_file
from crossling_asr.decoding.transcribe import Decoder, InputError, attach_references, collect_inputs, read_references
from tests.helpers.lm import char_tokenizer, random_sentences, tuned_lm


def test_common_voice_tsv_references_by_hand(tmp_path):
    tsv = tmp_path / "test.tsv"
    tsv.write_text(
        "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\n"
        'c1\tcommon_voice_es_1.mp3\tDijo "hola" y se fue.\t2\t0\t\t\t\n'
        "c2\tcommon_voice_es_2\t¿Qué tal?\t2\t0\t\t\t\n",  # early releases: no suffix
        encoding="utf-8",
    )
    assert read_references(tsv) == {"common_voice_es_1": 'Dijo "hola" y se fue.', "common_voice_es_2": "¿Qué tal?"}
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("common_voice_es_1.mp3", "common_voice_es_2.mp3", "common_voice_es_3.mp3"):
        (clips / name).touch()
    items = collect_inputs([clips])
    assert attach_references(items, read_references(tsv)) == 2
    assert {i.id: i.reference for i in items}["common_voice_es_1"] == 'Dijo "hola" y se fue.'

    elsewhere = tmp_path / "refs.tsv"  # IDs that match no input: the CLI says so before loading a model
    elsewhere.write_text("clips/common_voice_es_1\thola\n", encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        transcribe_command(
            [str(tmp_path / "no_model"), str(clips), "--references", str(elsewhere), "--out", str(tmp_path / "out.tsv")]
        )
    message = str(stopped.value.code)
    assert message.startswith("error: no input's ID is in")
    assert "'clips/common_voice_es_1'" in message and "'common_voice_es_1'" in message

    tsv.write_text("client_id\tpath\tup_votes\nc1\tcommon_voice_es_1.mp3\t2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"test.tsv:1.*sentence.*Common Voice TSV \(header with `path`"):
        read_references(tsv)
    tsv.write_text("client_id\tpath\tsentence\nc1\tcommon_voice_es_1.mp3\n", encoding="utf-8")
    with pytest.raises(InputError, match="test.tsv:2: field count"):
        read_references(tsv)


def test_bad_inputs_are_named_in_the_error(tmp_path):
    with pytest.raises(InputError, match="nowhere.wav"):
        collect_inputs([tmp_path / "nowhere.wav"])
    bad = tmp_path / "refs.tsv"
    bad.write_text("utt1 no tab here\n", encoding="utf-8")
    with pytest.raises(InputError, match="refs.tsv:1: expected `ID<TAB>transcript`.*or a Common Voice TSV"):
        read_references(bad)
    manifest = tmp_path / "m.csv"
    manifest.write_text("ID,path\nu1,a.wav\n", encoding="utf-8")
    with pytest.raises(InputError, match="m.csv.*wav"):
        collect_inputs([manifest])


def model_with(tokenizer, exported_lm=None):
    """What Decoder and make_decoder read of a TrainedModel: its tokenizer and an export's LM settings."""
    return SimpleNamespace(tokenizer=tokenizer, exported_lm=exported_lm)


def test_beam_search_decodes_with_the_beam_size_and_pruning_the_lm_was_tuned_with(tmp_path):
    from speechbrain.decoders.ctc import CTCBeamSearcher

    speechbrains = inspect.signature(CTCBeamSearcher).parameters
    arpa = tuned_lm(tmp_path, beam_size=32, pruning={"token_prune_min_logp": -4.0})
    model = model_with(char_tokenizer(random_sentences()))
    decoder = Decoder(model, arpa)
    searcher = decoder.searcher
    assert (searcher.alpha, searcher.beta, searcher.beam_size, searcher.token_prune_min_logp) == (1.25, 2.0, 32, -4.0)
    assert searcher.beam_prune_logp == speechbrains["beam_prune_logp"].default  # not tuned: SpeechBrain's
    assert decoder.settings["token_prune_min_logp"] == -4.0  # printed by transcribe.py, written to its JSON
    assert Decoder(model, arpa, token_prune_min_logp=-6.0).searcher.token_prune_min_logp == -6.0  # given wins

    # An export's settings (model_info.json's "decoding", as TrainedModel.from_export reads it) reach the
    # decoder transcribe.py makes for it; its folder holds the LM, not the tuning file.
    tuning_file(arpa).unlink()
    exported_lm = {"lm": arpa, "alpha": 0.5, "beta": 1.0, "beam_size": 16, "beam_prune_logp": -7.0}
    exported = make_decoder(model_with(model.tokenizer, exported_lm), argparse.Namespace(greedy=False, lm=None))
    assert exported.settings == {"method": "beam_lm", **exported_lm, "lm": str(arpa)}
    assert exported.searcher.beam_prune_logp == -7.0
    assert exported.searcher.token_prune_min_logp == speechbrains["token_prune_min_logp"].default
