"""The probes' feature cache: settings refused where they cannot work, the disk estimate, entries
that round-trip and damage that is named."""

import shutil

import pytest
import torch

from crossling_asr.training import feature_cache as fc


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
