"""The encoder registry and the SSL encoder module every recipe uses.

`hparams/encoders.yaml` lists the 16 encoders of the study; `resolve_encoder`
turns the `encoder` key of a recipe into a registry entry (failing at
start-up, with the valid names, for an unknown one). `SSLEncoder` loads any of
the five transformers families through SpeechBrain's Hugging Face wav2vec2
integration (AutoModel), or builds the no-pretraining baseline from a config.
"""

import hashlib
import logging
from pathlib import Path

import torch
from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2
from speechbrain.utils import checkpoints
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
            f"Unknown encoder '{name}'. Valid names (hparams/encoders.yaml): " + ", ".join(sorted(registry))
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
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )
    extractor.save_pretrained(directory)
    return str(directory)


LAYER_AGGREGATIONS = ("last", "weighted")


@checkpoints.register_checkpoint_hooks
class SSLEncoder(Wav2Vec2):
    """A wav2vec2-family encoder for CTC fine-tuning or probing, with the study's settings.

    Differences from SpeechBrain's `Wav2Vec2`, each for a reason:
    - loads with `AutoModel.from_pretrained` only (hub id or local directory;
      works offline from the HF cache), or builds random weights from the
      config (`random_init`, the no-pretraining baseline);
    - `config_overrides` (masking, dropouts, layerdrop) are applied to the
      checkpoint's own config before the model is built;
    - the waveform is normalised per utterance over its real samples only
      (not over padding), and the attention mask is passed only where the
      checkpoint's feature extractor says the model was trained with one;
    - `layer_aggregation: weighted` makes it return every hidden state
      (see `hidden_states`) for a LayerWeights module to combine;
    - frozen (`freeze`, the probe protocol), it stays in eval mode whatever
      the Brain asks (no dropout, masking or layerdrop), runs without
      autograd, and its checkpoint holds only a fingerprint of its weights
      (they are the pre-trained ones): a few bytes instead of a copy of the
      model per checkpoint, and a resume with other weights is refused.
    """

    def __init__(
        self,
        source: str | Path,
        save_path: str | Path,
        family: str | None = None,
        random_init: bool = False,
        config_overrides: dict | None = None,
        freeze: bool = False,
        freeze_feature_extractor: bool = True,
        apply_spec_augment: bool = True,
        gradient_checkpointing: bool = False,
        layer_aggregation: str = "last",
    ):
        if layer_aggregation not in LAYER_AGGREGATIONS:
            raise ValueError(
                f"layer_aggregation {layer_aggregation!r}: expected one of {', '.join(LAYER_AGGREGATIONS)}"
            )
        self.source = str(source)
        self._random_init = random_init
        self._config_overrides = dict(config_overrides or {})
        super().__init__(
            source=source,
            save_path=save_path,
            output_norm=False,
            freeze=freeze,
            freeze_feature_extractor=freeze_feature_extractor,
            apply_spec_augment=apply_spec_augment,
            output_all_hiddens=layer_aggregation == "weighted",
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

    @property
    def num_hidden_states(self):
        """States `hidden_states` returns: the feature projection's and each transformer layer's."""
        return self.model.config.num_hidden_layers + 1

    def frame_counts(self, num_samples):
        """Output frames of the convolutional feature encoder for inputs of `num_samples` samples."""
        return self.model._get_feat_extract_output_lengths(num_samples)

    def train(self, mode=True):
        """A frozen encoder stays in eval mode: sb.Brain calls train() every epoch."""
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    def weights_fingerprint(self):
        """A hash of every weight of the model (computed once: only a frozen encoder asks)."""
        if getattr(self, "_weights_fingerprint", None) is None:
            digest = hashlib.blake2b(digest_size=16)
            for name, tensor in sorted(self.model.state_dict().items()):
                data = tensor.detach().cpu().contiguous()
                digest.update(f"{name}:{data.dtype}:{tuple(data.shape)};".encode())
                digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
            self._weights_fingerprint = digest.hexdigest()
        return self._weights_fingerprint

    @checkpoints.mark_as_saver
    def save_checkpoint(self, path):
        """The whole state dict, or for a frozen encoder its fingerprint (and no weights)."""
        if self.freeze:
            torch.save({"frozen_weights_fingerprint": self.weights_fingerprint()}, path)
        else:
            torch.save(self.state_dict(), path)

    @checkpoints.mark_as_loader
    def load_checkpoint(self, path, end_of_epoch=False):
        del end_of_epoch
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = state.get("frozen_weights_fingerprint")
        if saved is None and self.freeze:
            raise ValueError(f"{path} holds a fine-tuned encoder, but this run's encoder is frozen")
        if saved is None:
            self.load_state_dict(state, strict=True)
        elif not self.freeze:
            raise ValueError(f"{path} was written by a run with a frozen encoder, but this one trains it")
        elif saved != self.weights_fingerprint():
            raise ValueError(
                f"{path} was written with other encoder weights than this run's ({self.source}): "
                "resume with the encoder the run started with, or start a new output folder"
            )

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

    def extract_features(self, wav, wav_lens=None, all_hidden_states=None):
        """The last hidden state (batch, time, hidden), or with `all_hidden_states`
        (default: layer_aggregation is weighted) every state, (states, batch, time, hidden)."""
        if all_hidden_states is None:
            all_hidden_states = self.output_all_hiddens
        if wav_lens is None:
            wav_lens = torch.ones(wav.shape[0], device=wav.device)
        lengths = torch.round(wav_lens * wav.shape[1]).long().clamp(min=1)
        mask = torch.arange(wav.shape[1], device=wav.device)[None, :] < lengths[:, None]
        if self.normalize_wav:
            wav = normalize_per_utterance(wav, mask, lengths)
        out = self.model(
            wav,
            attention_mask=mask.long() if self.pass_attention_mask else None,
            output_hidden_states=all_hidden_states,
        )
        if not all_hidden_states:
            return out.last_hidden_state
        # transformers gives the last layer's output before the final layer norm of
        # pre-LN encoders; state L is the encoder's output itself, as `last` uses it.
        return torch.stack([*out.hidden_states[:-1], out.last_hidden_state], dim=0)

    def hidden_states(self, wav, wav_lens=None):
        """Every hidden state, (num_hidden_states, batch, time, hidden), whatever the aggregation:
        state 0 is the feature projection (with positional embedding), state i transformer
        layer i's output, the last one the encoder's output. Without autograd when frozen."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            return self.extract_features(wav, wav_lens, all_hidden_states=True)


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
