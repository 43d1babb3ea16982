"""Datasets, CTC vocabulary and batching from prepared manifests.

Audio is read from the 16 kHz WAV (or FLAC) files written once by data preparation:
no MP3 decoding and no resampling happen per item, per epoch.
"""

from __future__ import annotations

import csv
import logging
import random
from collections.abc import Callable
from pathlib import Path

import soundfile as sf
import speechbrain as sb
import torch
from speechbrain.dataio.encoder import CTCTextEncoder
from speechbrain.dataio.sampler import DynamicBatchSampler
from transformers.trainer_pt_utils import LengthGroupedSampler

logger = logging.getLogger(__name__)

BLANK = "<blank>"
UNK = "<unk>"
WORD_DELIMITER = " "  # the vocabulary's word delimiter (HuggingSound's "|"): transcripts' own space


def read_audio(path: str | Path) -> torch.Tensor:
    """A 16 kHz mono FLAC/WAV as a float32 tensor (no resampling: prep did it)."""
    audio, _ = sf.read(path, dtype="float32")
    return torch.from_numpy(audio)


def build_tokenizer(train_csv: str | Path, path: str | Path, word_delimiter: bool = False) -> CTCTextEncoder:
    """The character CTC vocabulary of the training transcripts, saved at `path`.

    Index 0 is the CTC blank; characters that occur in dev/test but not in
    training map to <unk> (for the loss only: scoring uses the raw text).
    `word_delimiter`: the delimiter is in the vocabulary even when no transcript
    has one (targets end with it: append_word_delimiter; HuggingSound's TokenSet
    always holds its silence token "|").
    Loads the saved file when it exists, so every rank and every later
    decoding uses exactly the vocabulary the head was built for.
    """
    path = Path(path)
    encoder = CTCTextEncoder()
    if encoder.load_if_possible(path):
        return encoder
    with open(train_csv, encoding="utf-8", newline="") as f:
        chars = {ch for row in csv.DictReader(f) for ch in row["wrd"]}
    chars = sorted(chars | {WORD_DELIMITER} if word_delimiter and chars else chars)
    if not chars:
        raise ValueError(f"{train_csv} has no transcripts to build a vocabulary from")
    encoder.insert_blank(BLANK, index=0)
    encoder.update_from_iterable(chars, sequence_input=False)
    encoder.add_unk(UNK)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder.save(path)
    return encoder


def decode_text(tokenizer: CTCTextEncoder, ids: list[int]) -> str:
    """Token ids (blank-free) to a string; <unk> decodes to nothing; spaces collapsed
    and trimmed like references, so a stray space never counts as an error."""
    return " ".join("".join(ch for ch in tokenizer.decode_ndim(ids) if ch != UNK).split())


def check_train_hours(train_hours: float | None) -> None:
    """Refuse at start-up a training budget that is not a positive number of hours (or null)."""
    if train_hours is None:
        return
    if isinstance(train_hours, bool) or not isinstance(train_hours, (int, float)) or not train_hours > 0:
        raise ValueError(f"train_hours: {train_hours!r}: expected a positive number of hours, or null for all")


def budget_subset(rows: list[dict], hours: float, language: str, seed: int) -> list[dict]:
    """IDs of a random subset of the training manifest with at most `hours` of audio.

    `rows` are (utterance id, duration in seconds). The order clips are drawn
    in depends only on (language, seed) and the manifest: the IDs are sorted
    (the manifest's row order does not matter), then shuffled by a generator
    seeded with the language and seed, never with the encoder, so every
    encoder of a language and seed trains on the same clips. Clips are taken
    in that order until the next would exceed the budget: the subset's
    duration is at most the budget and short of it by less than one clip.
    """
    order = sorted(rows)
    random.Random(f"train_hours:{language}:{seed}").shuffle(order)
    budget, total, kept = hours * 3600.0, 0.0, []
    for utt_id, duration in order:
        if total + duration > budget:
            break
        kept.append(utt_id)
        total += duration
    return kept


def split_summary(dataset: sb.dataio.dataset.DynamicItemDataset) -> dict:
    """{utterances, hours} of a dataset as it is used (after any training budget)."""
    seconds = sum(float(dataset.data[i]["duration"]) for i in dataset.data_ids)
    return {"utterances": len(dataset), "hours": round(seconds / 3600, 4)}


