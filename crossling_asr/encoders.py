"""The encoder registry and the SSL encoder module every recipe uses.

`hparams/encoders.yaml` lists the 16 encoders of the study; `resolve_encoder`
turns the `encoder` key of a recipe into a registry entry (failing at
start-up, with the valid names, for an unknown one). `SSLEncoder` loads any of
the five transformers families through SpeechBrain's Hugging Face wav2vec2
integration (AutoModel), or builds the no-pretraining baseline from a config.
"""

import logging
from pathlib import Path

import torch
from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2
from transformers import AutoConfig, AutoModel, Wav2Vec2FeatureExtractor

from crossling_asr.registry import REGISTRY_PATH, load_registry

logger = logging.getLogger(__name__)

def resolve_encoder(name, source=None, registry_path=REGISTRY_PATH):
    """The registry entry for `name`; `source` (hub id or local dir) replaces its source.

    Raises ValueError listing the valid names when `name` is unknown, and
    FileNotFoundError when `source` looks like a local path that does not exist.
    """
    registry = load_registry(registry_path)
    if name not in registry:
        raise ValueError(
            f"Unknown encoder '{name}'. Valid names (hparams/encoders.yaml): "
            + ", ".join(sorted(registry))
        )
    entry = dict(registry[name])
    if source:
        source = str(source)
        looks_local = source.startswith((".", "/", "~")) or source.count("/") != 1
        if looks_local and not Path(source).expanduser().is_dir():
            raise FileNotFoundError(f"encoder_source {source} is not a directory")
        entry["source"] = str(Path(source).expanduser()) if looks_local else source
        entry.pop("architecture", None)  # a given source's own config wins
    return entry


def write_architecture_dir(entry, directory):
    """Write config.json and preprocessor_config.json for a random-init entry.

    The baseline is built from these files, so it needs no download.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = AutoConfig.for_model(**entry["architecture"])
    config.save_pretrained(directory)
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0,
        do_normalize=True, return_attention_mask=True,
    )
    extractor.save_pretrained(directory)
    return str(directory)


class SSLEncoder(Wav2Vec2):
    """A wav2vec2-family encoder for CTC fine-tuning, with the study's settings.

    Differences from SpeechBrain's `Wav2Vec2`, each for a reason:
    - loads with `AutoModel.from_pretrained` only (hub id or local directory;
      works offline from the HF cache), or builds random weights from the
      config (`random_init`, the no-pretraining baseline);
    - `config_overrides` (masking, dropouts, layerdrop) are applied to the
      checkpoint's own config before the model is built;
    - the waveform is normalised per utterance over its real samples only
      (not over padding), and the attention mask is passed only where the
      checkpoint's feature extractor says the model was trained with one.
    """

    def __init__(
        self,
        source,
        save_path,
        family=None,
        random_init=False,
        config_overrides=None,
        freeze=False,
        freeze_feature_extractor=True,
        apply_spec_augment=True,
        gradient_checkpointing=False,
    ):
        self._random_init = random_init
        self._config_overrides = dict(config_overrides or {})
        super().__init__(
            source=source,
            save_path=save_path,
            output_norm=False,
            freeze=freeze,
            freeze_feature_extractor=freeze_feature_extractor,
            apply_spec_augment=apply_spec_augment,
        )
        loaded = type(self.model).__name__
        if family and loaded != family:
            raise ValueError(f"{source} is a {loaded}, but the registry says {family}")
        self.pass_attention_mask = bool(getattr(self.feature_extractor, "return_attention_mask", True))
        self.gradient_checkpointing = gradient_checkpointing
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    @property
    def output_size(self):
        return self.model.config.hidden_size

    def override_config(self, config):
        for key, value in self._config_overrides.items():
            if not hasattr(config, key):
                raise ValueError(f"{type(config).__name__} has no setting '{key}' to override")
            setattr(config, key, value)
        return config

    def _from_pretrained(self, source, save_path, cache_dir, device=None, **kwargs):
        if self._random_init:
            self.model = AutoModel.from_config(self.config)
        else:
            self.model = AutoModel.from_pretrained(source, config=self.config, cache_dir=save_path)

    def extract_features(self, wav, wav_lens=None):
        if wav_lens is None:
            wav_lens = torch.ones(wav.shape[0], device=wav.device)
        lengths = torch.round(wav_lens * wav.shape[1]).long().clamp(min=1)
        mask = torch.arange(wav.shape[1], device=wav.device)[None, :] < lengths[:, None]
        if self.normalize_wav:
            wav = normalize_per_utterance(wav, mask, lengths)
        out = self.model(wav, attention_mask=mask.long() if self.pass_attention_mask else None)
        return out.last_hidden_state


def normalize_per_utterance(wav, mask, lengths):
    """Zero mean, unit variance over each utterance's real samples; padding stays 0.

    This is what the checkpoints' feature extractor does one utterance at a time.
    """
    maskf = mask.to(wav.dtype)
    n = lengths.to(wav.dtype)[:, None]
    mean = (wav * maskf).sum(dim=1, keepdim=True) / n
    var = (((wav - mean) * maskf) ** 2).sum(dim=1, keepdim=True) / n
    return (wav - mean) / torch.sqrt(var + 1e-7) * maskf


def build_encoder(entry, save_path, **kwargs):
    """An SSLEncoder for a resolved registry entry (see resolve_encoder)."""
    source = entry["source"]
    if entry.get("random_init") and entry.get("architecture"):
        source = write_architecture_dir(entry, Path(save_path) / "architecture")
    return SSLEncoder(
        source=source,
        save_path=str(save_path),
        family=entry.get("family"),
        random_init=entry.get("random_init", False),
        **kwargs,
    )


def count_parameters(module):
    """Number of parameters of a module (all, trainable)."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return total, trainable

