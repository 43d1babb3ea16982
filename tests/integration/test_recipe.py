"""The Spanish recipe end to end: it learns, it resumes after a real kill, it fails fast (fp16 on a CPU
before data preparation, bad configurations, a missing data folder)."""

import json
import math
import signal
import subprocess
import time

import pytest

from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.training.quick_run import recipe_command
from tests.helpers.recipes import USAGE_CORPUS, USAGE_EPOCHS, run_folder, run_recipe


def test_fp16_on_cpu_stops_the_recipe_before_data_preparation(make_corpus, tiny_encoders, tmp_path):
    corpus = make_corpus("es", n_train=12, n_dev=4, n_test=4)
    started = time.time()
    proc = run_recipe(
        "es", corpus, tiny_encoders["wav2vec2"], tmp_path, extra=["--device=cpu", "--precision=fp16"], check=False
    )
    assert proc.returncode != 0
    assert "error: --precision=fp16 needs a CUDA GPU" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "prepared").exists()  # refused before any clip was converted
    assert time.time() - started < 120


# An untrained model outputs nothing or noise: CER >= ~95%. Learning must go well below.
LEARNED_CER_BOUND = 80.0


# Short runs for resumption: small batches, so each epoch has several steps.
RESUME_EPOCHS = 3


RESUME_OVERRIDES = [
    "--dynamic_batch_sampler={max_batch_length: 8, num_buckets: 4, max_batch_ex: 4}",
    "--batch_size=4",
    "--ckpt_interval_minutes=0",
    "--ckpt_interval_steps=3",
]


@pytest.fixture(scope="module")
def small_corpus(make_corpus):
    return make_corpus("es", n_train=30, n_dev=4, n_test=4, seed=5)


def results_of(results_root, encoder_source):
    """results.json of the xlsr-53 (seed 1) run whose weights came from `encoder_source`."""
    return json.loads((run_folder(results_root, "es", "xlsr-53", 1, encoder_source) / "results.json").read_text())


def test_training_learns(usage_run):
    results = json.loads((usage_run[0] / "results.json").read_text())
    test = results["metrics"]["test"]
    assert test["CER"] < LEARNED_CER_BOUND, test
    assert test["n_utterances"] == USAGE_CORPUS["n_test"]
    assert results["status"] == "finished"
    assert results["training"]["epochs"] == USAGE_EPOCHS
    assert results["training"]["optimizer_steps"] > 0
    assert results["training"]["skipped_nonfinite_batches"] == 0


