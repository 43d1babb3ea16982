"""Dynamic batching and gradient checkpointing: correctness only (no timings)."""

import random

import pytest
import speechbrain as sb
import torch

from crossling_asr.data.datasets import RankShardSampler, make_dynamic_batch_sampler, quantile_boundaries
from crossling_asr.model.encoders import build_encoder, resolve_encoder


def durations_dataset(n, seed=0):
    """A dataset of `n` items with Common Voice-like durations (1-10 s, mode ~4 s)."""
    rng = random.Random(seed)
    data = {f"u{i}": {"duration": min(10.0, max(1.0, rng.lognormvariate(1.4, 0.35)))} for i in range(n)}
    return sb.dataio.dataset.DynamicItemDataset(data)


def make_sampler(dataset, max_batch_length=60.0, num_buckets=20, seed=1):
    return make_dynamic_batch_sampler(dataset, max_batch_length, num_buckets, seed)


def test_dynamic_batches_cover_every_utterance_once_per_epoch_within_the_limit():
    dataset = durations_dataset(500)
    durations = {item: dataset.data[item]["duration"] for item in dataset.data_ids}
    sampler = make_sampler(dataset)
    orders = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        ids = [dataset.data_ids[i] for batch in batches for i in batch]
        assert sorted(ids) == sorted(dataset.data_ids)  # each exactly once
        for batch in batches:
            padded = len(batch) * max(durations[dataset.data_ids[i]] for i in batch)
            assert padded <= 60.0 + 1e-6
        orders.append(ids)
    assert orders[0] != orders[1] != orders[2]  # reshuffled between epochs


def test_bucket_boundaries_are_length_quantiles_just_above_the_value():
    # 10 lengths, 5 buckets: upper bounds at sorted positions 2, 4, 6, 8 and the last (9),
    # each 1 ms above its value so that the value itself falls inside the bucket.
    lengths = [7.0, 1.0, 10.0, 3.0, 5.0, 2.0, 9.0, 4.0, 8.0, 6.0]
    assert quantile_boundaries(lengths, 5) == pytest.approx([3.001, 5.001, 7.001, 9.001, 10.001])


def test_bucket_boundaries_of_repeated_lengths_are_merged():
    # Six clips of 2 s and two of 4.5 s in 4 buckets: positions 2, 4, 6 and 7 hold 2, 2, 4.5, 4.5.
    assert quantile_boundaries([2.0] * 6 + [4.5, 4.5], 4) == pytest.approx([2.001, 4.501])


@pytest.mark.parametrize("num_items, world_size", [(10, 2), (7, 3), (2, 4), (0, 2)])
def test_rank_shards_hold_every_dev_item_exactly_once(num_items, world_size):
    shards = [list(RankShardSampler(num_items, rank, world_size)) for rank in range(world_size)]
    assert sorted(i for shard in shards for i in shard) == list(range(num_items))
    assert all(shard == sorted(shard) for shard in shards)  # dataset (duration) order kept
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_dynamic_batches_pad_little():
    dataset = durations_dataset(2000)
    durations = [dataset.data[i]["duration"] for i in dataset.data_ids]  # sampler yields positions
    sampler = make_sampler(dataset, max_batch_length=200.0, num_buckets=40)
    sampler.set_epoch(0)
    real = padded = 0.0
    for batch in sampler:
        longest = max(durations[i] for i in batch)
        real += sum(durations[i] for i in batch)
        padded += len(batch) * longest
    assert 1 - real / padded < 0.05


@pytest.mark.parametrize("model_type", ["wav2vec2", "wavlm"])
def test_gradient_checkpointing_gives_the_same_loss_and_gradients(model_type, tiny_encoders, tmp_path):
    torch.manual_seed(0)
    wavs, lens = torch.randn(2, 16000), torch.tensor([1.0, 0.7])
    results = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        name = "xlsr-53" if model_type == "wav2vec2" else "wavlm-large"
        encoder = build_encoder(
            resolve_encoder(name, tiny_encoders[model_type]),
            tmp_path / str(checkpointing),
            config_overrides={
                "layerdrop": 0.0,
                "hidden_dropout": 0.0,
                "attention_dropout": 0.0,
                "activation_dropout": 0.0,
                "feat_proj_dropout": 0.0,
                "mask_time_prob": 0.0,
            },
            gradient_checkpointing=checkpointing,
        )
        encoder.train()
        saved = []  # bytes of the activations autograd keeps for the backward pass
        with torch.autograd.graph.saved_tensors_hooks(lambda t, saved=saved: saved.append(t.nbytes) or t, lambda t: t):
            loss = encoder(wavs, lens).pow(2).mean()
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in encoder.parameters() if p.grad is not None])
        results.append((loss.item(), grads, sum(saved)))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
    assert torch.allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-6)
    # ... and checkpointing is really on: the transformer layers' activations are not kept.
    assert results[1][2] < 0.5 * results[0][2]


def test_decode_batches_are_longest_first_within_padded_seconds_and_size():
    from types import SimpleNamespace

    from crossling_asr.decoding.batches import plan_batches

    clips = [SimpleNamespace(duration=d) for d in (1.0, 5.0, 2.0, 4.0, 3.0)]
    # Longest first: 5 s alone (2 x 5 s > 9 s padded), 4 s + 3 s (8 s), then the size bound of 2 cuts: 2 s + 1 s.
    assert plan_batches(clips, max_batch_seconds=9.0, max_batch_size=2) == [[1], [3, 4], [2, 0]]
    # A clip longer than the bound still gets a batch of its own.
    assert plan_batches([SimpleNamespace(duration=12.0)], max_batch_seconds=9.0, max_batch_size=2) == [[0]]
