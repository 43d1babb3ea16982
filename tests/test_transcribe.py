"""Transcription: folders with bad files, batching that changes nothing, scoring, the CLI."""

import csv
import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

from crossling_asr.cli.transcribe import main as transcribe_command
from crossling_asr.decoding.transcribe import (
    OK,
    Decoder,
    InputError,
    attach_references,
    collect_inputs,
    read_references,
    score,
    transcribe,
)
from crossling_asr.interop.encoder_asr import export_model
from crossling_asr.model.trained_model import TrainedModel


@pytest.fixture(scope="module")
def model_and_run(usage_run):
    output_folder, _ = usage_run
    results = json.loads((output_folder / "results.json").read_text())
    return TrainedModel.load(output_folder, "cpu"), output_folder, results


@pytest.fixture(scope="module")
def clip_folder(model_and_run, tmp_path_factory):
    """Test clips: five 16 kHz FLACs, a 48 kHz MP3 original in a subfolder, a corrupt and an empty file.

    Returns (folder, references TSV written as raw sentences, {ID: manifest transcript}).
    """
    _, _, results = model_and_run
    folder = tmp_path_factory.mktemp("clips")
    prep = results["hparams"]["prep_folder"]
    with open(results["hparams"]["test_csv"], encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:6]
    for row in rows[:5]:
        shutil.copy(row["wav"].replace("$data_root", prep), folder)
    (folder / "sub").mkdir()
    shutil.copy(f"{results['data']['release_folder']}/clips/{rows[5]['ID']}.mp3", folder / "sub")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 40)
    (folder / "empty.flac").write_bytes(b"")
    ids = [row["ID"] for row in rows[:5]] + [f"sub/{rows[5]['ID']}"]
    manifest_text = dict(zip(ids, (row["wrd"] for row in rows)))
    references = folder.parent / "references.tsv"
    # Raw-looking references: capitals and punctuation, as a user would write them.
    references.write_text(
        "ID\ttranscript\n" + "".join(f"{i}\t¡{t.capitalize()}!\n" for i, t in manifest_text.items()), encoding="utf-8"
    )
    return folder, references, manifest_text


def test_a_folder_with_corrupt_files_is_transcribed_file_by_file(model_and_run, clip_folder):
    model, _, _ = model_and_run
    folder, _, manifest_text = clip_folder
    items = collect_inputs([folder])
    assert sorted(item.id for item in items) == sorted([*manifest_text, "broken", "empty"])
    transcripts = {t.id: t for t in transcribe(model, items, Decoder(model), progress=False)}
    for bad in ("broken", "empty"):
        assert transcripts[bad].status.startswith("error:") and f"{bad}." in transcripts[bad].status
    for utt_id in manifest_text:
        t = transcripts[utt_id]
        assert t.status == OK and t.duration > 0.3 and 0 < t.confidence <= 1
        assert t.hypothesis == " ".join(t.hypothesis.split())
    assert any(transcripts[i].hypothesis for i in manifest_text)


def test_batched_and_length_sorted_equals_one_at_a_time(model_and_run, clip_folder):
    model, _, _ = model_and_run
    folder, _, _ = clip_folder
    batched = transcribe(model, collect_inputs([folder]), Decoder(model), max_batch_size=16, progress=False)
    single = transcribe(model, collect_inputs([folder]), Decoder(model), max_batch_size=1, progress=False)
    assert [t.status for t in batched] == [t.status for t in single]
    assert [t.hypothesis for t in batched] == [t.hypothesis for t in single]
    for b, s in zip(batched, single):
        if b.status == OK:
            assert b.confidence == pytest.approx(s.confidence, abs=2e-3)


def test_references_are_normalised_and_scored(model_and_run, clip_folder):
    model, _, _ = model_and_run
    folder, references, manifest_text = clip_folder
    items = collect_inputs([folder])
    assert attach_references(items, read_references(references)) == len(manifest_text)
    transcripts = transcribe(model, items, Decoder(model), progress=False)
    scores = score(transcripts, model.normalizer)
    assert scores["n_scored"] == len(manifest_text) and scores["n_failed"] == 2

    for t in transcripts:  # the same utterances against the prepared (normalised) transcripts
        t.reference = manifest_text.get(t.id)
    assert score(transcripts, model.normalizer) == scores
    assert {"WER", "CER"} <= scores.keys()


def test_common_voice_tsv_references_score_clips_named_like_the_release(model_and_run, clip_folder):
    model, _, results = model_and_run
    folder, _, manifest_text = clip_folder
    cv_tsv = f"{results['data']['release_folder']}/test.tsv"  # the release's own file, as it is
    clips = [p for p in sorted(folder.iterdir()) if p.is_file() and p.stem in manifest_text]
    items = collect_inputs(clips)  # the five prepared clips, named by their CV clip names
    assert attach_references(items, read_references(cv_tsv)) == len(items) == 5
    transcripts = transcribe(model, items, Decoder(model), progress=False)
    scores = score(transcripts, model.normalizer)
    for t in transcripts:  # the same utterances against the prepared transcripts
        t.reference = manifest_text[t.id]
    assert scores["n_scored"] == 5 and score(transcripts, model.normalizer) == scores


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


def test_test_manifest_scores_like_the_training_evaluation(model_and_run):
    model, _, results = model_and_run
    items = collect_inputs([results["hparams"]["test_csv"]])
    scores = score(transcribe(model, items, Decoder(model), progress=False), model.normalizer)
    assert scores["n_scored"] == results["metrics"]["test"]["n_utterances"]
    assert scores["WER"] == pytest.approx(results["metrics"]["test"]["WER"], abs=3.0)


def test_exported_folder_transcribes_like_the_run(model_and_run, clip_folder, tmp_path):
    model, output_folder, _ = model_and_run
    folder, _, _ = clip_folder
    exported = TrainedModel.load(export_model(output_folder, tmp_path / "export"), "cpu")
    from_run = transcribe(model, collect_inputs([folder]), Decoder(model), progress=False)
    from_export = transcribe(exported, collect_inputs([folder]), Decoder(exported), progress=False)
    assert [t.hypothesis for t in from_export] == [t.hypothesis for t in from_run]


def test_cli_writes_tsv_and_json_with_statuses_and_scores(model_and_run, clip_folder, tmp_path):
    _, output_folder, _ = model_and_run
    folder, references, manifest_text = clip_folder
    tsv, report = tmp_path / "out.tsv", tmp_path / "out.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "local" / "transcribe.py"),
            str(output_folder),
            str(folder),
            "--references",
            str(references),
            "--out",
            str(tsv),
            "--json",
            str(report),
            "--batch-size",
            "4",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 failed" in proc.stdout and "broken.wav" in proc.stdout and "WER" in proc.stdout
    assert "decoding: method greedy" in proc.stdout
    with open(tsv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == len(manifest_text) + 2
    assert {r["status"] for r in rows} >= {OK} and sum(r["status"].startswith("error") for r in rows) == 2
    data = json.loads(report.read_text())
    assert data["decoding"]["method"] == "greedy" and data["scores"]["n_scored"] == len(manifest_text)
    assert "confidence" in data and len(data["utterances"]) == len(rows)


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