def make_datasets(hparams: dict, tokenizer: CTCTextEncoder) -> dict[str, sb.dataio.dataset.DynamicItemDataset]:
    """Train/dev/test DynamicItemDatasets with audio and token pipelines.

    With `train_hours` set, training uses a seeded subset of that many hours
    of the training manifest (budget_subset); dev and test are always whole.
    """
    datasets = {}
    for split in ("train", "dev", "test"):
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=hparams[f"{split}_csv"], replacements={"data_root": hparams["prep_folder"]}
        )
    if hparams["train_hours"] is not None:
        train = datasets["train"]
        rows = [(i, float(train.data[i]["duration"])) for i in train.data_ids]
        keep = set(budget_subset(rows, hparams["train_hours"], hparams["language"], hparams["seed"]))
        datasets["train"] = train.filtered_sorted(key_test={"id": lambda utt_id: utt_id in keep})
        used = split_summary(datasets["train"])
        logger.info(
            "train_hours %s: training on %d of %d utterances, %.3f h",
            hparams["train_hours"],
            used["utterances"],
            len(train),
            used["hours"],
        )
        if len(keep) == len(rows):
            logger.warning(
                "train_hours %s is more than the training manifest holds (%.3f h): all of it is used",
                hparams["train_hours"],
                used["hours"],
            )
    if hparams["sorting"] in ("ascending", "descending"):
        datasets["train"] = datasets["train"].filtered_sorted(
            sort_key="duration", reverse=hparams["sorting"] == "descending"
        )
    for split in ("dev", "test"):
        datasets[split] = datasets[split].filtered_sorted(sort_key="duration", reverse=True)

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return read_audio(wav)

    # HuggingSound 0.1.6 ends every training label with the word delimiter (SpeechRecognitionModel.
    # _prepare_dataset_for_finetuning: `text_normalizer(sample["transcription"]) + " "`).
    ending = WORD_DELIMITER if hparams["append_word_delimiter"] else ""

    @sb.utils.data_pipeline.takes("wrd")
    @sb.utils.data_pipeline.provides("tokens")
    def text_pipeline(wrd):
        return tokenizer.encode_sequence_torch(list(wrd + ending), allow_unk=True)

    items = list(datasets.values())
    sb.dataio.dataset.add_dynamic_item(items, audio_pipeline)
    sb.dataio.dataset.add_dynamic_item(items, text_pipeline)
    sb.dataio.dataset.set_output_keys(items, ["id", "sig", "tokens", "wrd"])
    return datasets


def use_cached_features(
    datasets: dict[str, sb.dataio.dataset.DynamicItemDataset], load_features: Callable[[str], torch.Tensor]
) -> None:
    """Make the datasets give `feats` (an utterance's cached hidden states,
    (time, states, hidden), from `load_features(id)`) instead of audio."""

    @sb.utils.data_pipeline.takes("id")
    @sb.utils.data_pipeline.provides("feats")
    def feature_pipeline(utt_id):
        return load_features(utt_id)

    items = list(datasets.values())
    sb.dataio.dataset.add_dynamic_item(items, feature_pipeline)
    sb.dataio.dataset.set_output_keys(items, ["id", "feats", "tokens", "wrd"])


