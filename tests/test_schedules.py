"""Learning-rate schedules: the rate each optimizer step uses, across warm-up,
decay, encoder freezing, validation and resume, for both protocols."""

import functools
import math
from types import SimpleNamespace

import pytest
import torch
from conftest import CPU_RUN_OPTS, load_cpu_hparams
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.train_logger import FileTrainLogger
from transformers import get_linear_schedule_with_warmup

from crossling_asr.recipe import train_and_test
from crossling_asr.training.brain import CTCBrain
from crossling_asr.training.schedules import NewBobOnValidLoss, WarmupLinearDecay


def fake_brain(
    total_steps=50,
    encoder_lr=3e-4,
    head_lr=1e-3,
    encoder_opt=torch.optim.AdamW,
    head_opt=torch.optim.AdamW,
    encoder_freeze_steps=0,
):
    """The parts of a CTCBrain a schedule uses, optimizers made by CTCBrain's own init_optimizers."""
    brain = SimpleNamespace(
        modules=SimpleNamespace(encoder=torch.nn.Linear(2, 2), head=torch.nn.Linear(2, 2)),
        hparams=SimpleNamespace(
            encoder_optimizer=functools.partial(encoder_opt, lr=encoder_lr),
            head_optimizer=functools.partial(head_opt, lr=head_lr),
            encoder_freeze_steps=encoder_freeze_steps,
        ),
        checkpointer=None,
        optimizer_step=0,
        total_optimizer_steps=total_steps,
    )
    CTCBrain.init_optimizers(brain)
    return brain


def take_steps(schedule, brain, n, seen):
    """n optimizer steps in SpeechBrain's order: the schedule sets the rate, the
    optimizers not frozen step, then the step is counted. Appends (step, lr) seen
    by each optimizer that steps."""
    for _ in range(n):
        schedule.before_optimizer_step(brain)
        for name, opt in CTCBrain.freeze_optimizers(brain, brain.optimizers_dict).items():
            seen.setdefault(name, []).append((brain.optimizer_step, opt.param_groups[0]["lr"]))
            opt.step()
        brain.optimizer_step += 1
    return seen


def lrs(seen, name):
    return [lr for _, lr in seen[name]]


def test_warmup_starts_at_zero_and_the_last_step_is_one_decay_step_above_zero():
    # 50 steps, warmup_ratio 0.1: 5 warm-up steps at 0/5 .. 4/5 of the peak,
    # the peak at step 5, then (50 - s) / 45 of it.
    seen = take_steps(WarmupLinearDecay(0.1), fake_brain(50, encoder_lr=3e-4, head_lr=1e-3), 50, {})
    assert lrs(seen, "encoder")[:6] == pytest.approx([0.0, 6e-5, 1.2e-4, 1.8e-4, 2.4e-4, 3e-4])
    assert lrs(seen, "head")[:6] == pytest.approx([0.0, 2e-4, 4e-4, 6e-4, 8e-4, 1e-3])
    assert seen["encoder"][27] == (27, pytest.approx(3e-4 * 23 / 45))
    assert seen["encoder"][-1] == (49, pytest.approx(3e-4 / 45))
    assert seen["head"][-1] == (49, pytest.approx(1e-3 / 45))


# (total steps, warmup_ratio, warm-up steps counted by hand as ceil(ratio x total))
RUNS = [(50, 0.1, 5), (45, 0.1, 5), (33, 0.1, 4), (12, 0.25, 3), (10, 0.0, 0), (7, 1.0, 7)]


@pytest.mark.parametrize("total, ratio, warmup", RUNS)
def test_a_whole_run_follows_transformers_linear_schedule_with_warmup(total, ratio, warmup):
    seen = take_steps(WarmupLinearDecay(ratio), fake_brain(total, encoder_lr=3e-4, head_lr=1e-3), total, {})
    for name, peak in (("encoder", 3e-4), ("head", 1e-3)):
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=peak)
        hf = get_linear_schedule_with_warmup(opt, num_warmup_steps=warmup, num_training_steps=total)
        expected = []
        for _ in range(total):
            expected.append(opt.param_groups[0]["lr"])
            opt.step()
            hf.step()
        assert [step for step, _ in seen[name]] == list(range(total))
        assert lrs(seen, name) == pytest.approx(expected, rel=1e-12, abs=0)


def test_a_frozen_encoder_joins_at_the_rate_of_the_global_step():
    brain = fake_brain(50, encoder_lr=3e-4, head_lr=1e-3, encoder_freeze_steps=3)
    seen = take_steps(WarmupLinearDecay(0.1), brain, 6, {})
    assert [step for step, _ in seen["head"]] == [0, 1, 2, 3, 4, 5]
    assert seen["encoder"] == [(3, pytest.approx(1.8e-4)), (4, pytest.approx(2.4e-4)), (5, pytest.approx(3e-4))]


