"""A Common Voice-style corpus spoken by espeak-ng, for demos and tests.

Real audio in the real layout: clips/*.mp3 at 48 kHz and TSVs with the
Common Voice 7.0 columns, several speakers (espeak voice variants, speeds and
pitches), sentences built from a language's word list, deterministic for a
seed. With `faults=True` it also writes the defects real releases contain,
so that data preparation can be tested against each of them.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import shutil
import subprocess
import tempfile
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

CV7_COLUMNS = [
    "client_id",
    "path",
    "sentence",
    "up_votes",
    "down_votes",
    "age",
    "gender",
    "accent",
    "locale",
    "segment",
]
CV_RATE = 48000
VOICE_VARIANTS = ["m1", "f1", "m2", "f2", "m3", "f3", "m4", "f4"]


def require_espeak() -> str:
    """The espeak-ng executable, or a clear error saying how to install it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng is not installed; run `make setup` (it installs the Debian "
            "package espeak-ng) or `apt-get install espeak-ng`"
        )
    return exe


@dataclass(frozen=True)
class Speaker:
    """One synthetic voice: an espeak variant, speed and pitch."""

    client_id: str
    variant: str
    speed: int
    pitch: int


@dataclass(frozen=True)
class Utterance:
    """One sentence to speak: what the transcript says and what espeak reads."""

    sentence: str
    reading: str
    speaker: Speaker


def make_speakers(n: int, rng: random.Random, language: str) -> list[Speaker]:
    """`n` distinct speakers with stable client ids."""
    speakers = []
    for i in range(n):
        variant = VOICE_VARIANTS[i % len(VOICE_VARIANTS)]
        cid = hashlib.sha256(f"{language}-speaker-{i}".encode()).hexdigest()
        speakers.append(Speaker(cid, variant, rng.randint(140, 180), rng.randint(35, 65)))
    return speakers


def make_sentence(
    words: list, rng: random.Random, word_delimiter: bool, min_words: int = 2, max_words: int = 5
) -> tuple[str, str]:
    """Pick words; return (written sentence, espeak reading)."""
    picked = [rng.choice(words) for _ in range(rng.randint(min_words, max_words))]
    written = [w[0] if isinstance(w, (list, tuple)) else w for w in picked]
    spoken = [w[1] if isinstance(w, (list, tuple)) else w for w in picked]
    joiner = " " if word_delimiter else ""
    sentence = joiner.join(written)
    if word_delimiter:
        sentence = sentence[:1].upper() + sentence[1:] + rng.choice([".", "", "!", "?", ","])
    return sentence, " ".join(spoken)


def speak(text: str, voice: str, speaker: Speaker, wav_path: Path) -> tuple[np.ndarray, int]:
    """Run espeak-ng once; return (samples float32, rate)."""
    cmd = [
        require_espeak(),
        "-v",
        f"{voice}+{speaker.variant}",
        "-s",
        str(speaker.speed),
        "-p",
        str(speaker.pitch),
        "-w",
        str(wav_path),
        text,
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    audio, rate = sf.read(str(wav_path), dtype="float32")
    return audio, rate


def write_mp3(path: Path, audio: np.ndarray, rate: int) -> None:
    """Write mono or stereo float audio as MP3 (libsndfile's LAME encoder)."""
    sf.write(str(path), audio, rate, format="MP3")


def _render(job):
    """Speak one utterance and save it as a CV-style MP3."""
    import torch

    from crossling_asr.data.audio import resample

    utt, voice, mp3_path, rate, channels, max_seconds = job
    with tempfile.TemporaryDirectory() as tmp:
        audio, espeak_rate = speak(utt.reading, voice, utt.speaker, Path(tmp) / "u.wav")
    audio = resample(torch.from_numpy(audio), espeak_rate, rate).numpy()
    if max_seconds:
        audio = audio[: int(max_seconds * rate)]
    audio = 0.9 * audio / max(1e-3, float(np.abs(audio).max()))
    if channels == 2:
        audio = np.stack([audio, 0.8 * audio], axis=1)
    write_mp3(mp3_path, audio, rate)
    return len(audio) / rate


def _write_tsv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar=None, quotechar=None)
        writer.writerow(CV7_COLUMNS)
        for row in rows:
            if "raw" in row:  # a line that is not well-formed, as written
                f.write(row["raw"] + "\n")
            else:
                writer.writerow([row.get(c, "") for c in CV7_COLUMNS])


def _row(language, utt, clip_name, sentence=None):
    return {
        "client_id": utt.speaker.client_id,
        "path": clip_name,
        "sentence": utt.sentence if sentence is None else sentence,
        "up_votes": "2",
        "down_votes": "0",
        "locale": language,
    }


