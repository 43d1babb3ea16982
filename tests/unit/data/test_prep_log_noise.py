"""Preparation's log: damaged MP3 frames counted instead of mpg123's notes, "already prepared" said once."""

import logging

import numpy as np
import soundfile as sf

from crossling_asr.data.common_voice import convert_clip
from crossling_asr.data.preparation import prepare

RATE = 16000


def damaged_mp3(path):
    """A 2 s MP3 with 400 bytes garbled a third of the way in: mpg123 must skip to the next good frame."""
    tone = 0.3 * np.sin(2 * np.pi * 300 * np.arange(2 * RATE) / RATE)
    sf.write(str(path), tone.astype(np.float32), RATE, format="MP3")
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start : start + 400] = bytes((b * 7 + 13) % 256 for b in data[start : start + 400])
    path.write_bytes(bytes(data))


def test_mpg123_resync_notes_are_counted_not_printed(tmp_path, capfd):
    damaged_mp3(tmp_path / "damaged.mp3")
    capfd.readouterr()
    frames, reason, resynced = convert_clip(str(tmp_path / "damaged.mp3"), str(tmp_path / "out.wav"), RATE)
    assert (reason, resynced) == (None, True)
    assert 0 < frames < 2 * RATE  # the skipped frames are missing, the rest is kept
    assert capfd.readouterr().err == ""


def language_hparams(data, prep):
    return {
        "language": "es",
        "text": {"alphabet": "a-z"},
        "data_folder": str(data),
        "prep_folder": str(prep),
        "sample_rate": RATE,
        "max_duration": 20.0,
        "min_duration": 0.3,
        "prep_workers": 1,
        "prep_audio_format": "wav",
    }


def test_already_prepared_is_said_only_when_it_is_so_and_once(tmp_path, caplog):
    data = tmp_path / "cv"
    (data / "clips").mkdir(parents=True)
    for split in ("train", "dev", "test"):
        damaged_mp3(data / "clips" / f"{split}.mp3")
        (data / f"{split}.tsv").write_text(f"client_id\tpath\tsentence\nspk\t{split}.mp3\thola\n")
    hparams = language_hparams(data, tmp_path / "prep")

    def already_prepared_lines():
        lines = [r.getMessage() for r in caplog.records if "already prepared" in r.getMessage()]
        caplog.clear()
        return len(lines)

    with caplog.at_level(logging.INFO, logger="crossling_asr.data.common_voice"):
        report = prepare(hparams)
        assert already_prepared_lines() == 0
        prepare(hparams)
        assert already_prepared_lines() == 1
    assert report["damaged_mp3_clips_converted_in_this_run"] == 3
    assert report["damaged_mp3_clip_examples"] == ["train.mp3", "dev.mp3", "test.mp3"]


def test_transcription_says_once_that_frames_were_skipped_instead_of_mpg123s_notes(tmp_path, capfd, caplog):
    from crossling_asr.decoding.transcribe import model_input

    damaged_mp3(tmp_path / "damaged.mp3")
    capfd.readouterr()
    with caplog.at_level(logging.WARNING, logger="crossling_asr.decoding.transcribe"):
        signal = model_input(tmp_path / "damaged.mp3")
    assert 0 < signal.numel() < 2 * RATE
    assert capfd.readouterr().err == ""  # no "Note: Trying to resync..." lines
    warnings = [r.getMessage() for r in caplog.records if "damaged MP3 frames were skipped" in r.getMessage()]
    assert len(warnings) == 1 and "damaged.mp3" in warnings[0]
