"""Faults during training: non-finite losses, out-of-memory batches, kills during a checkpoint
write, bf16 and determinism — none may lose work or give a silently wrong result."""

import json
import multiprocessing
import os

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from crossling_asr.model.heads import CTCHead
from crossling_asr.recipe import train_and_test
from crossling_asr.training.brain import CTCBrain
from crossling_asr.training.checkpoints import AtomicCheckpointer
from tests.helpers.recipes import CPU_RUN_OPTS, load_cpu_hparams, run_folder


@pytest.fixture(scope="module")
def corpus(make_corpus):
    return make_corpus("es", n_train=16, n_dev=4, n_test=4, seed=3)


def run(corpus, tiny_encoders, root, **overrides):
    overrides.setdefault("dynamic_batch_sampler", "{max_batch_length: 6, num_buckets: 4, max_batch_ex: 4}")
    overrides.setdefault("batch_size", 4)  # the study's length-grouped batches: 4 steps an epoch
    hparams, merged, report = load_cpu_hparams(corpus, tiny_encoders["wav2vec2"], root, **overrides)
    brain = train_and_test(hparams, CPU_RUN_OPTS, merged, report)
    seed = overrides.get("seed", 1)
    folder = run_folder(root, "es", "xlsr-53", seed, tiny_encoders["wav2vec2"])
    return brain, json.loads((folder / "results.json").read_text())


def failing_after(method, fail, calls):
    """Wrap a Brain method so that `fail()` replaces the training calls numbered in `calls`."""
    counter = {"n": 0}

    def wrapped(self, *args, **kwargs):
        stage = args[-1] if args else kwargs.get("stage")
        if str(stage) == "Stage.TRAIN":
            counter["n"] += 1
            if counter["n"] in calls:
                return fail(self, method, *args, **kwargs)
        return method(self, *args, **kwargs)

    return wrapped


def test_nonfinite_losses_are_skipped_and_counted(corpus, tiny_encoders, tmp_path, monkeypatch):
    def nan_loss(self, method, *args, **kwargs):
        return method(self, *args, **kwargs) * float("nan")

    monkeypatch.setattr(CTCBrain, "compute_objectives", failing_after(CTCBrain.compute_objectives, nan_loss, {1, 2}))
    brain, results = run(corpus, tiny_encoders, tmp_path, number_of_epochs=1)
    batches = len(brain.train_sampler)
    assert results["training"]["skipped_nonfinite_batches"] == 2
    assert results["training"]["optimizer_steps"] == batches - 2
    for name, param in brain.modules.named_parameters():
        assert torch.isfinite(param).all(), name


def test_a_run_of_nonfinite_losses_stops_training_with_a_clear_error(corpus, tiny_encoders, tmp_path, monkeypatch):
    def nan_loss(self, method, *args, **kwargs):
        return method(self, *args, **kwargs) * float("inf")

    monkeypatch.setattr(
        CTCBrain, "compute_objectives", failing_after(CTCBrain.compute_objectives, nan_loss, set(range(1, 100)))
    )
    with pytest.raises(RuntimeError, match="4 batches in a row had a non-finite loss"):
        run(corpus, tiny_encoders, tmp_path, number_of_epochs=1, max_consecutive_nonfinite=3)


