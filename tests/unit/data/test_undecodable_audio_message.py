"""A corrupt audio file is called "not decodable as audio" by transcription as by preparation."""

import numpy as np

from crossling_asr.data.common_voice import convert_clip
from crossling_asr.decoding.transcribe import AudioItem, transcribe

# Bytes that no audio format starts with (libsndfile's mpg123 tries them as MP3).
CORRUPT_BYTES = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()


def test_transcription_and_preparation_word_a_corrupt_mp3_alike(tmp_path):
    clip = tmp_path / "broken.mp3"
    clip.write_bytes(CORRUPT_BYTES)

    # Every item fails at its header, so neither model nor decoder is reached.
    (transcript,) = transcribe(None, [AudioItem("broken", str(clip))], None, progress=False)
    _, prep_reason, _ = convert_clip(str(clip), str(tmp_path / "broken.wav"), 16000)

    assert transcript.status == "error: unreadable audio: broken.mp3: not decodable as audio (LibsndfileError)"
    assert prep_reason == "undecodable: broken.mp3: not decodable as audio (LibsndfileError)"
    assert "does not exist" not in transcript.status


def test_a_missing_file_is_still_said_to_be_missing(tmp_path):
    (transcript,) = transcribe(None, [AudioItem("gone", str(tmp_path / "gone.mp3"))], None, progress=False)
    assert "not decodable" not in transcript.status
    assert "gone.mp3" in transcript.status
