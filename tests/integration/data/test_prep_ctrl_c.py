"""Ctrl-C during data preparation: one line saying what is kept, and a re-run that says it resumes."""

import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf

from crossling_asr.hparams import REPO_ROOT
from crossling_asr.model.tiny_encoders import make_tiny_encoder
from crossling_asr.training.quick_run import recipe_command

N_CLIPS = 2000  # enough that two processes are still converting when Ctrl-C comes
SOURCE_RATE = 22050  # not 16 kHz, so each clip is resampled as Common Voice MP3s are
HEADER = "client_id\tpath\tsentence\n"


def write_corpus(folder):
    (folder / "clips").mkdir(parents=True)
    tone = (0.1 * np.sin(np.arange(SOURCE_RATE) * 2 * np.pi * 220 / SOURCE_RATE)).astype(np.float32)
    for i in range(N_CLIPS):
        sf.write(str(folder / "clips" / f"c{i}.wav"), tone, SOURCE_RATE)
    rows = [f"spk{i % 5}\tc{i}.wav\thola\n" for i in range(N_CLIPS)]
    (folder / "train.tsv").write_text(HEADER + "".join(rows[:-20]))
    (folder / "dev.tsv").write_text(HEADER + "".join(rows[-20:-10]))
    (folder / "test.tsv").write_text(HEADER + "".join(rows[-10:]))


def interrupt(cmd, log, ready):
    """Start `cmd` in its own process group and send the group SIGINT (as a terminal's Ctrl-C does)
    as soon as `ready()` holds; returns (exit status, the output)."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT / "recipes" / "es",
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # A process started in the background may inherit SIGINT ignored: give the run Python's default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 600
        while not ready() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, f"the run ended before it could be interrupted:\n{log.read_text()[-3000:]}"
        os.killpg(proc.pid, signal.SIGINT)
        status = proc.wait(timeout=300)
    return status, log.read_text()


@pytest.mark.slow
def test_ctrl_c_keeps_converted_clips_says_so_once_and_the_rerun_resumes(tmp_path):
    data = tmp_path / "cv" / "es"
    write_corpus(data)
    encoder = tmp_path / "encoder"
    make_tiny_encoder("wav2vec2", encoder)
    results = tmp_path / "results"
    cmd = recipe_command("es", data, encoder, results, epochs=1, extra=["--prep_workers=2"])
    converted = results / "prepared" / "es" / "wav16k"

    def n_converted():
        return len([p for p in converted.glob("*.wav") if not p.name.startswith(".")]) if converted.is_dir() else 0

    status, output = interrupt(cmd, tmp_path / "first.log", lambda: n_converted() >= 10)

    assert status == 130, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]
    kept = n_converted()
    assert 10 <= kept < N_CLIPS
    message = f"Preparation interrupted: the {kept} clips converted so far are kept in {converted}"
    assert [line for line in output.splitlines() if "interrupted" in line.lower()] == [
        f"{message} (each written whole, atomically); run the same command again to resume with the rest."
    ]
    assert not list(converted.glob(".*.part")), "an interrupted clip was left half-written"

    # The re-run's progress bar counts what the first run kept; it is interrupted again once it has
    # said so and converted more (not while it is starting its processes, which Ctrl-C would hit in fork).
    log = tmp_path / "second.log"
    status, output = interrupt(cmd, log, lambda: "already converted" in log.read_text() and n_converted() >= kept + 10)
    assert status == 130, output[-3000:]
    assert re.search(rf"Converting clips \({kept} of {N_CLIPS} already converted\)", output), output[-3000:]
