"""Frozen-encoder probes: weighted layers, the feature cache and the training budget.

Unit tests check the pure parts against values computed here; the slow tests
run the probe protocol of the real recipe on synthetic Spanish with tiny
encoders: the encoder stays bitwise as it was, a probe of a fine-tuned
encoder learns and ranks above a probe of a random one, cached and uncached
probes agree, the cache is shared by seeds and rebuilt where it is damaged.
"""

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from conftest import CPU_RUN_OPTS, USAGE_CORPUS, load_cpu_hparams, run_recipe
from safetensors.torch import load_file

from crossling_asr.analysis.aggregate import collect
from crossling_asr.analysis.probing import run_details
from crossling_asr.data.datasets import budget_subset, check_train_hours
from crossling_asr.model.heads import ProbeCTCHead
from crossling_asr.model.layer_weights import LayerWeights
from crossling_asr.training import feature_cache as fc

# An untrained model outputs nothing or noise: CER >= ~95% (as in test_training).
LEARNED_CER_BOUND = 80.0
# Small BiLSTM for CPU tests (the protocol's default is MP3S's 1024 units).
SMALL_BILSTM = ["--probe_head=bilstm", "--ctc_head={lstm_units: 32}"]
PROBE = ["--protocol=probe"]
ENCODER_OF_FAMILY = {"wav2vec2": "xlsr-53", "hubert": "hubert-large-ll60k"}  # registry names


# ---- unit tests ---------------------------------------------------------------------


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


def test_layer_weights_are_a_softmax_and_weight_the_states():
    weights = LayerWeights(3)
    with torch.no_grad():
        weights.logits.copy_(torch.tensor([0.0, 1.0, 2.0]))
    expected = [math.exp(v) / sum(math.exp(u) for u in (0, 1, 2)) for v in (0, 1, 2)]
    assert weights.as_list() == pytest.approx(expected)
    states = torch.randn(3, 2, 5, 4)
    by_hand = sum(w * states[i] for i, w in enumerate(expected))
    assert torch.allclose(weights(states), by_hand, atol=1e-6)
    with pytest.raises(ValueError, match="4 hidden states given, 3 weights"):
        weights(torch.randn(4, 2, 5, 4))


def test_bilstm_probe_head_ignores_padding():
    torch.manual_seed(0)
    head = ProbeCTCHead(6, 5, lstm_units=8).eval()
    features = torch.randn(2, 9, 6)
    batched = head(features, torch.tensor([1.0, 4 / 9]))
    alone = head(features[1:, :4], torch.tensor([1.0]))
    assert batched.shape == (2, 9, 5)
    assert torch.allclose(batched[1, :4], alone[0], atol=1e-6)


def test_cache_settings_are_refused_where_they_cannot_work():
    ok = {"probe_feature_cache": "language", "freeze_encoder": True, "wav_augment": None}
    fc.check_cache_settings(ok)
    with pytest.raises(ValueError, match="expected one of none, run, language"):
        fc.check_cache_settings({**ok, "probe_feature_cache": "disk"})
    with pytest.raises(ValueError, match="needs a frozen encoder"):
        fc.check_cache_settings({**ok, "freeze_encoder": False})
    with pytest.raises(ValueError, match="cannot be used with wav_augment"):
        fc.check_cache_settings({**ok, "wav_augment": object()})


def test_disk_estimate_and_a_short_disk_fails_clearly(tmp_path, monkeypatch):
    # wav2vec2-large: 50 frames/s x 25 states x 1024 x 2 bytes = 2.56 MB per second of audio.
    assert fc.estimate_bytes(3600, 50, 25, 1024) == 3600 * 50 * 25 * 1024 * 2
    fc.check_free_space(tmp_path / "not" / "yet", 1)
    usage = shutil.disk_usage(tmp_path)._replace(free=10**9)
    monkeypatch.setattr(fc.shutil, "disk_usage", lambda path: usage)
    with pytest.raises(fc.FeatureCacheError, match=r"needs about 9\.22 GB .* only 1\.00 GB are free"):
        fc.check_free_space(tmp_path, fc.estimate_bytes(3600, 50, 25, 1024))


