"""Datasets: dynamic batches, bucket boundaries, rank shards, the training-hours budget subset."""

import random

import pytest
import speechbrain as sb

from crossling_asr.data.datasets import (
    RankShardSampler,
    budget_subset,
    check_train_hours,
    make_dynamic_batch_sampler,
    quantile_boundaries,
)


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


def test_budget_subset_is_within_one_clip_and_seeded_by_language_and_seed_only():
    durations = [1.0 + (7 * k % 13) / 4 for k in range(200)]  # 1 s .. 4 s
    rows = [(f"utt{k:03d}", d) for k, d in enumerate(durations)]
    budget_hours = 0.05  # 180 s of ~500 s
    chosen = budget_subset(rows, budget_hours, "es", 1)
    seconds = sum(dict(rows)[i] for i in chosen)
    assert seconds <= budget_hours * 3600 < seconds + max(durations)
    assert len(set(chosen)) == len(chosen)
    # The manifest's row order does not matter; seed and language do.
    assert budget_subset(list(reversed(rows)), budget_hours, "es", 1) == chosen
    assert set(budget_subset(rows, budget_hours, "es", 2)) != set(chosen)
    assert set(budget_subset(rows, budget_hours, "de", 1)) != set(chosen)
    # A budget above the manifest takes all of it.
    assert sorted(budget_subset(rows, 10.0, "es", 1)) == [r[0] for r in rows]


@pytest.mark.parametrize("value", [0, -1.5, "ten", True])
def test_train_hours_must_be_a_positive_number_or_null(value):
    check_train_hours(None)
    check_train_hours(2.5)
    with pytest.raises(ValueError, match="positive number of hours"):
        check_train_hours(value)
