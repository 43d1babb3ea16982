"""The demo shows what the run learned: dev CER after epoch 1, at the epoch tested and at its best, test scores,
references beside hypotheses."""

import json

from crossling_asr.cli.demo import run_summary


def write_run(tmp_path, dev_selected):
    """A finished 3-epoch run's results.json and test hypotheses; `dev_selected`: the epoch tested."""
    results = {
        "training": {
            "dev_history": [{"epoch": 1, "CER": 100.0}, {"epoch": 2, "CER": 41.25}, {"epoch": 3, "CER": 18.5}]
        },
        "metrics": {
            "dev_best": {"CER": 18.5, "WER": 60.0, "epoch": 3},
            "dev_selected": dev_selected,
            "test": {"WER": 58.0, "CER": 19.4, "n_utterances": 20},
        },
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "test_hypotheses.tsv").write_text(
        "ID\treference\thypothesis\nu1\tcasa roja\tcasa roa\nu2\tel sol\t\nu3\tla luna\tla luna\n"
    )

    return tmp_path / "results.json"


def test_summary_shows_the_first_and_tested_epochs_and_examples(tmp_path):
    results = write_run(tmp_path, {"CER": 18.5, "WER": 60.0, "epoch": 3, "selection": "last"})

    summary = run_summary(results, n_examples=2)

    assert summary.splitlines() == [
        "Dev CER 100.0% after epoch 1, 18.5% after epoch 3 of 3, the one tested (its best)",
        "Test WER 58.0%  CER 19.4%  (20 utterances)",
        "",
        "  reference   hypothesis",
        "  casa roja   casa roa",
        "  el sol      (nothing)",
    ]


def test_summary_names_the_best_epoch_when_another_one_is_tested(tmp_path):
    # the study protocol tests the last epoch (model_selection: last), which here is not the best
    results = write_run(tmp_path, {"CER": 25.7, "WER": 70.0, "epoch": 2, "selection": "last"})

    first_line = run_summary(results).splitlines()[0]

    expected = "Dev CER 100.0% after epoch 1, 25.7% after epoch 2 of 3, the one tested (best: 18.5% at epoch 3)"
    assert first_line == expected
