"""A trained acoustic model, from a finished run's folder or from an exported folder.

`TrainedModel` is what inference needs whatever the model came from: the
fine-tuned encoder (the training `SSLEncoder`, so audio is normalised as in
training), the CTC head, the character vocabulary and the text rules of the
language. One loader per source builds it:

- `TrainedModel.from_run`: a run's output folder (`FinishedRun`), best
  checkpoint by dev CER (the one the test score in results.json was computed
  with). The encoder is built from its config with random weights, then the
  checkpoint's weights are loaded strictly: the pre-trained weights are
  neither needed nor downloaded.
- `TrainedModel.from_export`: a folder written by crossling_asr.interop.encoder_asr
  (model.safetensors + config, ctc_head.pt, label_encoder.txt,
  model_info.json for what hyperparams.yaml does not say).

Weights are read with `weights_only` loading: nothing pickled is unpickled.
The file names of both layouts are defined here, for the writer
(crossling_asr.interop.encoder_asr) and the readers alike.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import ruamel.yaml
import torch
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.utils import HFValidationError, validate_repo_id
from hyperpyyaml import resolve_references
from speechbrain.dataio.encoder import CTCTextEncoder
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.data_utils import batch_pad_right

from crossling_asr.data.text import LanguageSpec, TextNormalizer
from crossling_asr.hparams import REPO_ROOT
from crossling_asr.model.encoders import SSLEncoder
from crossling_asr.model.heads import CTCHead
from crossling_asr.results import tested_checkpoint_key

# A finished run's output folder.
RESULTS_FILE = "results.json"
# An exported folder.
MODEL_INFO_FILE = "model_info.json"
HEAD_FILE = "ctc_head.pt"
TOKENIZER_FILE = "label_encoder.txt"
LM_FILE = "lm.arpa"
# The only head class a run may have been trained with to be loaded or exported, under its
# module path now and the one version 0.1 recorded (before the package was split by job).
HEAD_CLASS_TAG = "!name:crossling_asr.model.heads.CTCHead"
HEAD_CLASS_TAGS = (HEAD_CLASS_TAG, "!name:crossling_asr.model.CTCHead")


class TrainedModelError(ValueError):
    """A run or exported folder that cannot be used, with the path that is wrong."""


@dataclass
class FinishedRun:
    """What a finished run's output folder holds for inference."""

    folder: Path
    results: dict
    checkpoint: Path
    tokenizer_file: Path

    @property
    def hparams(self):
        return self.results["hparams"]

    @property
    def language_spec(self):
        return LanguageSpec(code=self.results["run"]["language"], **self.hparams["text"])

    def manifest(self, split):
        """The prepared manifest CSV of a split (train, dev or test) the run used.

        A relative path in the hparams is taken from the working directory,
        then from the recipe's directory (where train.py is usually run).
        """
        value = Path(self.hparams[f"{split}_csv"])
        recipe_dir = REPO_ROOT / "recipes" / self.results["run"]["language"]
        candidates = [value] if value.is_absolute() else [Path.cwd() / value, recipe_dir / value]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise TrainedModelError(f"the {split} manifest of {self.folder} is not at " + " or ".join(map(str, candidates)))


def load_finished_run(output_folder):
    """Check an output folder is a finished run and locate the checkpoint it tested (the last
    epoch's, or the best by dev CER: results.json's metrics.dev_selected)."""
    folder = Path(output_folder)
    results_file = folder / RESULTS_FILE
    if not folder.is_dir():
        raise TrainedModelError(f"output folder {folder} does not exist")
    if not results_file.is_file():
        raise TrainedModelError(
            f"{results_file} not found: {folder} is not a finished run (results.json is "
            "written once the test set is scored)"
        )
    results = json.loads(results_file.read_text(encoding="utf-8"))
    if results.get("status") != "finished":
        raise TrainedModelError(f"{results_file}: status is {results.get('status')!r}, not 'finished'")
    save_folder = folder / "save"
    tokenizer_file = save_folder / TOKENIZER_FILE
    if not tokenizer_file.is_file():
        raise TrainedModelError(f"vocabulary file {tokenizer_file} not found")
    key = tested_checkpoint_key(results)
    best = Checkpointer(save_folder).find_checkpoint(min_key=key)
    if best is None:
        raise TrainedModelError(f"no checkpoint{' with a dev CER' if key else ''} in {save_folder}")
    for name in ("encoder.ckpt", "head.ckpt"):
        if not (best.path / name).is_file():
            raise TrainedModelError(f"checkpoint file {best.path / name} not found")
    return FinishedRun(folder, results, best.path, tokenizer_file)


