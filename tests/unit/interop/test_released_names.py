"""Released checkpoint names and model cards map to the registry's encoders."""

import pytest

from crossling_asr.interop.external_ctc import (
    ExternalCheckpointError,
    card_base_model,
    checkpoint_language,
    is_release,
    registry_encoder,
)
from crossling_asr.interop.released_names import ReleasedName, parse_released_name
from crossling_asr.registry import load_registry


def test_released_names_and_cards_map_to_the_registry(tmp_path):
    registry = load_registry()
    assert parse_released_name("jonatasgrosman/exp_w2v2t_zh-cn_xls-r_s108") == ReleasedName("zh-cn", "xls-r", 108)
    assert parse_released_name("jonatasgrosman/wav2vec2-large-xlsr-53-english") is None
    assert is_release("jonatasgrosman/exp_w2v2t_pt_vp-sv_s563") and not is_release("someone/exp_w2v2t_pt_vp-sv_s563")
    assert is_release(tmp_path / "exp_w2v2t_pt_vp-sv_s563")  # a downloaded copy
    assert checkpoint_language("jonatasgrosman/exp_w2v2t_zh-cn_xls-r_s108") == "zh-CN"
    assert checkpoint_language("jonatasgrosman/exp_w2v2t_sv-se_vp-fr_s387") == "sv-SE"

    released = [entry["released_name"] for entry in registry.values()]
    assert len(set(released)) == len(registry)  # every encoder has one, and no two share it
    for name, short in [
        ("xlsr-53", "xlsr-53"),
        ("xls-r-300m", "xls-r"),
        ("voxpopuli-sv", "vp-sv"),
        ("unispeech-large-multi-lingual-1500h-cv", "unispeech-ml"),
        ("no-pretraining", "no-pretraining"),
    ]:
        assert registry_encoder(registry, released_model=short) == (name, "released name")
    # The baseline shares the LV-60 hub id; a card naming that id is the pre-trained model.
    assert registry_encoder(registry, card_base="facebook/wav2vec2-large-lv60") == (
        "wav2vec2-large-lv60",
        "card base model",
    )
    with pytest.raises(ExternalCheckpointError, match="unknown released model name 'w2v-bert'.*xls-r"):
        registry_encoder(registry, released_model="w2v-bert")
    with pytest.raises(ExternalCheckpointError, match="is encoder hubert-large-ll60k.*'wavlm' is wavlm-large"):
        registry_encoder(registry, card_base="facebook/hubert-large-ll60k", released_model="wavlm")
    with pytest.raises(ExternalCheckpointError, match="facebook/wav2vec2-base.*not the source"):
        registry_encoder(registry, card_base="facebook/wav2vec2-base")
    with pytest.raises(ExternalCheckpointError, match="say which with local/evaluate_checkpoint.py --encoder"):
        registry_encoder(registry)
    assert registry_encoder(registry, card_base="facebook/wav2vec2-base", given="xlsr-53") == ("xlsr-53", "given")

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "README.md").write_text("# exp\nFine-tuned microsoft/wavlm-large for speech recognition on English.\n")
    assert card_base_model(plain) == ("microsoft/wavlm-large", "card text")
    (plain / "README.md").write_text("---\nbase_model: facebook/wav2vec2-xls-r-300m\n---\n# a model\n")
    assert card_base_model(plain) == ("facebook/wav2vec2-xls-r-300m", "card metadata base_model")
    (plain / "README.md").write_text("# exp\nFine-tuned randomly initialized wav2vec2 model for speech recognition.\n")
    assert card_base_model(plain) == (None, None)
