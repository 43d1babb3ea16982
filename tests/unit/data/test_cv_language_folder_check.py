"""check_cv_language_folder: what a wrong data folder is told, before anything runs."""

import pytest

from crossling_asr.data.common_voice import check_cv_language_folder


def make_language_folder(folder, entries=("clips", "train.tsv", "dev.tsv", "test.tsv")):
    folder.mkdir(parents=True)
    for name in entries:
        (folder / name).mkdir() if name == "clips" else (folder / name).write_text("path\tsentence\n")


def test_a_language_folder_passes(tmp_path):
    make_language_folder(tmp_path / "es")
    check_cv_language_folder(tmp_path / "es")


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        check_cv_language_folder(tmp_path / "nowhere")
    assert str(err.value) == (
        f"data_folder {tmp_path / 'nowhere'} does not exist: point it at a Common Voice language folder, "
        "the one holding clips, train.tsv, dev.tsv, test.tsv"
    )


def test_the_missing_entries_are_listed(tmp_path):
    make_language_folder(tmp_path / "es", entries=("clips", "train.tsv"))
    with pytest.raises(FileNotFoundError, match=r"lacks dev\.tsv, test\.tsv: point it at"):
        check_cv_language_folder(tmp_path / "es")


def test_a_release_root_is_told_which_language_folder_to_give(tmp_path):
    for lang in ("de", "es"):
        make_language_folder(tmp_path / "cv-corpus" / lang)
    with pytest.raises(FileNotFoundError) as err:
        check_cv_language_folder(tmp_path / "cv-corpus")
    assert str(err.value) == (
        f"data_folder {tmp_path / 'cv-corpus'} lacks clips, train.tsv, dev.tsv, test.tsv: it holds language "
        f"folders (de, es): give one, e.g. {tmp_path / 'cv-corpus' / 'de'}"
    )
