"""The tiny-encoder command writes encoders that load."""

import json
import subprocess
import sys

import pytest

from crossling_asr.hparams import REPO_ROOT as ROOT


@pytest.mark.slow
def test_tiny_encoders_command_writes_loadable_encoders(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "local" / "tiny_encoders.py"), tmp_path, "--families", "wav2vec2"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    config = json.loads((tmp_path / "wav2vec2" / "config.json").read_text())
    assert config["model_type"] == "wav2vec2" and config["hidden_size"] == 96
    assert str(tmp_path / "wav2vec2") in proc.stdout and "xlsr-53" in proc.stdout
    assert not (tmp_path / "hubert").exists()
