"""A real `study` run follows HuggingSound 0.1.6's loop end to end: constant rate at every
optimizer step, batches of 8 utterances in transformers' length-grouped order, targets ending
with the word delimiter, and the last epoch's checkpoint is the one tested and exported."""

import json

import torch
from speechbrain.utils.checkpoints import Checkpointer
from transformers.trainer_pt_utils import LengthGroupedSampler

from crossling_asr.data.datasets import make_datasets
from crossling_asr.model.trained_model import load_finished_run
from crossling_asr.recipe import train_and_test
from crossling_asr.training.brain import CTCBrain
from tests.helpers.recipes import CPU_RUN_OPTS, load_cpu_hparams


def test_study_run_keeps_the_rate_batches_targets_and_tests_the_last_checkpoint(
    make_corpus, tiny_encoders, tmp_path, monkeypatch
):
    corpus = make_corpus("es", n_train=20, n_dev=4, n_test=4, seed=3)
    rates, batches = [], []
    fit_batch = CTCBrain.fit_batch

    def recording_fit_batch(brain, batch):
        batches.append((brain.hparams.epoch_counter.current, list(batch.id), batch.tokens))
        loss = fit_batch(brain, batch)
        rates.append({name: opt.param_groups[0]["lr"] for name, opt in brain.optimizers_dict.items()})
        return loss

    recovered = []
    recover = Checkpointer.recover_if_possible

    def recording_recover(self, *args, **kwargs):
        checkpoint = recover(self, *args, **kwargs)
        recovered.append(checkpoint)
        return checkpoint

    monkeypatch.setattr(CTCBrain, "fit_batch", recording_fit_batch)
    monkeypatch.setattr(Checkpointer, "recover_if_possible", recording_recover)
    hparams, merged, report = load_cpu_hparams(corpus, tiny_encoders["wav2vec2"], tmp_path, number_of_epochs=2)
    brain = train_and_test(hparams, CPU_RUN_OPTS, merged, report)

    # the rate: cpu_tiny's 0.003 at the first, a middle and the last optimizer step (no warm-up, no decay)
    assert len(rates) == 2 * 3  # 20 clips in batches of 8: 8, 8, 4 per epoch
    for step in (0, len(rates) // 2, len(rates) - 1):
        assert rates[step] == {"encoder": 0.003, "head": 0.003}

    # the batches: transformers' LengthGroupedSampler order, seeded seed + epoch, 8 at a time
    train = make_datasets(hparams, brain.tokenizer)["train"]
    lengths = [float(train.data[i]["duration"]) for i in train.data_ids]
    for epoch in (1, 2):
        generator = torch.Generator()
        generator.manual_seed(hparams["seed"] + epoch)
        order = [train.data_ids[i] for i in LengthGroupedSampler(8, lengths=lengths, generator=generator)]
        expected = [order[i : i + 8] for i in range(0, len(order), 8)]
        assert [ids for e, ids, _ in batches if e == epoch] == expected

    # the targets: every one ends with the word delimiter
    space = brain.tokenizer.lab2ind[" "]
    for _, _, (tokens, lens) in batches:
        ends = (lens * tokens.shape[1]).round().long() - 1
        assert tokens[torch.arange(len(tokens)), ends].tolist() == [space] * len(tokens)

    # the model tested: the last epoch's checkpoint (the only one kept), whatever dev said
    with open(hparams["results_file"], encoding="utf-8") as f:
        results = json.load(f)
    assert results["metrics"]["dev_selected"]["selection"] == "last"
    assert results["metrics"]["dev_selected"]["epoch"] == 2
    assert results["metrics"]["dev_selected"]["CER"] == results["training"]["dev_history"][-1]["CER"]
    tested = recovered[-1]
    assert tested is not None and tested.meta["epoch"] == 2
    kept = Checkpointer(hparams["save_folder"]).list_checkpoints()
    assert [c.meta["epoch"] for c in kept] == [2]
    assert load_finished_run(hparams["output_folder"]).checkpoint == tested.path
