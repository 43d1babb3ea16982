"""Audio reading shared by data preparation, transcription and the synthetic corpus."""

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from crossling_asr.data.audio import EmptyAudioError, UndecodableAudioError, read_mono, read_resampled, resample


def tone(rate, seconds, hz=440.0):
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * math.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("fmt, tolerance", [("WAV", 1e-3), ("MP3", 0.05)])
def test_stereo_48k_is_mixed_to_mono_and_resampled_to_16k(tmp_path, fmt, tolerance):
    left = tone(48000, 1.0)
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, np.stack([left, 0.5 * left], axis=1), 48000, format=fmt)
    signal = read_resampled(path, 16000)
    assert signal.dtype == torch.float32 and signal.dim() == 1
    # The mono mix is 0.75 of the left channel: a 440 Hz tone of amplitude 0.375, at 16 kHz.
    expected = 0.75 * tone(16000, 1.0)
    middle = slice(2000, 14000)  # away from the edges (and the MP3 encoder's delay, compared loosely)
    if fmt == "WAV":
        assert len(signal) == 16000
        assert np.abs(signal.numpy()[middle] - expected[middle]).max() < tolerance
    else:
        rms = float(np.sqrt(np.mean(signal.numpy()[middle] ** 2)))
        assert rms == pytest.approx(0.375 / math.sqrt(2), abs=tolerance)


def test_one_resampler_per_pair_of_rates_and_none_for_equal_rates():
    from crossling_asr.data.audio import _resampler

    signal = torch.from_numpy(tone(22050, 0.2))
    assert resample(signal, 16000, 16000) is signal
    first = resample(signal, 22050, 48000)
    assert _resampler(22050, 48000) is _resampler(22050, 48000)
    assert torch.equal(resample(signal, 22050, 48000), first)
    assert len(first) == round(len(signal) * 48000 / 22050)


def test_failures_stay_distinguishable_and_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3 this is not audio" * 20)
    zero_bytes = tmp_path / "zero.mp3"
    zero_bytes.write_bytes(b"")
    with pytest.raises(UndecodableAudioError, match="corrupt.mp3: not decodable as audio") as caught:
        read_mono(corrupt)
    assert isinstance(caught.value.__cause__, sf.LibsndfileError)
    with pytest.raises(EmptyAudioError, match="the file is 0 bytes"):
        read_mono(zero_bytes)
    no_samples = tmp_path / "no_samples.wav"
    sf.write(no_samples, np.zeros((0, 1), dtype=np.float32), 16000)
    with pytest.raises(EmptyAudioError, match="no audio samples"):
        read_mono(no_samples)
