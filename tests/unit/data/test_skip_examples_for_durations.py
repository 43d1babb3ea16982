"""prep_report.json shows example rows for the duration skip reasons, as for the others."""

import json

import numpy as np
import soundfile as sf

from crossling_asr.data.common_voice import prepare_common_voice
from crossling_asr.data.text import LanguageSpec, TextNormalizer

RATE = 16000
HEADER = "client_id\tpath\tsentence\n"


def write_clip(folder, name, seconds):
    samples = 0.1 * np.sin(np.arange(int(seconds * RATE)) * 2 * np.pi * 220 / RATE)
    sf.write(str(folder / "clips" / name), samples.astype(np.float32), RATE)


def test_too_short_too_long_and_too_short_for_transcript_have_examples(tmp_path):
    data = tmp_path / "cv"
    (data / "clips").mkdir(parents=True)
    clips = {
        "short.wav": (0.2, "hola"),
        "long.wav": (3.0, "hola"),
        "dense.wav": (0.5, "hola " * 10),
        "ok.wav": (1.0, "hola"),
    }
    for name, (seconds, _) in clips.items():
        write_clip(data, name, seconds)
    rows = "".join(f"spk\t{name}\t{text}\n" for name, (_, text) in clips.items())
    (data / "train.tsv").write_text(HEADER + rows)
    for split in ("dev", "test"):
        (data / f"{split}.tsv").write_text(HEADER + "spk\tok.wav\thola\n")

    prepare_common_voice(
        data,
        tmp_path / "prep",
        TextNormalizer(LanguageSpec(code="es", alphabet="a-z")),
        max_duration=2.0,
        min_duration=0.3,
        num_workers=1,
    )

    train = json.loads((tmp_path / "prep" / "prep_report.json").read_text())["splits"]["train"]
    assert train["skipped"] == {"too_long": 1, "too_short": 1, "too_short_for_transcript": 1}
    examples = train["skipped_examples"]
    # Line 1 is the header: short.wav is on line 2, long.wav on 3, dense.wav on 4.
    assert examples["too_short"] == [{"line": 2, "path": "short.wav", "duration": 0.2, "min_duration": 0.3}]
    assert examples["too_long"] == [{"line": 3, "path": "long.wav", "duration": 3.0, "max_duration": 2.0}]
    # 0.5 s is 25 encoder frames at 50 per second; "hola hola ... hola" (10 words) is 49 characters.
    assert examples["too_short_for_transcript"] == [
        {"line": 4, "path": "dense.wav", "duration": 0.5, "encoder_frames": 25, "characters": 49}
    ]
