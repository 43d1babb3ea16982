"""Common Voice preparation: TSV reading, skip report, idempotent and resumable conversion."""

import csv
import json
import os

import pytest
import soundfile as sf
import torch

from crossling_asr.data.common_voice import (
    CommonVoiceFormatError,
    _log_report,
    prepare_common_voice,
    read_cv_tsv,
    safe_clip_path,
)
from crossling_asr.data.datasets import read_audio
from crossling_asr.data.text import LanguageSpec, TextNormalizer

SPANISH = TextNormalizer(LanguageSpec(code="es", alphabet="a-zñáéíóúü"))


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_tsv_with_quotes_and_later_release_columns(tmp_path):
    tsv = write(
        tmp_path / "train.tsv",
        "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment\n"
        'c1\ta.mp3\ts1\tHe said "hi\t\t2\t0\t\t\t\t\tes\t\n'
        'c2\tb.mp3\ts2\t"Quoted" whole\t\t2\t0\t\t\t\t\tes\t\n',
    )
    rows, malformed = read_cv_tsv(tsv)
    assert [r["sentence"] for r in rows] == ['He said "hi', '"Quoted" whole']
    assert [r["line"] for r in rows] == [2, 3]
    assert malformed == []


def test_tsv_saved_with_a_byte_order_mark_is_read(tmp_path):
    tsv = tmp_path / "train.tsv"
    tsv.write_text("path\tsentence\na.mp3\tHola\n", encoding="utf-8-sig")
    rows, _ = read_cv_tsv(tsv)
    assert rows[0]["path"] == "a.mp3" and rows[0]["sentence"] == "Hola"


def test_malformed_rows_are_reported_with_their_line(tmp_path):
    tsv = write(tmp_path / "dev.tsv", "client_id\tpath\tsentence\nc\ta.mp3\tok\nc\tb.mp3\ttoo\tmany\nc\tc.mp3\tok\n")
    rows, malformed = read_cv_tsv(tsv)
    assert [r["path"] for r in rows] == ["a.mp3", "c.mp3"]
    assert malformed == [3]


def test_header_without_required_columns_names_the_file(tmp_path):
    tsv = write(tmp_path / "test.tsv", "client_id\tfile\ttext\nc\ta.mp3\thola\n")
    with pytest.raises(CommonVoiceFormatError, match=r"test\.tsv:1: .*\['path', 'sentence'\]"):
        read_cv_tsv(tsv)


def test_paths_cannot_escape_the_clips_folder(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    assert safe_clip_path(clips, "a.mp3") == (clips / "a.mp3").resolve()
    for bad in ("../a.mp3", "/etc/passwd", "sub/../../a.mp3", ""):
        assert safe_clip_path(clips, bad) is None


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


def test_a_test_sentence_also_in_train_is_a_warning_with_an_example(caplog):
    split = {
        "rows_read": 10,
        "kept": 10,
        "hours": 0.01,
        "skipped": {},
        "sentences_also_in_train": 3,
        "sentence_also_in_train_example": {"ID": "clip_7", "sentence": "hola mundo"},
    }
    with caplog.at_level("WARNING", logger="crossling_asr.data.common_voice"):
        _log_report({"splits": {"test": split}})
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "test: 3 of 10 utterances have a sentence that is also in train (e.g. clip_7: 'hola mundo')" in warning


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


def test_missing_folders_and_files_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_folder .* does not exist"):
        prepare_common_voice(tmp_path / "nope", tmp_path / "prep", SPANISH)
    (tmp_path / "cv" / "clips").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"lacks train\.tsv"):
        prepare_common_voice(tmp_path / "cv", tmp_path / "prep", SPANISH)


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
