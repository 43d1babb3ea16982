"""The demo shows what the run learned: starting point, best dev CER, test scores, references beside hypotheses."""

import json

from crossling_asr.cli.demo import run_summary


def test_summary_shows_the_starting_point_the_best_epoch_and_examples(tmp_path):
    results = {
        "training": {
            "dev_history": [{"epoch": 1, "CER": 100.0}, {"epoch": 2, "CER": 41.25}, {"epoch": 3, "CER": 18.5}]
        },
        "metrics": {
            "dev_best": {"CER": 18.5, "WER": 60.0, "epoch": 3},
            "test": {"WER": 58.0, "CER": 19.4, "n_utterances": 20},
        },
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "test_hypotheses.tsv").write_text(
        "ID\treference\thypothesis\nu1\tcasa roja\tcasa roa\nu2\tel sol\t\nu3\tla luna\tla luna\n"
    )

    summary = run_summary(tmp_path / "results.json", n_examples=2)

    assert summary.splitlines() == [
        "Dev CER 100.0% after epoch 1 (the starting point), 18.5% at its best (epoch 3 of 3)",
        "Test WER 58.0%  CER 19.4%  (20 utterances)",
        "",
        "  reference   hypothesis",
        "  casa roja   casa roa",
        "  el sol      (nothing)",
    ]