def load_tokenizer(path, n_outputs):
    """The CTC character vocabulary saved at `path`, checked against the head's outputs."""
    tokenizer = CTCTextEncoder()
    tokenizer.load(path)
    try:
        tokenizer.expect_len(n_outputs)
    except RuntimeError as err:
        raise TrainedModelError(f"{path} does not fit the CTC head ({n_outputs} outputs): {err}") from err
    return tokenizer


def hub_model_id(source):
    """`source` when it names a Hugging Face hub model rather than a local folder, else None."""
    if Path(source).exists():
        return None
    try:
        validate_repo_id(source)
    except HFValidationError:
        return None
    return source if "/" in source else None


def encoder_config_dir(run):
    """The directory holding the run's encoder config.json and preprocessor_config.json.

    The baseline's architecture folder, a local encoder source, or the
    snapshot of a hub encoder in the run's download cache (save/encoder_cache,
    found by huggingface_hub).
    """
    cache = run.folder / "save" / "encoder_cache"
    source = run.results["run"]["encoder_source"]
    candidates = [cache / "architecture", Path(source)]
    if hub_model_id(source):
        cached = try_to_load_from_cache(source, "config.json", cache_dir=cache)
        if isinstance(cached, str):
            candidates.append(Path(cached).parent)
    for candidate in candidates:
        if (candidate / "config.json").is_file() and (candidate / "preprocessor_config.json").is_file():
            return candidate
    raise TrainedModelError(
        f"no config.json + preprocessor_config.json for encoder {source}: looked in "
        + ", ".join(str(c) for c in candidates)
        + (f" and the hub download cache {cache}" if hub_model_id(source) else "")
    )


def head_kwargs(run):
    """The CTCHead options the run was built with, read from its saved hyperparams.yaml."""
    hparams_file = run.folder / "hyperparams.yaml"
    if not hparams_file.is_file():
        raise TrainedModelError(f"{hparams_file} not found")
    with open(hparams_file, encoding="utf-8") as f:
        resolved = resolve_references(f).getvalue()
    node = ruamel.yaml.YAML(typ="rt").load(resolved).get("ctc_head")
    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag not in HEAD_CLASS_TAGS:
        raise TrainedModelError(f"{hparams_file}: ctc_head is {tag}, only {HEAD_CLASS_TAG} can be loaded")
    return {key: _plain(value) for key, value in node.items()}


def _plain(value):
    """ruamel round-trip containers as plain Python lists and dicts."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def load_weights(path):
    """A state dict saved with torch.save, loaded without unpickling code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def head_layout(head_state, kwargs):
    """CTCHead arguments: sizes from the weights, options from the run's hparams."""
    linear = sorted(int(k.split(".")[0]) for k, v in head_state.items() if k.endswith("weight") and v.dim() == 2)
    first, last = head_state[f"{linear[0]}.weight"], head_state[f"{linear[-1]}.weight"]
    return {"input_size": first.shape[1], "n_tokens": last.shape[0], **kwargs}


def exported_head_state(head):
    """The head's state dict under the names of the exported YAML's layers.

    The project's time-axis BatchNorm becomes SpeechBrain's BatchNorm1d,
    which keeps its torch BatchNorm as `.norm`.
    """
    state = {}
    for name, tensor in head.state_dict().items():
        index, param = name.split(".", 1)
        if isinstance(head[int(index)], torch.nn.BatchNorm1d):
            name = f"{index}.norm.{param}"
        state[name] = tensor.clone()
    return state


def head_state_from_export(state):
    """Inverse of exported_head_state."""
    return {name.replace(".norm.", "."): tensor for name, tensor in state.items()}