def small_cache(tmp_path):
    return fc.FeatureCache(tmp_path / "cache", {"num_hidden_states": 3, "hidden_size": 4})


def test_cache_entries_round_trip_and_damage_is_named(tmp_path):
    cache = small_cache(tmp_path)
    states = torch.randn(7, 3, 4)
    cache.write("a", states, 16000)
    assert cache.check("a", 1.0, 16000) is None
    assert torch.equal(cache.load("a"), states.half())
    assert cache.check("b", 1.0, 16000) == fc.MISSING
    assert "16000 samples, the manifest says 2.0 s" in cache.check("a", 2.0, 16000)

    path = cache.entry_path("a")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "checksum mismatch" in cache.check("a", 1.0, 16000)
    with pytest.raises(fc.FeatureCacheError, match="went bad during the run.*checksum mismatch"):
        cache.load("a")
    path.write_bytes(bytes(data[:40]))
    assert "unreadable" in cache.check("a", 1.0, 16000)
    # An entry renamed to another utterance's file is not taken for it.
    cache.write("c", states, 16000)
    cache.entry_path("d").parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cache.entry_path("c"), cache.entry_path("d"))
    assert "holds utterance 'c'" in cache.check("d", 1.0, 16000)


def test_an_unreadable_manifest_lists_nothing(tmp_path):
    cache = small_cache(tmp_path)
    cache.write("a", torch.randn(5, 3, 4), 8000)
    cache.write_manifest()
    assert set(fc.FeatureCache(cache.folder, cache.key).manifest) == {"a"}
    (cache.folder / fc.MANIFEST_FILE).write_text('{"format": 1, "entr')
    assert fc.FeatureCache(cache.folder, cache.key).manifest == {}


def test_all_hidden_states_end_with_the_encoders_output(tiny_encoders, tmp_path):
    from crossling_asr.model.encoders import SSLEncoder

    for family in ("wav2vec2", "wavlm"):
        encoder = SSLEncoder(str(tiny_encoders[family]), str(tmp_path), freeze=True, layer_aggregation="weighted")
        encoder.train()  # what sb.Brain does every epoch
        assert not encoder.model.training
        wav, lens = torch.randn(2, 16000), torch.tensor([1.0, 0.6])
        states = encoder.hidden_states(wav, lens)
        assert states.shape[0] == encoder.num_hidden_states == encoder.model.config.num_hidden_layers + 1
        assert not states.requires_grad
        assert torch.equal(states[-1], encoder.extract_features(wav, lens, all_hidden_states=False))
        assert encoder.frame_counts(torch.tensor([16000, 9600])).tolist() == [states.shape[2], 29]


# ---- the probe protocol end to end --------------------------------------------------------


@pytest.fixture(scope="module")
def probe_corpus(make_corpus):
    return make_corpus("es", n_train=30, n_dev=6, n_test=6, seed=7)


