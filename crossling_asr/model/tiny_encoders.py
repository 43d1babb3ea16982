"""Tiny randomly initialised encoders of each transformers family, saved locally.

Model hubs are out of reach in tests and the demo, so these stand in for the
real checkpoints: same classes, same loading path (a local directory read
like a hub id), a few hundred thousand parameters instead of 315 million.
`local/tiny_encoders.py OUT` (crossling-tiny-encoders) writes them for smoke
runs; torch and transformers load only when an encoder is made.
"""

from pathlib import Path

from crossling_asr.model.families import FAMILIES

# The large models' layout (7 conv layers, 320x down-sampling, pre-LN) at toy width.
TINY_ARCHITECTURE = dict(
    hidden_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=192,
    conv_dim=(64, 64, 64, 64, 64, 64, 64),
    conv_stride=(5, 2, 2, 2, 2, 2, 2),
    conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    feat_extract_norm="layer",
    do_stable_layer_norm=True,
    conv_bias=True,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
    num_buckets=32,  # WavLM relative position buckets
)


TINY_HEAD_INIT_RANGE = 0.06


def make_tiny_encoder(model_type, directory, seed=0):
    """Save a tiny random `model_type` encoder (weights, config, feature extractor)."""
    import torch
    import transformers
    from transformers import AutoModel, Wav2Vec2FeatureExtractor

    config_name = FAMILIES[model_type].config
    config = getattr(transformers, config_name)(**TINY_ARCHITECTURE)
    torch.manual_seed(seed)
    model = AutoModel.from_config(config)
    # Set after the weights are drawn, so it only sets the spread of the CTC layer a fine-tuning adds
    # (transformers' lm_head, the study's head: head_init_std encoder_config). The checkpoints' 0.02
    # suits a pre-trained encoder's output; from it this random model emits only blanks for most of a
    # short run (synthetic Spanish, seed 1: dev CER 95.2 % after 10 epochs, against 61.4 % after 8
    # with TINY_HEAD_INIT_RANGE, about torch's default spread for 96 inputs).
    model.config.initializer_range = TINY_HEAD_INIT_RANGE
    directory = Path(directory)
    model.save_pretrained(directory)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    ).save_pretrained(directory)
    return directory


def make_all_tiny_encoders(root, seed=0, families=tuple(FAMILIES)):
    """One tiny encoder per family under `root/<model_type>` (kept if already there); returns {model_type: dir}."""
    root = Path(root)
    out = {}
    for model_type in families:
        directory = root / model_type
        if not (directory / "config.json").is_file():
            make_tiny_encoder(model_type, directory, seed)
        out[model_type] = directory
    return out
