"""The recipes' README results tables, filled between their markers."""

import shutil
import subprocess
import sys

from crossling_asr.analysis import recipe_readmes
from crossling_asr.hparams import REPO_ROOT as ROOT
from tests.helpers.results import REGISTRY, results_object, write_results


def test_update_recipe_readmes_fills_the_results_table_between_its_markers(tmp_path):
    recipes = tmp_path / "recipes"
    shutil.copytree(ROOT / "recipes" / "es", recipes / "es")
    (recipes / "de").mkdir()
    (recipes / "de" / "README.md").write_text("# German\n\nNo results table here.\n")
    original = (recipes / "es" / "README.md").read_text(encoding="utf-8")
    root = tmp_path / "results"
    for seed, wer in ((1, 10.0), (2, 14.0)):
        write_results(root, results_object("es", "xlsr-53", seed, wer))
    write_results(root, results_object("es", "wavlm-large", 1, 20.0))
    for seed, wer in ((1, 30.0), (2, 33.0), (3, 36.0)):
        write_results(root, results_object("es", "hubert-large-ll60k", seed, wer))
    write_results(root, results_object("de", "xlsr-53", 1, 20.0))

    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "local" / "report.py"),
            "--results-root",
            str(root),
            "--out",
            str(tmp_path / "report"),
            "--seeds",
            "1",
            "2",
            "3",
            "--bootstrap",
            "50",
            "--update-recipe-readmes",
            "--recipes-dir",
            str(recipes),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Updated {recipes / 'es' / 'README.md'}" in proc.stdout
    assert f"{recipes / 'de' / 'README.md'} left alone" in proc.stderr
    assert (recipes / "de" / "README.md").read_text() == "# German\n\nNo results table here.\n"

    text = (recipes / "es" / "README.md").read_text(encoding="utf-8")
    begin, end = recipe_readmes.RESULTS_BEGIN, recipe_readmes.RESULTS_END
    assert text[: text.index(begin)] == original[: original.index(begin)]
    assert text[text.index(end) :] == original[original.index(end) :]
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
    # WER 10, 14: mean 12, sample std sqrt(((10-12)^2 + (14-12)^2) / 1) = 2.83; CER is WER / 2 here
    assert rows["xlsr-53"] == "| xlsr-53 | 12.00 ± 2.83 (2/3 seeds) | 6.00 ± 1.41 (2/3 seeds) |"
    assert rows["wavlm-large"] == "| wavlm-large | 20.00 (1/3 seeds) | 10.00 (1/3 seeds) |"
    # 30, 33, 36: mean 33, std 3; CER 15, 16.5, 18: mean 16.5, std 1.5
    assert rows["hubert-large-ll60k"] == "| hubert-large-ll60k | 33.00 ± 3.00 | 16.50 ± 1.50 |"
    assert rows["no-pretraining"] == "| no-pretraining | not run | not run |"
    assert [name for name in rows if name not in ("encoder", "---")] == list(REGISTRY)
    assert "seeds 1, 2, 3" in text
    # Run again: the same table, rewritten in place
    again = recipe_readmes.replace_results_table(text, recipe_readmes.results_table(list(REGISTRY)), "README.md")
    assert again.count(begin) == 1 and "| xlsr-53 | not run | not run |" in again
