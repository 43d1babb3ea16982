"""Model card metadata: the Common Voice release and the base model; the decoder the card names."""

from crossling_asr.interop.model_card import card_metadata, common_voice_release, decoding_text


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


def test_the_card_names_every_setting_of_the_exported_beam_search_pruning_included():
    beam = {"method": "beam_lm", "alpha": 1.25, "beta": 2.0, "beam_size": 32}
    assert "(beam 32)" in decoding_text(beam) and "(alpha 1.25, beta 2.0)" in decoding_text(beam)
    pruned = decoding_text({**beam, "beam_prune_logp": -8.0, "token_prune_min_logp": -4.0})
    assert "(alpha 1.25, beta 2.0, `beam_prune_logp` -8.0, `token_prune_min_logp` -4.0)" in pruned
    assert decoding_text({"method": "greedy"}).startswith("greedy")
