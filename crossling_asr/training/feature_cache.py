"""Cached hidden states of a frozen encoder, so a probe pays for the encoder once.

With the encoder frozen (the probe protocol) its hidden states never change:
`probe_feature_cache: run | language` computes every hidden state of every
utterance once (fp16) and later epochs, resumed attempts and (with
`language`) other seeds and other probes of the same encoder read them back,
paying only for the layer weights and the head. `none` runs the encoder's
forward pass every epoch.

Where (one folder per cache key):

    run:       <output_folder>/feature_cache/<encoder>-<key digest>/
    language:  <prep_folder>/feature_cache/<encoder>-<key digest>/
        cache_key.json          what the key digest is made of (see cache_key)
        manifest.json           {entries: {utterance id: {frames, samples, crc32}}}
        entries/ab/<sha1 of id>.safetensors   (time, states, hidden) fp16, and in its
                                metadata the id, sample count and CRC-32 of the data
        .lock                   flock held while a run checks and fills the cache

The key is everything that changes the features: encoder name and source, a
hash of its weights (so the random no-pretraining baseline of another seed
gets its own cache), its config after overrides, the waveform normalisation
and attention-mask settings, the precision they are computed in, the sample
rate and the hidden-state shape. Text rules and other prep options are not
in it: an utterance's audio does not depend on them.

Trust: every entry is written atomically (a reader never sees half of one)
and carries its own checksum. At start-up, under the lock, every entry the
run needs is read and checked (present, readable, the right id, shape and
sample count, CRC-32 equal to its own metadata and to the manifest); entries
that fail are recomputed, never used, and counted in the log and in
results.json. A fill that was killed loses nothing: entries already written
check out and are kept even before the manifest lists them. Entries are
checked again as they are loaded for training, and a mismatch then stops the
run with the file to blame. The free disk space is checked against an
estimate before anything is computed.

Cost: all states of wav2vec2-large are 50 frames/s x 25 x 1024 x 2 bytes =
2.56 MB per second of audio (9.2 GB per hour). Reading that back is cheaper
than the encoder on a CPU or a small GPU; a large GPU may compute the
forward pass faster than a disk delivers it (see docs/probes.md), hence `none` as
the default.
"""

import concurrent.futures
import hashlib
import json
import logging
import math
import shutil
import time
import zlib
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.distributed import ddp_barrier, if_main_process

from crossling_asr.atomic import atomic_path, write_json
from crossling_asr.locks import exclusive

logger = logging.getLogger(__name__)

CACHE_MODES = ("none", "run", "language")
FORMAT_VERSION = 1
BYTES_PER_VALUE = 2  # fp16
TENSOR_NAME = "states"
KEY_FILE = "cache_key.json"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".lock"
CHECK_THREADS = 8
MISSING = "missing"


class FeatureCacheError(RuntimeError):
    """A feature cache that cannot be used or filled, with what to do about it."""


def check_cache_settings(hparams):
    """Refuse at start-up a cache setting that cannot work (before data preparation)."""
    mode = hparams["probe_feature_cache"]
    if mode not in CACHE_MODES:
        raise ValueError(f"probe_feature_cache: {mode!r}: expected one of {', '.join(CACHE_MODES)}")
    if mode == "none":
        return
    if not hparams["freeze_encoder"]:
        raise ValueError(
            f"probe_feature_cache: {mode} needs a frozen encoder (a trained one's features change every "
            "step): use --protocol=probe or --freeze_encoder=True, or probe_feature_cache: none"
        )
    if hparams["wav_augment"] is not None:
        raise ValueError(
            f"probe_feature_cache: {mode} cannot be used with wav_augment (the augmented audio, and so "
            "its features, change every epoch): set wav_augment: null or probe_feature_cache: none"
        )


