"""Word n-gram LM decoding of a trained model: lower test WER than greedy, and tuned weights that decode
dev as the tuning reported."""

import json
import subprocess
import sys

import pytest

from crossling_asr.cli.tune_lm import dev_posteriors
from crossling_asr.decoding.beam_search import resolve_lm_weights, tuning_file
from crossling_asr.decoding.lm_tuning import RESCORING_DECODES, tune_lm_weights
from crossling_asr.decoding.ngram_lm import build_run_lm
from crossling_asr.decoding.transcribe import Decoder, collect_inputs, score, transcribe
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.model.trained_model import TrainedModel, load_finished_run


def run_tool(script, *args):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "local" / script), *map(str, args)], capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_lm_decoding_lowers_test_wer_of_an_undertrained_model(usage_run, tmp_path):
    """build_lm.py (train transcripts) -> tune_lm.py (dev) -> test WER with and without the LM."""
    output_folder, _ = usage_run
    arpa = tmp_path / "3gram.arpa"
    report = json.loads(run_tool("build_lm.py", output_folder, "--out", arpa, "--order", "3").stdout)
    assert report["vocabulary"] <= 45  # the synthetic word list, </s> and <unk>
    # --beam-prune-logp -10 is SpeechBrain's own threshold: recorded as pruning, without changing the search.
    grid = ["--alphas", "0.5,1", "--betas", "0,1.5", "--beam-size", "32", "--beam-prune-logp", "-10"]
    run_tool("tune_lm.py", output_folder, "--lm", arpa, *grid)
    tuning = json.loads(tuning_file(arpa).read_text())
    assert tuning["best"]["WER"] <= tuning["greedy_WER"]

    model = TrainedModel.load(output_folder, "cpu")
    test_csv = json.loads((output_folder / "results.json").read_text())["hparams"]["test_csv"]
    weights = resolve_lm_weights(arpa)  # the decoder tuned: its weights, beam size and pruning
    best = {key: tuning["best"][key] for key in ("alpha", "beta")}
    assert weights == {**best, "beam_size": 32, "beam_prune_logp": -10.0}
    scores = {
        name: score(transcribe(model, collect_inputs([test_csv]), decoder, progress=False), model.normalizer)
        for name, decoder in (("greedy", Decoder(model)), ("lm", Decoder(model, arpa, **weights)))
    }
    print("test WER/CER greedy vs LM:", scores)
    assert scores["lm"]["n_scored"] == scores["greedy"]["n_scored"] > 0
    assert scores["lm"]["WER"] < scores["greedy"]["WER"] - 5, scores


def test_tuned_weights_decode_dev_as_tuning_reported_exhaustive_or_rescored(usage_run, tmp_path):
    output_folder, _ = usage_run
    run = load_finished_run(output_folder)
    arpa = tmp_path / "lm.arpa"
    build_run_lm(run, arpa)
    model = TrainedModel.load(output_folder, "cpu")
    utterances, _ = dev_posteriors(model, run.manifest("dev"))
    grid = {"alphas": [0.0, 0.5, 1.0, 2.0], "betas": [0.0, 1.0, 3.0], "beam_size": 32}
    exhaustive = tune_lm_weights(utterances, model.tokenizer, arpa, **grid, search="exhaustive")
    rescored = tune_lm_weights(utterances, model.tokenizer, arpa, **grid)
    print("exhaustive:", exhaustive["best"], "rescoring:", rescored["best"], "decoded", rescored["decoded"])
    full_beam = {(g["alpha"], g["beta"]): g["WER"] for g in exhaustive["decoded"]}
    assert len(full_beam) == 12 and exhaustive["best"]["WER"] == min(full_beam.values())
    # Rescoring reports its decoded pairs' WERs at the full beam: never better than the exhaustive best.
    assert len(rescored["decoded"]) == RESCORING_DECODES and len(rescored["rescored"]) == 12
    assert all(g["WER"] == full_beam[g["alpha"], g["beta"]] for g in rescored["decoded"])
    assert rescored["best"]["WER"] >= exhaustive["best"]["WER"]
    # The chosen weights mean the same when transcribing: same decoder, same dev WER.
    chosen = {key: rescored["best"][key] for key in ("alpha", "beta")}
    dev = score(
        transcribe(
            model, collect_inputs([run.manifest("dev")]), Decoder(model, arpa, **chosen, beam_size=32), progress=False
        ),
        model.normalizer,
    )
    assert dev["n_scored"] == len(utterances) and dev["WER"] == pytest.approx(rescored["best"]["WER"])