def test_outputs_follow_speechbrain_conventions(usage_run):
    out = usage_run[0]
    for name in (
        "train_log.txt",
        "hyperparams.yaml",
        "env.log",
        "results.json",
        "test_hypotheses.tsv",
        "wer_test.txt",
        "save/label_encoder.txt",
    ):
        assert (out / name).is_file(), name
    assert list((out / "save").glob("CKPT+*/CKPT.yaml"))
    rows = (out / "test_hypotheses.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "ID\treference\thypothesis" and len(rows) == USAGE_CORPUS["n_test"] + 1
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["encoder_family"] == "Wav2Vec2Model"
    assert results["parameters"]["vocabulary_size"] == len(
        (out / "save/label_encoder.txt").read_text(encoding="utf-8").split("\n================\n")[0].splitlines()
    )
    assert results["hparams"]["language"] == "es"
    assert results["data"]["splits"]["train"]["utterances"] == USAGE_CORPUS["n_train"]
    assert set(results["versions"]) >= {"torch", "speechbrain", "transformers"}


@pytest.fixture(scope="module")
def uninterrupted_run(small_corpus, tiny_encoders, tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    run_recipe("es", small_corpus, tiny_encoders["wav2vec2"], root, RESUME_EPOCHS, RESUME_OVERRIDES)
    return results_of(root, tiny_encoders["wav2vec2"])


def kill_mid_epoch_from_outside(cmd, save):
    """SIGKILL the run once it is in its second epoch and has an intra-epoch checkpoint there."""
    proc = subprocess.Popen(cmd, cwd=ROOT / "recipes" / "es", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            metas = [p.read_text() for p in save.glob("CKPT+*/CKPT.yaml")] if save.exists() else []
            if any("end-of-epoch: false" in m for m in metas) and any("epoch: 1" in m for m in metas):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    return proc.returncode


def kill_itself_at(point):
    """Run the recipe through tests/helpers/die_at.py, which SIGKILLs it at `point` of epoch 2."""

    def kill(cmd, save):
        del save
        proc = subprocess.run(
            [cmd[0], str(ROOT / "tests" / "helpers" / "die_at.py"), point, "2", *cmd[1:]],
            cwd=ROOT / "recipes" / "es",
            capture_output=True,
            text=True,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stdout[-2000:] + proc.stderr[-2000:]
        return proc.returncode

    return kill


@pytest.mark.parametrize(
    "kill",
    [kill_mid_epoch_from_outside, kill_itself_at("validation"), kill_itself_at("checkpoint_write")],
    ids=["mid-epoch", "during-validation", "during-checkpoint-write"],
)
def test_killed_run_resumes_to_the_same_result(small_corpus, tiny_encoders, tmp_path, uninterrupted_run, kill):
    """A real SIGKILL at several points, then the same command again: it ends where an uninterrupted run does."""
    root = tmp_path / "killed"
    cmd = recipe_command("es", small_corpus, tiny_encoders["wav2vec2"], root, RESUME_EPOCHS, RESUME_OVERRIDES)
    save = run_folder(root, "es", "xlsr-53", 1, tiny_encoders["wav2vec2"]) / "save"
    assert kill(cmd, save) == -signal.SIGKILL
    assert not (save.parent / "results.json").exists()
    run_recipe("es", small_corpus, tiny_encoders["wav2vec2"], root, RESUME_EPOCHS, RESUME_OVERRIDES)
    resumed, uninterrupted = results_of(root, tiny_encoders["wav2vec2"]), uninterrupted_run
    assert resumed["training"]["optimizer_steps"] == uninterrupted["training"]["optimizer_steps"]
    assert resumed["training"]["epochs"] == uninterrupted["training"]["epochs"] == RESUME_EPOCHS
    # The dev scores of the epochs before the kill come from the checkpoint: the record is whole.
    assert [e["epoch"] for e in resumed["training"]["dev_history"]] == list(range(1, RESUME_EPOCHS + 1))
    for got, expected in zip(resumed["training"]["dev_history"], uninterrupted["training"]["dev_history"]):
        assert got["CER"] == expected["CER"] and got["loss"] == pytest.approx(expected["loss"], rel=1e-4)
    # Weights, optimizers, sampler position and RNG states were all restored:
    # the resumed run ends where the uninterrupted one did.
    assert math.isfinite(resumed["metrics"]["test"]["loss"])
    assert resumed["metrics"]["test"]["loss"] == pytest.approx(uninterrupted["metrics"]["test"]["loss"], rel=1e-4)
    assert resumed["metrics"]["test"]["CER"] == uninterrupted["metrics"]["test"]["CER"]


def test_sigterm_checkpoints_and_exits_for_requeue(small_corpus, tiny_encoders, tmp_path):
    cmd = recipe_command("es", small_corpus, tiny_encoders["wav2vec2"], tmp_path, 20, RESUME_OVERRIDES[:1])
    proc = subprocess.Popen(
        cmd, cwd=ROOT / "recipes" / "es", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log = run_folder(tmp_path, "es", "xlsr-53", 1, tiny_encoders["wav2vec2"]) / "train_log.txt"
    deadline = time.time() + 300
    while time.time() < deadline and not (log.exists() and "epoch: 1" in log.read_text()):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, output[-2000:]
    assert "re-run to resume" in output
    metas = [p.read_text() for p in (log.parent / "save").glob("CKPT+*/CKPT.yaml")]
    assert metas, "no checkpoint written on SIGTERM"


@pytest.mark.parametrize(
    "override, message",
    [
        ("--encoder=wav2vec2-huge", "Unknown encoder 'wav2vec2-huge'. Valid names"),
        ("--number_of_epoch=3", "Unknown hparams key(s) 'number_of_epoch' (did you mean number_of_epochs"),
        ("--encoder_source=/does/not/exist", "encoder_source /does/not/exist is not a directory"),
    ],
)
def test_bad_configuration_fails_fast_with_a_clear_message(small_corpus, tmp_path, override, message):
    cmd = recipe_command("es", small_corpus, "/does/not/matter", tmp_path, 1)
    cmd = [c for c in cmd if not c.startswith("--encoder_source")] + [override]
    started = time.time()
    proc = subprocess.run(cmd, cwd=ROOT / "recipes" / "es", capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-2000:]
    assert time.time() - started < 60
    assert not list(tmp_path.rglob("CKPT+*"))


def test_missing_data_folder_fails_before_training(tiny_encoders, tmp_path):
    proc = run_recipe("es", tmp_path / "no_such_corpus", tiny_encoders["wav2vec2"], tmp_path, check=False)
    assert proc.returncode != 0
    assert "does not exist: point it at a Common Voice language folder" in proc.stderr
