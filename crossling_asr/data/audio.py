"""Reading audio files as mono float32 tensors at the rate a model needs.

Data preparation (Common Voice MP3s), transcription (any file soundfile
reads) and the synthetic corpus (espeak-ng output) all decode and resample
here. soundfile decodes (MP3 included, through libsndfile), channels are
averaged to mono, and torchaudio's `Resample` resamples; one `Resample` is
built per pair of rates and process, since building its sinc kernel costs
more than applying it to a short clip.

SpeechBrain's `AudioNormalizer` does the same but resamples every channel
before mixing, and its `audio_io.load` turns every decoding failure into one
RuntimeError; decoding here keeps the failures apart (undecodable, no
samples, operating-system errors) so callers can report each.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import soundfile as sf
import torch
import torchaudio


class AudioError(ValueError):
    """A file that is not usable audio; the message says why."""


class UndecodableAudioError(AudioError):
    """soundfile cannot open or decode the file (its error is the __cause__)."""


class EmptyAudioError(AudioError):
    """The file decodes to no samples at all."""


@contextlib.contextmanager
def c_stderr_lines() -> Iterator[list[str]]:
    """Yield a list that receives, on exit, the lines written meanwhile to the process's stderr (fd 2).

    libsndfile's MP3 decoder (mpg123) writes "Note: Trying to resync..." and
    "Note: Skipped N bytes in input." straight to fd 2 from C for every
    damaged frame it skips, which Python's sys.stderr cannot intercept; a
    corpus with a few damaged clips floods the log with them. Callers
    decoding many files capture them here and report a count instead. Not
    for threads: fd 2 is the whole process's.
    """
    lines = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().decode(errors="replace").splitlines())


def audio_suffixes() -> set[str]:
    """File name suffixes of the formats this soundfile build reads."""
    suffixes = {f".{fmt.lower()}" for fmt in sf.available_formats()}
    return suffixes | {".opus", ".aif", ".oga"}


def _undecodable(path: Path, err: Exception) -> UndecodableAudioError:
    """The UndecodableAudioError of soundfile's `err` on `path`, worded for users.

    libsndfile says "File does not exist or is not a regular file (possibly a
    pipe?)" of any existing file it cannot parse; that wording misleads, so an
    existing file is said to be not decodable as audio.
    """
    if path.is_file():
        return UndecodableAudioError(f"{path.name}: not decodable as audio ({type(err).__name__})")
    return UndecodableAudioError(str(err))


def audio_info(path: str | Path) -> sf._SoundFileInfo:
    """soundfile's header information (frames, samplerate, ...) of an audio file, without decoding it.

    Raises UndecodableAudioError as read_mono does; OSError passes through.
    """
    path = Path(path)
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise _undecodable(path, err) from err


def read_mono(path: str | Path) -> tuple[torch.Tensor, int]:
    """(samples, rate) of an audio file: a 1-D float32 tensor, channels averaged.

    Raises UndecodableAudioError or EmptyAudioError; OSError passes through.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise EmptyAudioError("the file is 0 bytes")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise _undecodable(path, err) from err
    if audio.shape[0] == 0:
        raise EmptyAudioError("no audio samples")
    return torch.from_numpy(audio.mean(axis=1)), rate


@functools.cache
def _resampler(orig_rate, new_rate):
    return torchaudio.transforms.Resample(orig_rate, new_rate)


def resample(signal: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """`signal` (..., time) resampled from `orig_rate` to `new_rate` (itself when they are equal)."""
    if orig_rate == new_rate:
        return signal
    return _resampler(orig_rate, new_rate)(signal)


def read_resampled(path: str | Path, sample_rate: int) -> torch.Tensor:
    """An audio file as a 1-D float32 tensor at `sample_rate`, mixed to mono (see read_mono)."""
    signal, rate = read_mono(path)
    return resample(signal, rate, sample_rate)