def save(tmp_path, brain, schedule):
    """Checkpoint what CTCBrain checkpoints for the schedule: optimizers, schedule, optimizer_step."""
    recoverables = {f"{name}_optimizer": opt for name, opt in brain.optimizers_dict.items()}
    Checkpointer(tmp_path, {**recoverables, "lr_schedule": schedule}).save_checkpoint(
        meta={"optimizer_step": brain.optimizer_step}
    )


def resume(tmp_path, brain, schedule):
    """A fresh process's recovery: fresh objects, then the checkpoint loaded into them."""
    recoverables = {f"{name}_optimizer": opt for name, opt in brain.optimizers_dict.items()}
    ckpt = Checkpointer(tmp_path, {**recoverables, "lr_schedule": schedule}).recover_if_possible()
    brain.optimizer_step = ckpt.meta["optimizer_step"]  # as SpeechBrain's own "brain" recoverable does


def test_a_run_resumed_in_the_warmup_continues_the_same_curve(tmp_path):
    whole = take_steps(WarmupLinearDecay(0.1), fake_brain(50), 50, {})

    first, schedule = fake_brain(50), WarmupLinearDecay(0.1)
    seen = take_steps(schedule, first, 3, {})
    save(tmp_path, first, schedule)
    resumed, schedule = fake_brain(50), WarmupLinearDecay(0.1)
    resume(tmp_path, resumed, schedule)
    take_steps(schedule, resumed, 47, seen)

    assert seen["encoder"][3] == (3, pytest.approx(1.8e-4))
    assert seen == whole


def stock_brain():
    """The stock protocol's optimizers and rates (Adam for the encoder, Adadelta for the head)."""
    return fake_brain(
        10**6,
        encoder_lr=1e-4,
        head_lr=1.0,
        encoder_opt=torch.optim.Adam,
        head_opt=functools.partial(torch.optim.Adadelta, rho=0.95, eps=1e-8),
        encoder_freeze_steps=500,
    )


def stock_schedule():
    return NewBobOnValidLoss({"encoder": 0.9, "head": 0.8}, improvement_threshold=0.0025, patient=0)


def epoch(schedule, brain, dev_loss, steps=2):
    """One epoch of optimizer steps and its validation: ({name: rates seen}, rates logged)."""
    seen = take_steps(schedule, brain, steps, {"encoder": []})
    logged = schedule.on_valid_end(brain, dev_loss)
    return {name: lrs(seen, name) for name in seen}, logged


def test_newbob_starts_at_the_configured_rates_and_anneals_from_the_next_epoch_on():
    brain, schedule = stock_brain(), stock_schedule()
    brain.hparams.encoder_freeze_steps = 0
    configured = {"encoder": 1e-4, "head": 1.0}
    # Dev loss 10 (first: nothing to compare), 9 (10% better), 8.99 (0.11% better: stalled).
    for dev_loss in (10.0, 9.0, 8.99):
        seen, logged = epoch(schedule, brain, dev_loss)
        assert seen == {"encoder": [1e-4, 1e-4], "head": [1.0, 1.0]}
        assert logged == configured
    seen, logged = epoch(schedule, brain, 8.99)  # stalled again
    assert seen["encoder"] == pytest.approx([9e-5, 9e-5]) and seen["head"] == pytest.approx([0.8, 0.8])
    assert logged == pytest.approx({"encoder": 9e-5, "head": 0.8})
    seen, _ = epoch(schedule, brain, 8.0)
    assert seen["encoder"] == pytest.approx([8.1e-5, 8.1e-5]) and seen["head"] == pytest.approx([0.64, 0.64])


def test_newbob_resume_keeps_the_annealed_rates_and_the_loss_history(tmp_path):
    brain, schedule = stock_brain(), stock_schedule()
    for dev_loss in (9.0, 8.99):
        epoch(schedule, brain, dev_loss)  # the second one (0.11% better) anneals
    save(tmp_path, brain, schedule)
    brain, schedule = stock_brain(), stock_schedule()
    resume(tmp_path, brain, schedule)
    for name, annealed, configured in (("encoder", 9e-5, 1e-4), ("head", 0.8, 1.0)):
        group = brain.optimizers_dict[name].param_groups[0]
        assert group["lr"] == pytest.approx(annealed) and group["initial_lr"] == configured
    # 8.98 after 8.99 is a stall only if the restored history holds 8.99.
    seen, logged = epoch(schedule, brain, 8.98)
    assert seen["encoder"] == [] and seen["head"] == pytest.approx([0.8, 0.8])  # encoder frozen till 500
    assert logged == pytest.approx({"encoder": 9e-5, "head": 0.8})
    seen, _ = epoch(schedule, brain, 8.0)
    assert seen["head"] == pytest.approx([0.64, 0.64])


