"""The grid command run from tests (a subprocess or this process), and the inputs it reads: Common Voice
folders without clips, preparation reports; where an evaluated released checkpoint lives, spelt out."""

import json
import subprocess
import sys

from crossling_asr.cli.grid import main as grid_main
from crossling_asr.hparams import REPO_ROOT as ROOT


def grid_cli(*args, **kwargs):
    """Run local/grid.py; returns CompletedProcess (stdout and stderr as text)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "local" / "grid.py"), *map(str, args)], capture_output=True, text=True, **kwargs
    )


def write_prep_report(root, language, hours):
    folder = root / "prepared" / language
    folder.mkdir(parents=True)
    (folder / "prep_report.json").write_text(
        json.dumps({"splits": {split: {"hours": h, "kept": 1} for split, h in zip(("train", "dev", "test"), hours)}})
    )


def write_common_voice_folder(folder, train_header="client_id\tpath\tsentence"):
    """A Common Voice language folder without clips: enough for preparation to read its TSVs."""
    (folder / "clips").mkdir(parents=True)
    (folder / "train.tsv").write_text(train_header + "\n")
    for split in ("dev", "test", "validated"):
        (folder / f"{split}.tsv").write_text("client_id\tpath\tsentence\n")


def released_folder(root, language, encoder, seed):
    """Where an evaluated released checkpoint lives, spelt out (README: <lang>/<encoder>.released/seed_<seed>)."""
    return root / language / f"{encoder}.released" / f"seed_{seed}"


def grid_output(capsys, *args):
    """(exit code or message, stdout, stderr) of local/grid.py run in this process."""
    try:
        code = grid_main([str(a) for a in args])
    except SystemExit as stop:
        code = stop.code
    out = capsys.readouterr()
    return code, out.out, out.err