def default_device():
    """cuda when a GPU is visible, else cpu."""
    return "cuda" if torch.cuda.is_available() else "cpu"


class TrainedModel:
    """A fine-tuned encoder and CTC head with the vocabulary and text rules of its language.

    `head_config`: the CTCHead arguments. `exported_lm`: for an export made
    with an LM, {lm (path), alpha, beta, beam_size, and the pruning thresholds it
    recorded}: crossling_asr.decoding.transcribe.Decoder's keyword arguments; else None.
    """

    def __init__(self, encoder, head, head_config, tokenizer, language_spec, source, exported_lm=None, device="cpu"):
        self.device = torch.device(device)
        self.encoder = encoder.to(self.device).eval()
        self.head = head.to(self.device).eval()
        self.head_config = head_config
        self.tokenizer = tokenizer
        self.blank_index = tokenizer.get_blank_index()
        self.language_spec = language_spec
        self.normalizer = TextNormalizer(language_spec)
        self.source = str(source)
        self.exported_lm = exported_lm

    @classmethod
    def load(cls, path, device=None):
        """From a run's output folder (has results.json) or an export (has model_info.json)."""
        path = Path(path)
        if (path / MODEL_INFO_FILE).is_file():
            return cls.from_export(path, device)
        if (path / RESULTS_FILE).is_file():
            return cls.from_run(load_finished_run(path), device)
        raise TrainedModelError(
            f"{path} is neither a finished run (no {RESULTS_FILE}) nor an exported model (no {MODEL_INFO_FILE})"
        )

    @classmethod
    def from_run(cls, run, device=None):
        """The best checkpoint by dev CER of a FinishedRun."""
        encoder = SSLEncoder(
            source=str(encoder_config_dir(run)),
            save_path=str(run.folder / "save" / "encoder_cache"),
            random_init=True,
            config_overrides=run.hparams.get("encoder_config"),
            freeze=True,
            apply_spec_augment=False,
        )
        encoder.load_state_dict(load_weights(run.checkpoint / "encoder.ckpt"))
        head_state = load_weights(run.checkpoint / "head.ckpt")
        layout = head_layout(head_state, head_kwargs(run))
        head = CTCHead(**layout)
        head.load_state_dict(head_state)
        tokenizer = load_tokenizer(run.tokenizer_file, layout["n_tokens"])
        return cls(encoder, head, layout, tokenizer, run.language_spec, run.folder, device=device or default_device())

    @classmethod
    def from_export(cls, path, device=None):
        """A folder written by crossling_asr.interop.encoder_asr."""
        path = Path(path)
        info = json.loads((path / MODEL_INFO_FILE).read_text(encoding="utf-8"))
        encoder = SSLEncoder(
            source=str(path),
            save_path=str(path),
            family=info["encoder"]["family"],
            freeze=True,
            apply_spec_augment=False,
        )
        head = CTCHead(**info["head"])
        head.load_state_dict(head_state_from_export(load_weights(path / HEAD_FILE)))
        spec = LanguageSpec(code=info["language"], **info["text"])
        decoding = info.get("decoding", {})
        exported_lm = None
        if decoding.get("method") == "beam_lm":
            # Every beam search setting the export recorded: weights, beam size and any pruning.
            exported_lm = {"lm": path / LM_FILE, **{key: value for key, value in decoding.items() if key != "method"}}
        tokenizer = load_tokenizer(path / TOKENIZER_FILE, info["head"]["n_tokens"])
        return cls(encoder, head, info["head"], tokenizer, spec, path, exported_lm, device or default_device())

    @torch.no_grad()
    def log_probs(self, signals):
        """CTC log-posteriors (batch, frames, vocab) on the CPU and each signal's frame count.

        `signals`: 1-D 16 kHz tensors, right-padded into one batch as in
        training (SpeechBrain's batch_pad_right, relative lengths).
        """
        wavs, wav_lens = batch_pad_right(list(signals))
        wav_lens = wav_lens.to(self.device)
        features = self.encoder(wavs.to(self.device), wav_lens)
        log_probs = self.head(features).float().log_softmax(dim=-1).cpu()
        frames = torch.round(wav_lens.cpu() * log_probs.shape[1]).long()
        return log_probs, frames
