"""Common Voice preparation of a synthetic corpus with faults: every fault counted, 16 kHz mono audio,
normalised manifests, idempotent and resumable conversion, the disk checked first."""

import csv
import json
import os

import pytest
import soundfile as sf
import torch

from crossling_asr.data.common_voice import prepare_common_voice
from crossling_asr.data.datasets import read_audio
from tests.helpers.common_voice import SPANISH


@pytest.fixture(scope="module")
def faulty_corpus(make_corpus):
    return make_corpus("es", n_train=10, n_dev=3, n_test=3, faults=True)


@pytest.fixture(scope="module")
def prepared(faulty_corpus, tmp_path_factory):
    prep = tmp_path_factory.mktemp("prep")
    report = prepare_common_voice(faulty_corpus, prep, SPANISH, max_duration=15.0, num_workers=2)
    return prep, report


def manifest(prep, split):
    with open(prep / f"{split}.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_fault_is_handled_and_counted(faulty_corpus, prepared):
    prep, report = prepared
    train = report["splits"]["train"]
    assert train["skipped"] == {
        "digits": 1,
        "empty_clip": 1,
        "empty_text": 2,
        "malformed_row": 1,
        "missing_clip": 1,
        "out_of_alphabet": 1,
        "too_long": 1,
        "too_short": 1,
        "undecodable": 1,
        "unsafe_path": 1,
    }
    assert train["malformed_lines"] and train["rows_read"] == train["kept"] + sum(train["skipped"].values())
    # A zero-byte file and a corrupt one: each its own reason and a message saying what is wrong.
    examples = train["skipped_examples"]
    assert [e["path"] for e in examples["empty_clip"]] == ["fault_zero_byte.mp3"]
    assert examples["empty_clip"][0]["error"] == "empty_clip: the file is 0 bytes"
    assert [e["path"] for e in examples["undecodable"]] == ["fault_corrupt.mp3"]
    assert "fault_corrupt.mp3: not decodable as audio" in examples["undecodable"][0]["error"]
    kept = {row["ID"]: row for row in manifest(prep, "train")}
    # Usable rows are all there: 10 good ones plus the ones whose defect prep repairs.
    for repaired in (
        "fault_44k_stereo",
        "fault_32k",
        "fault_quotes",
        "fault_unbalanced_quote",
        "fault_nfd",
        "fault_emoji",
        "fault_truncated",
        "fault_test_sentence",
    ):
        assert repaired in kept, repaired
    assert len(kept) == 10 + 8
    assert report["splits"]["test"]["sentences_also_in_train"] >= 1
    example = report["splits"]["test"]["sentence_also_in_train_example"]
    assert example["ID"] in {row["ID"] for row in manifest(prep, "test")}
    assert example["sentence"] == kept["fault_test_sentence"]["wrd"]
    assert report["splits"]["train"]["out_of_alphabet_characters"]
    assert json.loads((prep / "prep_report.json").read_text()) == report


def test_converted_audio_is_16k_mono_with_measured_duration(prepared):
    prep, _ = prepared
    for row in manifest(prep, "train"):
        path = row["wav"].replace("$data_root", str(prep))
        info = sf.info(path)
        assert info.samplerate == 16000 and info.channels == 1
        assert float(row["duration"]) == pytest.approx(info.frames / 16000, abs=1e-3)
        assert float(row["duration"]) > 0


def test_text_is_normalised_in_manifests(prepared):
    prep, _ = prepared
    kept = {row["ID"]: row["wrd"] for row in manifest(prep, "train")}
    assert '"' not in kept["fault_quotes"] and kept["fault_quotes"].endswith("dijo")
    assert kept["fault_nfd"] == kept["fault_nfd"].lower() and "\u0301" not in kept["fault_nfd"]


def test_dev_and_test_are_not_filtered_by_duration(faulty_corpus, prepared):
    _, report = prepared
    for split in ("dev", "test"):
        assert report["splits"][split]["kept"] == 3


def test_rerun_with_same_options_does_nothing(faulty_corpus, prepared, caplog):
    prep, report = prepared
    mtimes = {p: p.stat().st_mtime_ns for p in (prep / "wav16k").iterdir()}
    caplog.set_level("INFO")
    again = prepare_common_voice(faulty_corpus, prep, SPANISH, max_duration=15.0, num_workers=2)
    assert again == report
    assert "already prepared" in caplog.text
    assert {p: p.stat().st_mtime_ns for p in (prep / "wav16k").iterdir()} == mtimes


def test_flac_output_holds_the_same_samples_as_wav(faulty_corpus, prepared, tmp_path):
    """prep_audio_format: flac trades read speed for disk; the data are the same."""
    wav_prep, wav_report = prepared
    report = prepare_common_voice(
        faulty_corpus, tmp_path / "prep", SPANISH, max_duration=15.0, num_workers=2, audio_format="flac"
    )
    assert report["splits"] == wav_report["splits"]
    wav_rows, flac_rows = manifest(wav_prep, "train"), manifest(tmp_path / "prep", "train")
    assert [r["ID"] for r in wav_rows] == [r["ID"] for r in flac_rows]
    for wav_row, flac_row in zip(wav_rows, flac_rows):
        assert wav_row["wav"].endswith(".wav") and flac_row["wav"].endswith(".flac")
        wav_audio = read_audio(wav_row["wav"].replace("$data_root", str(wav_prep)))
        flac_audio = read_audio(flac_row["wav"].replace("$data_root", str(tmp_path / "prep")))
        # libsndfile rounds float -> 16-bit differently for the two formats: 1 LSB.
        assert wav_audio.shape == flac_audio.shape
        assert torch.allclose(wav_audio, flac_audio, rtol=0, atol=1.01 / 32768)
    with pytest.raises(ValueError, match="audio_format"):
        prepare_common_voice(faulty_corpus, tmp_path / "other", SPANISH, audio_format="mp3")


def test_interrupted_prep_redoes_only_what_is_missing(faulty_corpus, tmp_path):
    prep = tmp_path / "prep"
    first = prepare_common_voice(faulty_corpus, prep, SPANISH, max_duration=15.0, num_workers=1)
    clips = sorted((prep / "wav16k").iterdir())
    # Simulate a kill: no done marker, two clips never converted, a partial temp file left.
    os.unlink(prep / "prep_done.json")
    os.unlink(clips[0])
    write_partial = prep / "wav16k" / f".{clips[1].name}.xyz.part"
    write_partial.write_bytes(b"partial")
    os.unlink(clips[1])
    untouched = {p: p.stat().st_mtime_ns for p in clips[2:]}
    second = prepare_common_voice(faulty_corpus, prep, SPANISH, max_duration=15.0, num_workers=1)
    assert second["splits"] == first["splits"]
    assert clips[0].is_file() and clips[1].is_file()
    assert not write_partial.exists()
    assert {p: p.stat().st_mtime_ns for p in clips[2:]} == untouched


def test_out_of_disk_fails_before_converting(faulty_corpus, tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1000))
    with pytest.raises(OSError, match="only 0.00 GB are free"):
        prepare_common_voice(faulty_corpus, tmp_path / "prep", SPANISH, num_workers=1)
    assert not list((tmp_path / "prep").glob("wav16k/*.wav"))


def test_paths_listed_without_mp3_extension_are_found(make_corpus, tmp_path):
    """Early Common Voice releases list `path` without ".mp3"; the clip is still found and used."""
    import shutil

    corpus = shutil.copytree(make_corpus("es", n_train=4, n_dev=2, n_test=2, seed=3), tmp_path / "es")
    train = corpus / "train.tsv"
    train.write_text(train.read_text(encoding="utf-8").replace(".mp3\t", "\t"), encoding="utf-8")
    report = prepare_common_voice(corpus, tmp_path / "prep", SPANISH, num_workers=1)
    assert report["splits"]["train"]["kept"] == 4 and report["splits"]["train"]["skipped"] == {}