def test_probe_keeps_the_encoder_bitwise_and_records_layer_weights(probe_corpus, tiny_encoders, tmp_path):
    from crossling_asr.recipe import train_and_test

    source = tiny_encoders["wav2vec2"]
    hparams, overrides, report = load_cpu_hparams(
        probe_corpus, source, tmp_path, protocol="probe", probe_head="linear", number_of_epochs=2, train_hours=0.01
    )
    brain = train_and_test(hparams, CPU_RUN_OPTS, overrides, report)
    pretrained = load_file(source / "model.safetensors")
    state = brain.encoder_module.model.state_dict()
    assert set(state) <= set(pretrained)  # (masked_spec_embed exists only where masking is configured)
    for name, tensor in state.items():
        assert torch.equal(tensor, pretrained[name]), name

    results = json.loads(open(hparams["results_file"]).read())
    assert results["run"]["protocol"] == "probe"
    layers = results["layers"]
    assert layers["aggregation"] == "weighted" and layers["encoder_frozen"]
    assert len(layers["weights"]) == layers["num_hidden_states"] == 3
    assert all(w > 0 for w in layers["weights"]) and sum(layers["weights"]) == pytest.approx(1.0)
    assert layers["weights"] != pytest.approx([1 / 3] * 3)  # they learned something
    assert results["parameters"]["encoder_trainable"] == 0 and results["parameters"]["layer_weights"] == 3
    used = results["data"]["train_used"]
    assert used["budget_hours"] == 0.01 and 0 < used["hours"] <= 0.01
    assert used["utterances"] < results["data"]["splits"]["train"]["utterances"]
    assert results["cost"]["encoder_forward_seconds"]["train"] > 0
    assert results["cost"]["feature_cache"] is None
    # The report's probe analysis reads what the run wrote (the tiny encoder: a replaced source).
    (details,) = run_details(collect(tmp_path, "probe", include_replaced_sources=True).runs).itertuples()
    assert details.weights == pytest.approx(layers["weights"]) and details.weights_problem is None
    assert details.device == "cpu" and details.encoder_forward_hours > 0

    # The frozen encoder is checkpointed as a fingerprint, not as weights; a resume loads it.
    save = Path(hparams["save_folder"])
    checkpoints = sorted(save.glob("CKPT+*"))
    assert checkpoints and all((c / "encoder.ckpt").stat().st_size < 4096 for c in checkpoints)
    assert (source / "model.safetensors").stat().st_size > 100_000
    again, overrides, report = load_cpu_hparams(
        probe_corpus, source, tmp_path, protocol="probe", probe_head="linear", number_of_epochs=3, train_hours=0.01
    )
    train_and_test(again, CPU_RUN_OPTS, overrides, report)
    resumed = json.loads((save.parent / "results.json").read_text())
    assert [e["epoch"] for e in resumed["training"]["dev_history"]] == [1, 2, 3]
    assert resumed["training"]["dev_history"][:2] == results["training"]["dev_history"]


def fine_tuned_encoder_dir(usage_output, encoder_dir, out):
    """The usage run's fine-tuned encoder (best checkpoint) as a transformers folder."""
    from speechbrain.utils.checkpoints import Checkpointer

    from crossling_asr.model.encoders import SSLEncoder

    best = Checkpointer(usage_output / "save").find_checkpoint(min_key="CER")
    trained_config = json.loads((usage_output / "results.json").read_text())["hparams"]["encoder_config"]
    encoder = SSLEncoder(str(encoder_dir), str(out / "cache"), config_overrides=trained_config)
    encoder.load_state_dict(torch.load(best.path / "encoder.ckpt", weights_only=True))
    encoder.model.save_pretrained(out / "fine_tuned")
    encoder.feature_extractor.save_pretrained(out / "fine_tuned")
    return out / "fine_tuned"


@pytest.mark.timeout(2400)  # the shared usage run may be trained first here (~20 min on 2 busy cores)
def test_probe_of_a_fine_tuned_encoder_learns_and_ranks_above_a_random_one(usage_run, make_corpus, tmp_path):
    output, random_encoder = usage_run
    fine_tuned = fine_tuned_encoder_dir(output, random_encoder, tmp_path)
    corpus = make_corpus("es", **USAGE_CORPUS)
    extra = PROBE + ["--probe_head=linear", "--probe_feature_cache=run", "--head_lr=0.01"]
    cer = {}
    for name, source in (("fine_tuned", fine_tuned), ("random", random_encoder)):
        root = tmp_path / name
        run_recipe("es", corpus, source, root, epochs=8, extra=extra)
        (results_file,) = root.glob("es/*/seed_1/results.json")
        cer[name] = json.loads(results_file.read_text())["metrics"]["test"]["CER"]
    assert cer["fine_tuned"] < LEARNED_CER_BOUND, cer
    assert cer["fine_tuned"] < cer["random"] - 10, cer


