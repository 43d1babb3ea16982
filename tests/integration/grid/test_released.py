"""The study's released checkpoints as a grid, end to end: two tiny checkpoints saved as HuggingSound
saves the released ones (folders named exp_w2v2t_es_<model>_s<seed>) evaluated with the local
executor on CPU, then status, and a second run that launches nothing."""

import json
import re

from crossling_asr.grid.runs import ATTEMPT_FILE, LOG_FILE
from tests.helpers.external_checkpoints import (
    CORPUS,
    HUGGINGSOUND_SPECIALS,
    SPANISH_LETTERS,
    check_scored_like_one_at_a_time,
    manifest_rows,
    save_checkpoint,
)
from tests.helpers.grid import grid_cli, grid_output, released_folder

TOKENS = HUGGINGSOUND_SPECIALS + SPANISH_LETTERS


# folder name -> (family, the card's base model, the registry encoder both name, seed)
CHECKPOINTS = {
    "exp_w2v2t_es_wav2vec2_s250": ("wav2vec2", "facebook/wav2vec2-large-lv60", "wav2vec2-large-lv60", 250),
    "exp_w2v2t_es_hubert_s7": ("hubert", "facebook/hubert-large-ll60k", "hubert-large-ll60k", 7),
}


def test_released_checkpoints_are_evaluated_once_then_done(tmp_path, make_corpus, capsys):
    corpus = make_corpus("es", **CORPUS)
    for index, (name, (family, base, _, _)) in enumerate(CHECKPOINTS.items()):
        save_checkpoint(tmp_path / "copies" / name, family, TOKENS, card_base=base, seed=index)
    listing = tmp_path / "released.txt"
    listing.write_text(
        "# local copies of two released checkpoints\n\n"
        + "".join(f"copies/{name}   # {family}\n" for name, (family, *_) in CHECKPOINTS.items())
    )
    root = tmp_path / "results"
    selection = ["--results-root", root, "--checkpoints", listing]

    code, out, _ = grid_output(capsys, "released", "status", *selection)
    assert code == 0 and out.startswith("2 runs: 0 done, 0 running, 0 failed, 2 pending"), out

    command = [
        "released",
        "run",
        *selection,
        "--data-folder",
        f"es={corpus}",
        "--gpus-per-run",
        "0",
        "--runs-per-gpu",
        "2",
    ]
    first = grid_cli(*command)
    assert first.returncode == 0, first.stdout + first.stderr
    folders = {name: released_folder(root, "es", encoder, seed) for name, (_, _, encoder, seed) in CHECKPOINTS.items()}
    started = sorted(
        line.split("] start ")[1].split(" on ")[0] for line in first.stdout.splitlines() if "] start " in line
    )
    assert started == sorted(str(folder.relative_to(root)) for folder in folders.values())
    test_utterances = len(manifest_rows(root, "test"))
    for name, folder in folders.items():
        results = json.loads((folder / "results.json").read_text())
        assert results["status"] == "finished" and results["run"]["protocol"] == "released"
        assert results["checkpoint"]["source"] == str(tmp_path / "copies" / name)
        assert results["checkpoint"]["released"] and results["metrics"]["test"]["n_utterances"] == test_utterances
        attempt = json.loads((folder / ATTEMPT_FILE).read_text())
        assert attempt["outcome"] == "finished" and attempt["executor"] == "local"
        assert (folder / LOG_FILE).read_text().count("=== grid attempt") == 1
    name = "exp_w2v2t_es_wav2vec2_s250"
    check_scored_like_one_at_a_time(folders[name], tmp_path / "copies" / name, root, splits=("test", "dev"))
    (prep_log,) = (root / "grid").glob("local-*/prep_es.log")  # the language prepared once, by the grid
    assert re.search(r"train: \d+ of \d+ rows kept", prep_log.read_text())

    code, out, _ = grid_output(capsys, "released", "status", *selection)
    assert code == 0 and out.startswith("2 runs: 2 done, 0 running, 0 failed, 0 pending"), out
    again = grid_cli(*command)
    assert again.returncode == 0, again.stderr
    assert "2 of 2 runs already finished; 0 to run" in again.stdout and "] start " not in again.stdout
    assert all((folder / LOG_FILE).read_text().count("=== grid attempt") == 1 for folder in folders.values())
