"""The encoder registry's encoders: every entry loads its family, the no-pretraining baseline is random,
a source of another family is refused, and each family trains through the Brain."""

import json

import pytest
import torch

from crossling_asr.model.encoders import build_encoder, resolve_encoder
from crossling_asr.recipe import train_and_test
from tests.helpers.encoders import MODEL_TYPE_OF_FAMILY, REGISTRY
from tests.helpers.recipes import CPU_RUN_OPTS, load_cpu_hparams, run_folder


def test_a_source_of_another_family_is_refused(tiny_encoders, tmp_path):
    with pytest.raises(ValueError, match="is a Wav2Vec2Model, but the registry says HubertModel"):
        build_encoder(resolve_encoder("hubert-large-ll60k", tiny_encoders["wav2vec2"]), tmp_path)


@pytest.mark.slow  # builds the 315M-parameter architecture
def test_no_pretraining_baseline_is_wav2vec2_large_from_config(tmp_path):
    entry = resolve_encoder("no-pretraining")
    encoder = build_encoder(entry, tmp_path)  # no download: built from the registry's architecture
    n_params = sum(p.numel() for p in encoder.parameters())
    assert n_params / 1e6 == pytest.approx(entry["params_millions"], rel=0.01)
    assert encoder.model.config.num_hidden_layers == 24 and encoder.output_size == 1024


def test_no_pretraining_weights_are_random_not_the_sources(tiny_encoders, tmp_path):
    pretrained = build_encoder(resolve_encoder("xlsr-53", tiny_encoders["wav2vec2"]), tmp_path / "a")
    torch.manual_seed(123)
    random = build_encoder(resolve_encoder("no-pretraining", tiny_encoders["wav2vec2"]), tmp_path / "b")
    a, b = pretrained.state_dict(), random.state_dict()
    assert a.keys() == b.keys()
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].dtype.is_floating_point)


@pytest.fixture(scope="module")
def prepared_spanish(make_corpus, tmp_path_factory):
    corpus = make_corpus("es", n_train=12, n_dev=4, n_test=4)
    root = tmp_path_factory.mktemp("registry_runs")
    return corpus, root


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registry_entry_loads_its_family(name, tiny_encoders, tmp_path):
    """Each entry, pointed at a tiny local encoder of its family, builds that family."""
    entry = resolve_encoder(name, tiny_encoders[MODEL_TYPE_OF_FAMILY[REGISTRY[name]["family"]]])
    encoder = build_encoder(entry, tmp_path)
    assert type(encoder.model).__name__ == REGISTRY[name]["family"]
    features = encoder(torch.randn(2, 8000), torch.tensor([1.0, 0.5]))
    assert features.shape == (2, 24, encoder.output_size)


# One entry per family, plus the baseline: the Brain code path depends on nothing else.
TRAINED = sorted({e["family"]: name for name, e in REGISTRY.items() if not e["random_init"]}.values()) + [
    "no-pretraining"
]


@pytest.mark.parametrize("name", TRAINED)
def test_each_family_trains_through_the_brain(name, tiny_encoders, prepared_spanish):
    """A tiny encoder of the entry's family trains, is scored and recorded."""
    corpus, root = prepared_spanish
    family_dir = tiny_encoders[MODEL_TYPE_OF_FAMILY[REGISTRY[name]["family"]]]
    hparams, overrides, report = load_cpu_hparams(corpus, family_dir, root, encoder=name, number_of_epochs=1)
    brain = train_and_test(hparams, CPU_RUN_OPTS, overrides, report)
    assert brain.optimizer_step > 0
    results = json.loads((run_folder(root, "es", name, 1, family_dir) / "results.json").read_text())
    assert results["run"]["encoder"] == name
    assert results["run"]["encoder_family"] == REGISTRY[name]["family"]
    assert type(brain.modules.encoder.model).__name__ == REGISTRY[name]["family"]
    assert results["run"]["random_init"] == REGISTRY[name]["random_init"]
    assert results["metrics"]["test"]["n_utterances"] == 4