def test_out_of_memory_batch_is_skipped_and_training_continues(corpus, tiny_encoders, tmp_path, monkeypatch):
    def oom(self, method, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(CTCBrain, "compute_forward", failing_after(CTCBrain.compute_forward, oom, {2}))
    brain, results = run(corpus, tiny_encoders, tmp_path, number_of_epochs=1)
    assert results["training"]["skipped_oom_batches"] == 1
    assert results["training"]["optimizer_steps"] == len(brain.train_sampler) - 1
    assert results["status"] == "finished"


def test_same_seed_same_data_gives_identical_results(corpus, tiny_encoders, tmp_path):
    _, first = run(corpus, tiny_encoders, tmp_path / "a", number_of_epochs=2)
    _, second = run(corpus, tiny_encoders, tmp_path / "b", number_of_epochs=2)
    assert first["training"]["dev_history"] == second["training"]["dev_history"]
    assert first["metrics"]["test"] == second["metrics"]["test"]
    _, other_seed = run(corpus, tiny_encoders, tmp_path / "c", number_of_epochs=2, seed=2)
    assert other_seed["training"]["dev_history"] != first["training"]["dev_history"]


class Weights(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.w = torch.nn.Parameter(torch.full((4,), float(value)))


def _save_and_die(directory):
    """Child process: start a checkpoint save and die inside it, like a SIGKILL."""
    checkpointer = AtomicCheckpointer(directory, recoverables={"a": Weights(2)})
    checkpointer.add_recoverable("b", Weights(2), custom_save_hook=lambda obj, path: os._exit(9))
    checkpointer.save_checkpoint(meta={"step": 2})


@pytest.mark.slow  # kills real checkpoint-writing processes
def test_a_kill_during_a_checkpoint_write_never_leaves_a_loadable_half(tmp_path):
    AtomicCheckpointer(tmp_path, recoverables={"a": Weights(1), "b": Weights(1)}).save_checkpoint(meta={"step": 1})
    child = multiprocessing.get_context("spawn").Process(target=_save_and_die, args=(tmp_path,))
    child.start()
    child.join()
    assert child.exitcode == 9
    a, b = Weights(0), Weights(0)
    # Even SpeechBrain's plain Checkpointer sees only the complete first checkpoint.
    for cls in (Checkpointer, AtomicCheckpointer):
        ckpt = cls(tmp_path, recoverables={"a": a, "b": b}).recover_if_possible()
        assert ckpt.meta["step"] == 1
        assert torch.equal(a.w, torch.ones(4)) and torch.equal(b.w, torch.ones(4))
    # The next save cleans the staging leftovers and lands complete.
    AtomicCheckpointer(tmp_path, recoverables={"a": Weights(3), "b": Weights(3)}).save_checkpoint(meta={"step": 3})
    assert sorted(c.meta["step"] for c in Checkpointer(tmp_path).list_checkpoints()) == [1, 3]
    assert not any((tmp_path / ".staging").iterdir())


def test_bf16_mixed_precision_trains_with_the_ctc_loss_in_fp32(corpus, tiny_encoders, tmp_path, monkeypatch):
    """--precision=bf16: in training the encoder and head run under autocast, the
    log-softmax and the CTC loss in fp32 (bf16 CTC sums lose whole nats), weights
    and optimizer state stay fp32; dev and test run at SpeechBrain's eval_precision
    (fp32 unless --eval_precision=bf16)."""
    seen = {"head": set(), "eval_head": set(), "log_probs": set()}
    head_forward = CTCHead.forward
    compute_objectives = CTCBrain.compute_objectives

    def spy_head(self, x, lengths=None):
        out = head_forward(self, x, lengths)
        seen["head" if torch.is_grad_enabled() else "eval_head"].add(out.dtype)
        return out

    def spy_objectives(self, predictions, batch, stage):
        seen["log_probs"].add(predictions[0].dtype)
        return compute_objectives(self, predictions, batch, stage)

    monkeypatch.setattr(CTCHead, "forward", spy_head)
    monkeypatch.setattr(CTCBrain, "compute_objectives", spy_objectives)
    brain, results = run(corpus, tiny_encoders, tmp_path, number_of_epochs=2, precision="bf16")
    assert seen == {"head": {torch.bfloat16}, "eval_head": {torch.float32}, "log_probs": {torch.float32}}
    assert results["status"] == "finished" and results["hparams"]["precision"] == "bf16"
    assert results["training"]["skipped_nonfinite_batches"] == 0
    assert all(torch.isfinite(torch.tensor(epoch["loss"])) for epoch in results["training"]["dev_history"])
    assert {p.dtype for p in brain.modules.parameters()} == {torch.float32}
    states = [s for opt in brain.optimizers_dict.values() for s in opt.state.values()]
    assert states and {s["exp_avg"].dtype for s in states} == {torch.float32}