def test_stock_encoder_sits_out_exactly_steps_0_to_499():
    brain, schedule = stock_brain(), stock_schedule()
    seen = take_steps(schedule, brain, 502, {})
    assert [step for step, _ in seen["encoder"]] == [500, 501]
    assert len(seen["head"]) == 502


# ---- the real training loop -----------------------------------------------------


@pytest.fixture(scope="module")
def corpus(make_corpus):
    return make_corpus("es", n_train=16, n_dev=4, n_test=4, seed=3)


def recorded_run(corpus, tiny_encoders, root, monkeypatch, edit=lambda hparams: None, **overrides):
    """A real run (hparams changed by `edit` first), recording (epoch, optimizer step, lr)
    at every optimizer.step() call and the stats_meta of every epoch's train_log line."""
    seen, logged = {}, []
    init_optimizers = CTCBrain.init_optimizers

    def recording_init(brain):
        init_optimizers(brain)
        for name, opt in brain.optimizers_dict.items():

            def step(*args, _step=opt.step, _name=name, _opt=opt, **kwargs):
                epoch_now = brain.hparams.epoch_counter.current
                seen.setdefault(_name, []).append((epoch_now, brain.optimizer_step, _opt.param_groups[0]["lr"]))
                return _step(*args, **kwargs)

            opt.step = step

    log_stats = FileTrainLogger.log_stats

    def recording_log(self, stats_meta, *args, **kwargs):
        if "optimizer_step" in stats_meta:
            logged.append(dict(stats_meta))
        return log_stats(self, stats_meta, *args, **kwargs)

    monkeypatch.setattr(CTCBrain, "init_optimizers", recording_init)
    monkeypatch.setattr(FileTrainLogger, "log_stats", recording_log)
    hparams, merged, report = load_cpu_hparams(corpus, tiny_encoders["wav2vec2"], root, **overrides)
    edit(hparams)
    brain = train_and_test(hparams, CPU_RUN_OPTS, merged, report)
    return brain, seen, logged


def test_real_training_steps_follow_the_warmup_curve_and_the_log_shows_the_last_rate(
    corpus, tiny_encoders, tmp_path, monkeypatch
):
    brain, seen, logged = recorded_run(
        corpus,
        tiny_encoders,
        tmp_path,
        monkeypatch,
        protocol="tuned",
        number_of_epochs=1,
        warmup_ratio=0.5,
        encoder_freeze_steps=1,
        dynamic_batch_sampler="{max_batch_length: 6, num_buckets: 4, max_batch_ex: 4}",
    )
    total = brain.total_optimizer_steps
    assert total >= 4 and len(seen["head"]) == total
    warmup = math.ceil(total * 0.5)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    hf = get_linear_schedule_with_warmup(opt, num_warmup_steps=warmup, num_training_steps=total)
    factors = []
    for _ in range(total):
        factors.append(opt.param_groups[0]["lr"])
        opt.step()
        hf.step()
    peak = 0.003  # the CPU runs' encoder_lr and head_lr
    assert seen["head"] == [(1, s, pytest.approx(peak * factors[s])) for s in range(total)]
    assert seen["head"][0][2] == 0.0
    assert seen["encoder"] == [(1, s, pytest.approx(peak * factors[s])) for s in range(1, total)]
    assert logged == [
        {"epoch": 1, "optimizer_step": total, "lr_encoder": seen["encoder"][-1][2], "lr_head": seen["head"][-1][2]}
    ]


def test_real_stock_run_freezes_the_encoder_by_global_step_and_logs_each_epochs_rates(
    corpus, tiny_encoders, tmp_path, monkeypatch
):
    def every_epoch_stalls(hparams):
        hparams["lr_schedule"].improvement_threshold = 1.0

    # 16 clips in fixed batches of 12: 2 optimizer steps per epoch, so the
    # encoder (frozen for 3 steps) first steps on the second batch of epoch 2.
    _, seen, logged = recorded_run(
        corpus,
        tiny_encoders,
        tmp_path,
        monkeypatch,
        edit=every_epoch_stalls,
        protocol="stock",
        number_of_epochs=3,
        encoder_freeze_steps=3,
    )
    assert [(e, s) for e, s, _ in seen["head"]] == [(1, 0), (1, 1), (2, 2), (2, 3), (3, 4), (3, 5)]
    assert [(e, s) for e, s, _ in seen["encoder"]] == [(2, 3), (3, 4), (3, 5)]
    # The first validation only records its loss; the second anneals (x0.9, x0.8) for epoch 3.
    expected = {"encoder": {1: 0.003, 2: 0.003, 3: 0.0027}, "head": {1: 0.003, 2: 0.003, 3: 0.0024}}
    for name in ("encoder", "head"):
        for e, _, lr in seen[name]:
            assert lr == pytest.approx(expected[name][e])
        assert [meta[f"lr_{name}"] for meta in logged] == pytest.approx([expected[name][e] for e in (1, 2, 3)])
