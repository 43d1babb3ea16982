"""A model folder appears whole or not at all; shared work waits for its lock and says so."""

import logging
import stat
import threading

import pytest

from crossling_asr.interop.hub import hub_hyperparams
from crossling_asr.interop.staging import ExportTargetError, staged_folder
from crossling_asr.locks import exclusive

MARKER = "model_info.json"


def test_a_failed_write_leaves_the_earlier_folder_and_no_staging_behind(tmp_path):
    target = tmp_path / "export"
    with staged_folder(target, overwrite=False, marker=MARKER) as staging:
        (staging / MARKER).write_text("first")
    with pytest.raises(RuntimeError), staged_folder(target, overwrite=True, marker=MARKER) as staging:
        (staging / MARKER).write_text("second")
        raise RuntimeError("disk full")
    assert (target / MARKER).read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_only_an_earlier_folder_of_the_same_kind_is_replaced_and_only_when_asked(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ExportTargetError, match="not an exported model"), staged_folder(foreign, True, MARKER):
        pass
    assert (foreign / "notes.txt").read_text() == "mine"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ExportTargetError, match="not a directory"), staged_folder(a_file, True, MARKER):
        pass
    earlier = tmp_path / "earlier"
    with staged_folder(earlier, False, MARKER) as staging:
        (staging / MARKER).write_text("1")
    with pytest.raises(ExportTargetError, match="--overwrite"), staged_folder(earlier, False, MARKER):
        pass
    empty = tmp_path / "empty"
    empty.mkdir()
    with staged_folder(empty, False, MARKER) as staging:  # an empty folder is no one's work
        (staging / MARKER).write_text("1")
    assert (empty / MARKER).is_file()


def test_the_finished_folder_gets_the_permissions_of_new_files(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        with staged_folder(tmp_path / "export", False, MARKER) as staging:
            (staging / MARKER).write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "export").stat().st_mode) == 0o755  # mkdtemp alone gives 0o700
    assert stat.S_IMODE((tmp_path / "export" / MARKER).stat().st_mode) == 0o644


def test_a_second_holder_waits_and_says_so(tmp_path, caplog):
    lock_file = tmp_path / "sub" / ".lock"
    order = []
    first_holds, release_first = threading.Event(), threading.Event()

    def first():
        with exclusive(lock_file, "waiting for the first"):
            order.append("first in")
            first_holds.set()
            release_first.wait(10)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    first_holds.wait(10)
    threading.Timer(0.2, release_first.set).start()
    with caplog.at_level(logging.INFO, logger="crossling_asr.locks"), exclusive(lock_file, "waiting for the first"):
        order.append("second in")
    thread.join(10)
    assert order == ["first in", "first out", "second in"]
    assert "waiting for the first" in caplog.text


def test_the_uploaded_yaml_names_the_repo_and_a_folder_without_one_is_sent_as_it_is(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    assert hub_hyperparams(folder, "org/name") is None  # a transformers export has no hyperparams.yaml
    (folder / "hyperparams.yaml").write_text(f'model_dir: "{folder.resolve()}"\nsample_rate: 16000\n')
    assert hub_hyperparams(folder, "org/name") == 'model_dir: "org/name"\nsample_rate: 16000\n'
    (folder / "hyperparams.yaml").write_text('model_dir: "/elsewhere"\n')
    with pytest.raises(ValueError, match="no model_dir line for this folder"):
        hub_hyperparams(folder, "org/name")