def quantile_boundaries(lengths: list[float], num_buckets: int) -> list[float]:
    """Bucket upper bounds at equal-count quantiles of the lengths.

    SpeechBrain's default boundaries are spaced by a fixed warping of the
    range, which on Common Voice-like durations leaves ~14% of a batch as
    padding; equal-count buckets of similar durations leave ~2%.
    """
    ordered = sorted(lengths)
    bounds = {ordered[min(len(ordered) - 1, (len(ordered) * (k + 1)) // num_buckets)] for k in range(num_buckets)}
    return sorted({round(b, 3) + 1e-3 for b in bounds})


def make_dynamic_batch_sampler(
    dataset: sb.dataio.dataset.DynamicItemDataset,
    max_batch_length: float,
    num_buckets: int,
    seed: int,
    max_batch_ex: int | None = None,
) -> DynamicBatchSampler:
    """Batches of similar durations, at most `max_batch_length` seconds once padded,
    in a new random order every epoch (after set_epoch)."""
    lengths = [float(dataset.data[i]["duration"]) for i in dataset.data_ids]
    return DynamicBatchSampler(
        dataset,
        max_batch_length=max_batch_length,
        bucket_boundaries=quantile_boundaries(lengths, num_buckets),
        lengths_list=lengths,
        shuffle=True,
        batch_ordering="random",
        max_batch_ex=max_batch_ex,
        seed=seed,
    )


class LengthGroupedBatchSampler(torch.utils.data.Sampler):
    """Batches of `batch_size` utterances in the order of transformers' LengthGroupedSampler.

    The Trainer's group_by_length batching, which HuggingSound 0.1.6 turns on
    (TrainingArguments.group_by_length=True, per_device_train_batch_size=8): each epoch the
    sampler permutes the utterances, sorts megabatches of up to 50 batches by length and puts
    the longest batch first; consecutive runs of `batch_size` indices are the batches (the last
    one may be short, as the Trainer's DataLoader keeps it). The permutation of epoch `e` is
    drawn from a generator seeded with `seed + e` (set_epoch), as transformers'
    DistributedLengthGroupedSampler seeds it, so a resumed run replays the same batches; under
    DDP SpeechBrain's DistributedSamplerWrapper hands every rank its share of these batches.
    A batch sampler of its own because LengthGroupedSampler yields indices, not batches, and
    takes its randomness from a generator rather than an epoch.
    """

    def __init__(self, lengths, batch_size, seed):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        sampler = LengthGroupedSampler(self.batch_size, lengths=self.lengths, generator=generator)
        yield from torch.utils.data.BatchSampler(sampler, self.batch_size, drop_last=False)

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)


class RankShardSampler(torch.utils.data.Sampler):
    """Every `world_size`-th item from `rank` on, in dataset order: the ranks of a
    DDP run decode disjoint shards of dev/test that together hold every item once
    (no padding by repetition, unlike DistributedSampler, which would count some
    utterances twice in the scores)."""

    def __init__(self, num_items, rank, world_size):
        self.indices = range(rank, num_items, world_size)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


def train_loader_kwargs(hparams: dict, train_set: sb.dataio.dataset.DynamicItemDataset) -> dict:
    """DataLoader options for training: dynamic batches by total duration, length-grouped
    batches of a fixed number of utterances, or fixed-size batches in the dataset's order.

    Dynamic batching buckets utterances of similar duration (little padding)
    and shuffles the batches every epoch; its `max_batch_length` bounds the
    seconds of audio in a batch, which bounds memory on long clips.
    `group_by_length` (with random sorting): LengthGroupedBatchSampler's batches.
    """
    options = dict(hparams["train_dataloader_options"])
    # Workers that outlive an epoch: no process start-up cost every epoch.
    options["persistent_workers"] = options.get("num_workers", 0) > 0
    # The loader draws its workers' base seed when an epoch's iteration starts. From the global RNG,
    # that draw would fall before a resumed run restores the RNG state of an intra-epoch checkpoint
    # but after it in the uninterrupted run, and dropout would then differ: a generator of its own
    # leaves the global RNG to the model.
    options["generator"] = torch.Generator().manual_seed(hparams["seed"])
    if hparams["dynamic_batching"]:
        options.pop("batch_size", None)
        options.pop("shuffle", None)
        options["batch_sampler"] = make_dynamic_batch_sampler(
            train_set, seed=hparams["seed"], **hparams["dynamic_batch_sampler"]
        )
    elif hparams["group_by_length"]:
        if hparams["sorting"] != "random":
            raise ValueError(f"group_by_length: True orders the batches itself; sorting: {hparams['sorting']!r}")
        options.pop("shuffle", None)
        lengths = [float(train_set.data[i]["duration"]) for i in train_set.data_ids]
        options["batch_sampler"] = LengthGroupedBatchSampler(lengths, options.pop("batch_size"), seed=hparams["seed"])
    elif hparams["sorting"] != "random":
        options["shuffle"] = False
    return options