def test_cached_probe_matches_uncached_and_is_shared_then_rebuilt(probe_corpus, tiny_encoders, tmp_path):
    source = tiny_encoders["hubert"]
    epochs = 2

    def probe(seed, cache, root=tmp_path):
        run_recipe(
            "es",
            probe_corpus,
            source,
            root,
            epochs=epochs,
            extra=PROBE
            + SMALL_BILSTM
            + [f"--encoder={ENCODER_OF_FAMILY['hubert']}", f"--seed={seed}", f"--probe_feature_cache={cache}"],
        )
        (path,) = root.glob(f"es/*/seed_{seed}/results.json")
        return json.loads(path.read_text())

    uncached = probe(1, "none", tmp_path / "uncached")
    cached = probe(1, "language")
    for a, b in zip(uncached["training"]["dev_history"], cached["training"]["dev_history"]):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-2)
    assert cached["metrics"]["test"]["loss"] == pytest.approx(uncached["metrics"]["test"]["loss"], rel=1e-2)
    first = cached["cost"]["feature_cache"]
    n = uncached["data"]["splits"]["train"]["utterances"] + 12  # + dev and test
    assert first["entries"] == first["entries_computed"] == n and first["entries_reused"] == 0
    assert first["folder"].startswith(str(tmp_path / "prepared" / "es" / "feature_cache"))
    assert cached["cost"]["encoder_forward_seconds"]["train"] == 0.0

    second = probe(2, "language")["cost"]["feature_cache"]
    assert second["folder"] == first["folder"]
    assert second["entries_reused"] == n and second["entries_computed"] == 0

    # Damage: one entry's data flipped, one truncated (a partial write), one gone, and the
    # manifest lost (a fill killed before writing it). Only the damaged ones are recomputed.
    entries = sorted(Path(first["folder"]).glob("entries/*/*.safetensors"))
    flipped = bytearray(entries[0].read_bytes())
    flipped[-5] ^= 0xFF
    entries[0].write_bytes(bytes(flipped))
    entries[1].write_bytes(entries[1].read_bytes()[:100])
    entries[2].unlink()
    (Path(first["folder"]) / fc.MANIFEST_FILE).unlink()
    third = probe(3, "language")["cost"]["feature_cache"]
    assert third["entries_computed"] == 3 and third["entries_rebuilt"] == 2 and third["entries_reused"] == n - 3
    fourth = probe(4, "language")["cost"]["feature_cache"]
    assert fourth["entries_computed"] == 0 and fourth["entries_reused"] == n


def test_cache_fails_before_encoding_when_the_disk_is_short(probe_corpus, tiny_encoders, tmp_path, monkeypatch):
    from crossling_asr.recipe import train_and_test

    hparams, overrides, report = load_cpu_hparams(
        probe_corpus,
        tiny_encoders["wav2vec2"],
        tmp_path,
        protocol="probe",
        probe_head="linear",
        probe_feature_cache="run",
    )
    usage = shutil.disk_usage(tmp_path)._replace(free=1000)
    monkeypatch.setattr(fc.shutil, "disk_usage", lambda path: usage)
    with pytest.raises(SystemExit, match="the probe feature cache needs about .* only 0.00 GB are free"):
        train_and_test(hparams, CPU_RUN_OPTS, overrides, report)
    assert not list(tmp_path.rglob("*.safetensors"))


def test_train_hours_subset_is_the_same_for_every_encoder_and_differs_by_seed(probe_corpus, tiny_encoders, tmp_path):
    from crossling_asr.data.datasets import build_tokenizer, make_datasets

    budget = 0.008
    subsets = {}
    for family in ("wav2vec2", "hubert"):
        for seed in (1, 2):
            hparams, _, _ = load_cpu_hparams(
                probe_corpus,
                tiny_encoders[family],
                tmp_path / family,
                encoder=ENCODER_OF_FAMILY[family],
                train_hours=budget,
                seed=seed,
            )
            tokenizer = build_tokenizer(hparams["train_csv"], hparams["tokenizer_file"])
            train = make_datasets(hparams, tokenizer)["train"]
            durations = {i: float(train.data[i]["duration"]) for i in train.data_ids}
            seconds = sum(durations.values())
            longest = max(float(row["duration"]) for row in train.data.values())
            assert seconds <= budget * 3600 < seconds + longest
            subsets[family, seed] = set(train.data_ids)
    assert subsets["wav2vec2", 1] == subsets["hubert", 1]
    assert subsets["wav2vec2", 2] == subsets["hubert", 2]
    assert subsets["wav2vec2", 1] != subsets["wav2vec2", 2]