def cache_key(encoder, encoder_name, encoder_source, precision, sample_rate):
    """Everything the cached features depend on (its digest names the cache folder)."""
    config = encoder.model.config.to_dict()
    config.pop("transformers_version", None)
    return {
        "format": FORMAT_VERSION,
        "encoder": encoder_name,
        "source": str(encoder_source),
        "weights_fingerprint": encoder.weights_fingerprint(),
        "config": config,
        "normalize_wav": bool(encoder.normalize_wav),
        "pass_attention_mask": bool(encoder.pass_attention_mask),
        "precision": precision,
        "sample_rate": sample_rate,
        "num_hidden_states": encoder.num_hidden_states,
        "hidden_size": encoder.output_size,
    }


def key_digest(key):
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cache_folder(mode, key, output_folder, prep_folder):
    """The folder of a cache key for a mode (run: the run's folder; language: shared)."""
    if mode not in ("run", "language"):
        raise ValueError(f"no cache folder for probe_feature_cache: {mode}")
    root = Path(output_folder) if mode == "run" else Path(prep_folder)
    return root / "feature_cache" / f"{key['encoder']}-{key_digest(key)}"


def frames_per_second(config, sample_rate):
    """Encoder frames per second of audio (50 for the wav2vec2 family's 320x down-sampling)."""
    return sample_rate / math.prod(config.conv_stride)


def estimate_bytes(audio_seconds, frames_per_sec, num_states, hidden_size):
    """Disk taken by the fp16 hidden states of `audio_seconds` of audio."""
    return audio_seconds * frames_per_sec * num_states * hidden_size * BYTES_PER_VALUE


def check_free_space(folder, needed_bytes):
    """Fail before filling when the disk under `folder` cannot hold `needed_bytes`."""
    folder = Path(folder)
    probe = next(p for p in (folder, *folder.parents) if p.exists())
    free = shutil.disk_usage(probe).free
    if needed_bytes > free:
        raise FeatureCacheError(
            f"the probe feature cache needs about {needed_bytes / 1e9:.2f} GB in {folder}, but only "
            f"{free / 1e9:.2f} GB are free there: free some space, put results_root on a larger disk, "
            "or set probe_feature_cache: none (the encoder then runs every epoch)"
        )


def _crc(data):
    return zlib.crc32(data) & 0xFFFFFFFF


