"""Transcription inputs: Common Voice TSV references, and bad inputs named in the error."""

import pytest

from crossling_asr.cli.transcribe import main as transcribe_command
from crossling_asr.decoding.transcribe import InputError, attach_references, collect_inputs, read_references


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
