"""train.py with a wrong --data_folder stops before loading the encoder, creating nothing."""

import subprocess

from crossling_asr.hparams import REPO_ROOT
from crossling_asr.training.quick_run import recipe_command


def test_a_folder_without_common_voice_files_stops_the_recipe_before_it_creates_anything(tmp_path):
    data = tmp_path / "not_common_voice"
    (data / "clips").mkdir(parents=True)
    results = tmp_path / "results"
    # The encoder source does not exist either: were it loaded first, that would be the error.
    cmd = recipe_command("es", data, tmp_path / "no_encoder", results, epochs=1)

    proc = subprocess.run(cmd, cwd=REPO_ROOT / "recipes" / "es", capture_output=True, text=True)

    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: data_folder {data} lacks train.tsv, dev.tsv, test.tsv: point it at a Common Voice "
        "language folder, the one holding clips, train.tsv, dev.tsv, test.tsv"
    )
    assert not results.exists(), sorted(results.rglob("*"))