class FeatureCache:
    """The entries of one cache folder: write, check and load one utterance's states."""

    def __init__(self, folder, key):
        self.folder = Path(folder)
        self.key = key
        self.num_states = key["num_hidden_states"]
        self.hidden_size = key["hidden_size"]
        self.manifest = self.read_manifest()

    def entry_path(self, utt_id):
        name = hashlib.sha1(utt_id.encode("utf-8")).hexdigest()
        return self.folder / "entries" / name[:2] / f"{name}.safetensors"

    def read_manifest(self):
        """{id: {frames, samples, crc32}}; an unreadable manifest lists nothing (entries are
        then checked one by one, and the good ones kept)."""
        path = self.folder / MANIFEST_FILE
        if not path.is_file():
            return {}
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT_VERSION or manifest.get("key_digest") != key_digest(self.key):
                raise ValueError("written for another cache key or format")
            return dict(manifest["entries"])
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            logger.warning("Feature cache manifest %s is unusable (%s): every entry is checked anew", path, err)
            return {}

    def write_manifest(self):
        write_json(
            self.folder / MANIFEST_FILE,
            {"format": FORMAT_VERSION, "key_digest": key_digest(self.key), "entries": self.manifest},
        )

    def write(self, utt_id, states, num_samples):
        """Store (time, states, hidden) as fp16, atomically; returns the manifest record."""
        states = states.detach().to("cpu", torch.float16).contiguous()
        crc = _crc(states.reshape(-1).view(torch.uint8).numpy())
        record = {"frames": int(states.shape[0]), "samples": int(num_samples), "crc32": crc}
        metadata = {"id": utt_id, **{k: str(v) for k, v in record.items()}}
        path = self.entry_path(utt_id)
        with atomic_path(path) as tmp:
            tmp.write_bytes(save_safetensors({TENSOR_NAME: states}, metadata=metadata))
        self.manifest[utt_id] = record
        return record

    def read(self, utt_id):
        """(states, record) of an entry after checking it; raises FeatureCacheError saying why not."""
        path = self.entry_path(utt_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise FeatureCacheError(f"{path}: missing") from None
        try:
            header_size = int.from_bytes(data[:8], "little")
            metadata = json.loads(data[8 : 8 + header_size])["__metadata__"]
            states = load_safetensors(data)[TENSOR_NAME]
            record = {
                "frames": int(metadata["frames"]),
                "samples": int(metadata["samples"]),
                "crc32": int(metadata["crc32"]),
            }
        except Exception as err:  # any damage to the file: truncated, garbage, missing fields
            raise FeatureCacheError(f"{path}: unreadable ({type(err).__name__}: {err})") from None
        problem = None
        if metadata.get("id") != utt_id:
            problem = f"holds utterance {metadata.get('id')!r}"
        elif states.dtype != torch.float16 or tuple(states.shape) != (
            record["frames"],
            self.num_states,
            self.hidden_size,
        ):
            problem = (
                f"shape {tuple(states.shape)} {states.dtype}, expected ({record['frames']}, "
                f"{self.num_states}, {self.hidden_size}) float16"
            )
        elif _crc(memoryview(data)[8 + header_size :]) != record["crc32"]:
            problem = "checksum mismatch (corrupt data)"
        elif utt_id in self.manifest and self.manifest[utt_id] != record:
            problem = f"differs from the manifest ({self.manifest[utt_id]} vs {record})"
        if problem:
            raise FeatureCacheError(f"{path}: {problem}")
        return states, record

    def check(self, utt_id, duration, sample_rate):
        """None if the entry is there and good for an utterance of `duration` s, MISSING if
        there is none, else what is wrong with it."""
        if not self.entry_path(utt_id).is_file():
            return MISSING
        try:
            _, record = self.read(utt_id)
        except FeatureCacheError as err:
            return str(err)
        if abs(record["samples"] - duration * sample_rate) > 1:  # manifests keep 4 decimals
            return f"{self.entry_path(utt_id)}: {record['samples']} samples, the manifest says {duration} s"
        self.manifest[utt_id] = record
        return None

    def load(self, utt_id):
        """An utterance's states for training, checked; a bad entry stops the run (never used)."""
        try:
            return self.read(utt_id)[0]
        except FeatureCacheError as err:
            raise FeatureCacheError(
                f"feature cache entry of {utt_id} went bad during the run: {err}. Re-run the same "
                "command: the cache is checked at start-up and bad entries are recomputed"
            ) from None


def _utterances(datasets):
    """{id: (split, position, duration)} of every utterance the run uses."""
    out = {}
    for split, dataset in datasets.items():
        for position, utt_id in enumerate(dataset.data_ids):
            out[utt_id] = (split, position, float(dataset.data[utt_id]["duration"]))
    return out


def _batches(ids, utterances, batch_size):
    """Missing utterances longest first, `batch_size` of similar length at a time."""
    ordered = sorted(ids, key=lambda i: -utterances[i][2])
    return [ordered[k : k + batch_size] for k in range(0, len(ordered), batch_size)]


def fill(cache, encoder, datasets, utterances, ids, device, autocast, batch_size, sample_rate):
    """Compute and store the states of `ids` (the encoder frozen, no autograd, RNG untouched)."""
    done, audio, started, last_log = 0, 0.0, time.monotonic(), time.monotonic()
    with torch.random.fork_rng(), torch.no_grad():
        for batch_ids in _batches(ids, utterances, batch_size):
            items = [datasets[utterances[i][0]][utterances[i][1]] for i in batch_ids]
            batch = PaddedBatch(items)
            wavs, wav_lens = batch.sig
            wavs, wav_lens = wavs.to(device), wav_lens.to(device)
            with autocast:
                states = encoder.hidden_states(wavs, wav_lens)
            samples = torch.round(wav_lens * wavs.shape[1]).long()
            frames = encoder.frame_counts(samples).tolist()
            for k, utt_id in enumerate(batch.id):
                cache.write(utt_id, states[:, k, : frames[k]].transpose(0, 1), int(samples[k]))
            done += len(batch_ids)
            audio += float(samples.sum()) / sample_rate
            if time.monotonic() - last_log > 30:
                last_log = time.monotonic()
                logger.info(
                    "Feature cache: %d/%d utterances (%.0f s of audio per second)",
                    done,
                    len(ids),
                    audio / (last_log - started),
                )
    return time.monotonic() - started


def open_feature_cache(hparams, brain, datasets):
    """Check, complete and open the run's feature cache; returns (cache, stats for results.json).

    On the main process, under the cache's lock (other runs of the same key wait):
    every entry the run needs is checked, the missing and bad ones are computed
    after a disk-space check, and the manifest is rewritten. Other DDP ranks
    wait at a barrier, then open the finished cache.
    """
    encoder = brain.encoder_module
    key = cache_key(
        encoder, hparams["encoder"], hparams["encoder_spec"]["source"], brain.precision, hparams["sample_rate"]
    )
    mode = hparams["probe_feature_cache"]
    folder = cache_folder(mode, key, hparams["output_folder"], hparams["prep_folder"])
    utterances = _utterances(datasets)
    stats = {"mode": mode, "folder": str(folder), "key_digest": key_digest(key), "entries": len(utterances)}
    if if_main_process():
        stats.update(_check_and_fill(folder, key, encoder, datasets, utterances, brain, hparams))
    ddp_barrier()
    return FeatureCache(folder, key), stats


def _check_and_fill(folder, key, encoder, datasets, utterances, brain, hparams):
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive(folder / LOCK_FILE, f"Feature cache {folder} is being filled by another run: waiting for it"):
        key_file = folder / KEY_FILE
        if key_file.is_file() and json.loads(key_file.read_text(encoding="utf-8")) != json.loads(json.dumps(key)):
            raise FeatureCacheError(
                f"{key_file} does not match the key its folder is named after: remove the folder and re-run"
            )
        write_json(key_file, key)
        cache = FeatureCache(folder, key)
        listed = len(cache.manifest)
        sample_rate = hparams["sample_rate"]
        with concurrent.futures.ThreadPoolExecutor(CHECK_THREADS) as pool:
            problems = dict(
                zip(utterances, pool.map(lambda i: cache.check(i, utterances[i][2], sample_rate), utterances))
            )
        todo = [i for i, problem in problems.items() if problem]
        bad = [problems[i] for i in todo if problems[i] != MISSING]
        for utt_id in todo:
            cache.manifest.pop(utt_id, None)
        if bad:
            logger.warning("Feature cache %s: %d bad entries are recomputed, e.g. %s", folder, len(bad), bad[0])
        logger.info(
            "Feature cache %s: %d of %d entries checked and reused (%d listed), %d to compute",
            folder,
            len(utterances) - len(todo),
            len(utterances),
            listed,
            len(todo),
        )
        fill_seconds = 0.0
        if todo:
            seconds = sum(utterances[i][2] for i in todo)
            needed = estimate_bytes(
                seconds,
                frames_per_second(encoder.model.config, sample_rate),
                key["num_hidden_states"],
                key["hidden_size"],
            )
            logger.info("Feature cache: %.2f h of audio to encode, about %.2f GB", seconds / 3600, needed / 1e9)
            check_free_space(folder, needed)
            fill_seconds = fill(
                cache,
                encoder,
                datasets,
                utterances,
                todo,
                brain.device,
                brain.training_ctx,
                hparams["eval_dataloader_options"]["batch_size"],
                sample_rate,
            )
        cache.write_manifest()
        size = sum(p.stat().st_size for p in (cache.entry_path(i) for i in utterances))
    return {
        "entries_reused": len(utterances) - len(todo),
        "entries_computed": len(todo),
        "entries_rebuilt": len(bad),
        "bytes": size,
        "fill_seconds": round(fill_seconds, 3),
    }
