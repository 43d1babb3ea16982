"""Model card metadata: the Common Voice release and the base model."""

from crossling_asr.interop.model_card import card_metadata, common_voice_release


def test_card_metadata_names_the_release_and_the_base_model():
    assert common_voice_release("/data/cv-corpus-7.0-2021-07-21/es") == "7.0"
    assert common_voice_release("/data/cv-corpus-17.0-2024-03-15/sv-SE") == "17.0"
    for unknown in ("/data/cv-corpus-12.0-delta-2022-12-07/es", "demo/data/es", "/data/cv7/es", None):
        assert common_voice_release(unknown) is None, unknown

    results = {
        "data": {"release_folder": "/data/cv-corpus-7.0-2021-07-21/sv-SE"},
        "metrics": {"test": {"WER": 21.5, "CER": 7.25}},
    }
    encoder = {"source": "facebook/wav2vec2-large-xlsr-53", "family": "Wav2Vec2Model", "random_init": False}
    data = card_metadata(results, {"language": "sv-SE", "encoder": encoder}, "a title")
    assert data.language == "sv" and data.base_model == "facebook/wav2vec2-large-xlsr-53"
    assert data.license == "apache-2.0"  # the licence the recipes are released under
    assert data.datasets == ["mozilla-foundation/common_voice_7_0"]
    assert [
        (r.dataset_type, r.dataset_config, r.dataset_split, r.metric_type, r.metric_value) for r in data.eval_results
    ] == [
        ("mozilla-foundation/common_voice_7_0", "sv-SE", "test", "wer", 21.5),
        ("mozilla-foundation/common_voice_7_0", "sv-SE", "test", "cer", 7.25),
    ]
    baseline = card_metadata(results, {"language": "sv-SE", "encoder": {**encoder, "random_init": True}}, "t")
    assert baseline.base_model is None  # random weights: nothing of the hub model is in it