def synthesize_corpus(
    out_dir: str | Path,
    language: str,
    voice: str,
    words: list,
    word_delimiter: bool = True,
    n_train: int = 60,
    n_dev: int = 10,
    n_test: int = 10,
    n_speakers: int = 6,
    seed: int = 0,
    faults: bool = False,
    num_workers: int = 2,
) -> dict[str, list[dict]]:
    """Write a Common Voice-style language folder to `out_dir`.

    Returns {split: [rows]} of what was written (faults included).
    """
    require_espeak()
    if not voice:
        raise ValueError(
            f"No espeak-ng voice for '{language}': set synthetic.voice in its hparams (`espeak-ng --voices` lists them)"
        )
    if not words:
        raise ValueError(f"No words to make '{language}' sentences from: set synthetic.words in its hparams")
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    clips = out_dir / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    speakers = make_speakers(max(n_speakers, 3), rng, language)
    # Speaker-disjoint splits as in Common Voice: dev and test get one voice each.
    pools = {"train": speakers[:-2], "dev": speakers[-2:-1], "test": speakers[-1:]}
    sizes = {"train": n_train, "dev": n_dev, "test": n_test}

    jobs, rows = [], {split: [] for split in sizes}
    for split, size in sizes.items():
        for i in range(size):
            sentence, reading = make_sentence(words, rng, word_delimiter)
            utt = Utterance(sentence, reading, rng.choice(pools[split]))
            name = f"common_voice_{language}_{split}_{i:05d}.mp3"
            jobs.append((utt, voice, clips / name, CV_RATE, 1, None))
            rows[split].append(_row(language, utt, name))
    if faults:
        _add_faults(language, voice, words, word_delimiter, rng, pools, clips, jobs, rows)

    with ThreadPoolExecutor(num_workers) as pool:
        list(pool.map(_render, [j for j in jobs if not j[2].exists()]))
    _write_fault_files(clips, rows)

    for split, split_rows in rows.items():
        _write_tsv(out_dir / f"{split}.tsv", split_rows)
    _write_tsv(out_dir / "validated.tsv", [r for split in sizes for r in rows[split] if "raw" not in r])
    for extra in ("invalidated", "other", "reported"):
        _write_tsv(out_dir / f"{extra}.tsv", [])
    return rows


def _add_faults(language, voice, words, word_delimiter, rng, pools, clips, jobs, rows):
    """Append one row for each defect real Common Voice releases contain."""
    speaker = pools["train"][0]

    def spoken(name, sentence, reading=None, rate=CV_RATE, channels=1, max_seconds=None, split="train"):
        utt = Utterance(sentence, reading or sentence, speaker)
        jobs.append((utt, voice, clips / name, rate, channels, max_seconds))
        rows[split].append({**_row(language, utt, name), "fault": name})

    base, reading = make_sentence(words, rng, word_delimiter)
    spoken("fault_44k_stereo.mp3", base, reading, rate=44100, channels=2)
    spoken("fault_32k.mp3", base, reading, rate=32000)
    quoted = f'"{base}" dijo' if word_delimiter else f"「{base}」"
    spoken("fault_quotes.mp3", quoted, reading)
    spoken("fault_unbalanced_quote.mp3", '"' + base, reading)
    spoken("fault_nfd.mp3", unicodedata.normalize("NFD", base), reading)
    spoken("fault_emoji.mp3", base + " \U0001f600", reading)
    spoken("fault_other_script.mp3", base + " Ωμέγα", reading + " omega")
    spoken("fault_digits.mp3", base + " 42", reading + " 42")
    spoken("fault_too_long.mp3", " ".join([base] * 25), " ".join([reading] * 25))
    spoken("fault_too_short.mp3", base, reading, max_seconds=0.2)
    # The same sentence in train and test, spoken by a train speaker.
    test_utt = next(job[0] for job in jobs if job[2].name == rows["test"][0]["path"])
    spoken("fault_test_sentence.mp3", test_utt.sentence, test_utt.reading)
    template = rows["train"][0]
    for name, sentence in [
        ("fault_missing.mp3", template["sentence"]),
        ("fault_zero_byte.mp3", template["sentence"]),
        ("fault_corrupt.mp3", template["sentence"]),
        ("fault_truncated.mp3", template["sentence"]),
        ("fault_empty_sentence.mp3", ""),
        ("fault_punctuation_only.mp3", "¡¿...!?"),
        ("../escape.mp3", template["sentence"]),
    ]:
        rows["train"].append({**template, "path": name, "sentence": sentence, "fault": name})
    rows["train"].append(
        {"raw": template["client_id"] + "\tfault_extra_field.mp3\ttext\twith\ttabs", "fault": "malformed"}
    )


def _write_fault_files(clips, rows):
    """Create the broken clip files after the good ones are rendered."""
    if not any("fault" in r for r in rows["train"]):
        return
    source = clips / rows["train"][0]["path"]  # a good clip
    (clips / "fault_zero_byte.mp3").write_bytes(b"")
    (clips / "fault_corrupt.mp3").write_bytes(b"ID3 this is not audio " * 64)
    data = source.read_bytes()
    (clips / "fault_truncated.mp3").write_bytes(data[: max(1, len(data) // 2)])
    for name in ("fault_empty_sentence.mp3", "fault_punctuation_only.mp3"):
        shutil.copyfile(source, clips / name)
    # The row for fault_missing.mp3 points to no file, on purpose.
    missing = clips / "fault_missing.mp3"
    if missing.exists():
        os.unlink(missing)
