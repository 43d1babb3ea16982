"""The statistics of `choose_encoder` on hand-made per-utterance files: the paired bootstrap against
an independent loop, per-utterance edits, ties, degenerate runs and the sentence of the answer."""

import csv

import numpy as np
import pytest

from crossling_asr.analysis.choice import load_run, paired_bootstrap, rank_encoders, read_hypotheses, utterance_errors

REFERENCES = [f"el gato {w} come" for w in ("rojo", "verde", "grande", "negro", "azul", "blanco")] * 3


def results(losses=(5.0, 3.0)):
    return {"training": {"dev_history": [{"epoch": i + 1, "loss": v} for i, v in enumerate(losses)]}}


def write_run(folder, hypotheses, references=REFERENCES):
    folder.mkdir(parents=True)
    with open(folder / "test_hypotheses.tsv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["ID", "reference", "hypothesis"])
        writer.writerows((f"utt{i:02d}", ref, hyp) for i, (ref, hyp) in enumerate(zip(references, hypotheses)))
    return folder


def run(tmp_path, encoder, hypotheses, seed=1, losses=(5.0, 3.0), metric="WER"):
    folder = write_run(tmp_path / encoder / f"seed_{seed}", hypotheses)
    return load_run(encoder, seed, folder, results(losses), metric)


def test_edits_per_utterance_are_the_study_scorer_s():
    rows = [("a", "el gato come", "el perro"), ("b", "sol", "sol"), ("c", "hoy", "")]
    words = utterance_errors(rows, "WER")
    # "el gato come" -> "el perro": one substitution, one deletion; "hoy" -> "": one deletion
    assert list(words["edits"]) == [2, 0, 1] and list(words["ref_tokens"]) == [3, 1, 1]
    chars = utterance_errors(rows, "CER")
    assert list(chars["ref_tokens"]) == [12, 3, 3] and chars["edits"].iloc[1] == 0 and chars["edits"].iloc[2] == 3


def test_a_bad_hypotheses_file_is_named_with_its_line(tmp_path):
    path = tmp_path / "test_hypotheses.tsv"
    path.write_text("ID\treference\thypothesis\nu1\tone\ttwo\textra\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"test_hypotheses.tsv:2: 4 fields"):
        read_hypotheses(path)


def test_paired_bootstrap_matches_an_independent_loop():
    edits = [np.array([[1, 0, 2, 0, 1]]), np.array([[0, 0, 1, 3, 0], [2, 1, 0, 0, 0]]), np.array([[4, 4, 4, 4, 4]])]
    ref = np.array([3, 2, 4, 5, 1])
    rates = paired_bootstrap(edits, ref, n_resamples=50, seed=7)

    rng = np.random.default_rng(7)
    for r in range(50):
        utterances = [int(i) for i in rng.integers(0, 5, 5)]
        reference = sum(int(ref[i]) for i in utterances)
        for e, seed_edits in enumerate(edits):
            seeds = [int(s) for s in rng.integers(0, len(seed_edits), len(seed_edits))] if len(seed_edits) > 1 else [0]
            total = 0.0
            for s in seeds:
                for i in utterances:
                    total += seed_edits[s][i]
            assert rates[r, e] == pytest.approx(100 * total / len(seeds) / reference)


def test_a_clear_winner_is_recommended_with_an_interval_excluding_the_others(tmp_path):
    good = run(tmp_path, "good", REFERENCES)
    bad = run(tmp_path, "bad", [r.replace("gato", "perro").replace("come", "bebe") for r in REFERENCES])
    choice = rank_encoders([bad, good], "WER", n_resamples=500)
    assert choice.recommended == "good" and choice.best_group == ["good"]
    assert choice.recommendation.startswith("Recommended: good (WER 0.00")
    row = choice.ranking.set_index("encoder").loc["bad"]
    assert row["error"] == pytest.approx(50.0) and row["diff_ci_low"] > 0


def test_a_tie_is_a_tie_whatever_the_names(tmp_path):
    hypotheses = [r.replace("gato", "perro") for r in REFERENCES]
    choice = rank_encoders([run(tmp_path, "b", hypotheses), run(tmp_path, "a", hypotheses)], "WER", n_resamples=200)
    assert choice.recommended is None and sorted(choice.best_group) == ["a", "b"]
    assert choice.recommendation == "No clear winner among a, b: they have the same error."
    assert set(choice.ranking["rank"]) == {1}


def test_close_encoders_are_no_clear_winner(tmp_path):
    one = [r if i != 0 else "el perro rojo come" for i, r in enumerate(REFERENCES)]
    two = [r if i not in (1, 2) else r.replace("gato", "perro") for i, r in enumerate(REFERENCES)]
    choice = rank_encoders([run(tmp_path, "one", one), run(tmp_path, "two", two)], "WER", n_resamples=500)
    assert choice.recommended is None and sorted(choice.best_group) == ["one", "two"]
    assert "intervals that include 0" in choice.recommendation


def test_degenerate_runs_are_flagged_and_never_recommended(tmp_path):
    blank = run(tmp_path, "blank", [""] * len(REFERENCES))
    constant = run(tmp_path, "constant", ["el"] * len(REFERENCES))
    # the lowest error, but its dev loss never went below the first epoch's
    stalled = run(tmp_path, "stalled", REFERENCES, losses=(3.0, 3.5, 3.2))
    fair = run(tmp_path, "fair", [r.replace("gato", "perro") for r in REFERENCES])
    choice = rank_encoders([blank, constant, stalled, fair], "WER", n_resamples=200)
    flags = choice.ranking.set_index("encoder")["flags"]
    assert "all-blank output" in flags["blank"] and ">= 100" in flags["blank"]
    assert "same hypothesis for every utterance" in flags["constant"]
    assert "dev loss not decreasing" in flags["stalled"]
    assert flags["fair"] == ""
    assert choice.recommended == "fair"
    assert list(choice.ranking["encoder"])[0] == "fair"  # flagged runs are listed after the others


def test_when_every_run_is_degenerate_the_answer_says_so(tmp_path):
    runs = [run(tmp_path, name, [""] * len(REFERENCES)) for name in ("x", "y")]
    runs.append(run(tmp_path, "z", ["el el el el el"] * len(REFERENCES)))
    choice = rank_encoders(runs, "WER", n_resamples=100)
    assert choice.all_degenerate and choice.recommended is None and choice.best_group == []
    assert choice.recommendation.startswith("No recommendation: every candidate's runs are degenerate")
    assert any("worse than empty output" in caution for caution in choice.cautions)


def write_results(root, language, encoder, protocol, error):
    """A minimal finished results.json of a run (what the report's collection reads)."""
    import json

    from crossling_asr.run_layout import run_name

    name = run_name(encoder, protocol)
    folder = root / language / name / "seed_1"
    folder.mkdir(parents=True)
    results = {
        "schema_version": 1,
        "status": "finished",
        "run": {"language": language, "encoder": encoder, "seed": 1, "protocol": protocol},
        "metrics": {"primary": "WER", "test": {"WER": error, "CER": error / 2}},
        "hparams": {"run_name": name, "protocol": protocol},
    }
    (folder / "results.json").write_text(json.dumps(results))


def test_the_probe_ranking_is_validated_on_other_languages_only(tmp_path):
    from crossling_asr.analysis.choice_answer import probe_validation

    encoders = ["xlsr-53", "wavlm-large", "hubert-large-ll60k", "data2vec-audio-large", "wav2vec2-large-lv60"]
    for language, shift in (("de", 0.0), ("it", 1.0)):
        for rank, encoder in enumerate(encoders):
            write_results(tmp_path, language, encoder, "probe", 40.0 + 5 * rank + shift)
            write_results(tmp_path, language, encoder, "study", 20.0 + 3 * rank + shift)
    own = probe_validation(tmp_path, "de", n_resamples=200)  # a language's own runs never validate it
    assert own["validated"] and [row["scope"] for row in own["per_language"]] == ["it"]
    validation = probe_validation(tmp_path, "vi", n_resamples=200)
    assert validation["validated"] is True
    assert [row["scope"] for row in validation["per_language"]] == ["de", "it"]
    assert validation["pooled"]["rho"] == pytest.approx(1.0) and validation["pooled"]["top1"] == 1.0
    assert validation["statement"].startswith("Measured on 2 other language(s) of this results root (de, it)")
    nothing = probe_validation(tmp_path / "empty", "vi")
    assert nothing["validated"] is False and nothing["statement"].startswith("Not yet validated")
