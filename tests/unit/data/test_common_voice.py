"""Common Voice TSVs: quotes, later release columns, byte order marks, malformed rows and headers
named, paths kept inside clips/, missing folders, test sentences also in train."""

import pytest

from crossling_asr.data.common_voice import (
    CommonVoiceFormatError,
    _log_report,
    prepare_common_voice,
    read_cv_tsv,
    safe_clip_path,
)
from tests.helpers.common_voice import SPANISH


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


def test_missing_folders_and_files_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_folder .* does not exist"):
        prepare_common_voice(tmp_path / "nope", tmp_path / "prep", SPANISH)
    (tmp_path / "cv" / "clips").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"lacks train\.tsv"):
        prepare_common_voice(tmp_path / "cv", tmp_path / "prep", SPANISH)
