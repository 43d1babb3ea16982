"""Learning-rate schedules in the real training loop: the warm-up curve step by step, and the stock
protocol's encoder freezing by global step, as the training log shows them."""

import math

import pytest
import torch
from speechbrain.utils.train_logger import FileTrainLogger
from transformers import get_linear_schedule_with_warmup

from crossling_asr.recipe import train_and_test
from crossling_asr.training.brain import CTCBrain
from tests.helpers.recipes import CPU_RUN_OPTS, load_cpu_hparams


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
