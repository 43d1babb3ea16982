"""The encoder registry: the study's encoders with every fact, and unknown names refused."""

import pytest

from crossling_asr.model.encoders import resolve_encoder
from tests.helpers.encoders import MODEL_TYPE_OF_FAMILY, REGISTRY

REQUIRED_FIELDS = {
    "source",
    "family",
    "params_millions",
    "pretraining_data",
    "pretraining_hours",
    "n_languages",
    "languages",
    "monolingual",
    "gpu_memory_gb",
    "sources",
    "unverified",
}


def test_registry_has_the_study_encoders_with_every_fact():
    assert len(REGISTRY) == 16
    assert sum(1 for e in REGISTRY.values() if e["random_init"]) == 1
    for name, entry in REGISTRY.items():
        assert REQUIRED_FIELDS <= set(entry), name
        assert entry["family"] in MODEL_TYPE_OF_FAMILY, name
        assert entry["sources"], name
        assert set(entry["unverified"]) <= set(entry), name
        if entry["monolingual"]:
            assert entry["n_languages"] == 1 and entry["languages"] == [entry["monolingual"]], name
        if entry["languages"]:
            assert len(entry["languages"]) == entry["n_languages"], name
    assert {e["family"] for e in REGISTRY.values()} == set(MODEL_TYPE_OF_FAMILY)


def test_unknown_encoder_lists_the_valid_names():
    with pytest.raises(ValueError, match="Unknown encoder 'wav2vec3'.*wavlm-large"):
        resolve_encoder("wav2vec3")
