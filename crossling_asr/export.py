"""Turn a finished run into a folder SpeechBrain's EncoderASR loads, with a model card.

A user of an exported model never sees this repository, so the exported
`hyperparams.yaml` names only classes SpeechBrain, transformers and torch
ship: SpeechBrain's `Wav2Vec2` reads the fine-tuned encoder (config.json,
preprocessor_config.json, model.safetensors, written by transformers'
`save_pretrained`) from the folder itself, the CTC head is a
`torch.nn.Sequential` whose weights (`ctc_head.pt`, tensors only) and the
character vocabulary (`label_encoder.txt`) are loaded by SpeechBrain's
Pretrainer. Nothing is downloaded and nothing pickled is unpickled.

Weights come from the run's best checkpoint by dev CER (the one the test
score in results.json was computed with). The same loaders serve
`crossling_asr.transcribe`, which also reads exported folders
(`model_info.json` keeps what it needs beyond the YAML).

Audio normalisation: the training encoder (`SSLEncoder`) normalises each
utterance over its real samples; SpeechBrain's `Wav2Vec2` normalises over
the padded batch tensor. For one file at a time (no padding) the two agree;
in batches of clips of different lengths SpeechBrain's may differ slightly.
"""

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ruamel.yaml
import torch
from hyperpyyaml import resolve_references
from speechbrain.dataio.encoder import CTCTextEncoder
from speechbrain.utils.checkpoints import Checkpointer

from crossling_asr.atomic import write_json, write_text
from crossling_asr.encoders import SSLEncoder
from crossling_asr.registry import load_registry
from crossling_asr.hparams import REPO_ROOT
from crossling_asr.model import CTCHead
from crossling_asr.text import LanguageSpec

logger = logging.getLogger(__name__)

EXPORT_FORMAT = 1
RESULTS_FILE = "results.json"
MODEL_INFO_FILE = "model_info.json"
HEAD_FILE = "ctc_head.pt"
TOKENIZER_FILE = "label_encoder.txt"
LM_FILE = "lm.arpa"
HEAD_CLASS_TAG = "!name:crossling_asr.model.CTCHead"
STUDY_ARXIV = "2511.21704"


class ExportError(ValueError):
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
        raise ExportError(
            f"the {split} manifest of {self.folder} is not at " + " or ".join(map(str, candidates))
        )


def load_finished_run(output_folder):
    """Check an output folder is a finished run and locate its best checkpoint by dev CER."""
    folder = Path(output_folder)
    results_file = folder / RESULTS_FILE
    if not folder.is_dir():
        raise ExportError(f"output folder {folder} does not exist")
    if not results_file.is_file():
        raise ExportError(
            f"{results_file} not found: {folder} is not a finished run (results.json is "
            "written once the test set is scored)"
        )
    results = json.loads(results_file.read_text(encoding="utf-8"))
    if results.get("status") != "finished":
        raise ExportError(f"{results_file}: status is {results.get('status')!r}, not 'finished'")
    save_folder = folder / "save"
    tokenizer_file = save_folder / TOKENIZER_FILE
    if not tokenizer_file.is_file():
        raise ExportError(f"vocabulary file {tokenizer_file} not found")
    best = Checkpointer(save_folder).find_checkpoint(min_key="CER")
    if best is None:
        raise ExportError(f"no checkpoint with a dev CER in {save_folder}")
    for name in ("encoder.ckpt", "head.ckpt"):
        if not (best.path / name).is_file():
            raise ExportError(f"checkpoint file {best.path / name} not found")
    return FinishedRun(folder, results, best.path, tokenizer_file)


def load_tokenizer(path, n_outputs):
    """The CTC character vocabulary saved at `path`, checked against the head's outputs."""
    tokenizer = CTCTextEncoder()
    tokenizer.load(path)
    try:
        tokenizer.expect_len(n_outputs)
    except RuntimeError as err:
        raise ExportError(f"{path} does not fit the CTC head ({n_outputs} outputs): {err}") from err
    return tokenizer


def encoder_config_dir(run):
    """The directory holding the run's encoder config.json and preprocessor_config.json.

    The baseline's architecture folder, a local encoder source, or the
    snapshot of a hub encoder in the run's download cache (save/encoder_cache).
    """
    cache = run.folder / "save" / "encoder_cache"
    source = run.results["run"]["encoder_source"]
    candidates = [cache / "architecture", Path(source)]
    if "/" in source:
        candidates += sorted((cache / f"models--{source.replace('/', '--')}" / "snapshots").glob("*"))
    for candidate in candidates:
        if (candidate / "config.json").is_file() and (candidate / "preprocessor_config.json").is_file():
            return candidate
    raise ExportError(
        f"no config.json + preprocessor_config.json for encoder {source}: looked in "
        + ", ".join(str(c) for c in candidates)
    )


def head_kwargs(run):
    """The CTCHead options the run was built with, read from its saved hyperparams.yaml."""
    hparams_file = run.folder / "hyperparams.yaml"
    if not hparams_file.is_file():
        raise ExportError(f"{hparams_file} not found")
    with open(hparams_file, encoding="utf-8") as f:
        resolved = resolve_references(f).getvalue()
    node = ruamel.yaml.YAML(typ="rt").load(resolved).get("ctc_head")
    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag != HEAD_CLASS_TAG:
        raise ExportError(f"{hparams_file}: ctc_head is {tag}, only {HEAD_CLASS_TAG} can be exported")
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


def build_run_modules(run):
    """The run's fine-tuned encoder (SSLEncoder), CTC head and head layout, from its best checkpoint.

    The encoder is built from its config with random weights, then the
    checkpoint's weights are loaded (strictly): the pre-trained weights are
    neither needed nor downloaded.
    """
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
    return encoder.eval(), head.eval(), layout


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


def head_layers_yaml(head):
    """The head's layers as HyperPyYAML list items of torch / SpeechBrain classes."""
    items = []
    for layer in head:
        if isinstance(layer, torch.nn.Linear):
            items.append(
                f"    - !new:torch.nn.Linear\n        in_features: {layer.in_features}\n"
                f"        out_features: {layer.out_features}"
            )
        elif isinstance(layer, torch.nn.BatchNorm1d):
            items.append(f"    - !new:speechbrain.nnet.normalization.BatchNorm1d\n        input_size: {layer.num_features}")
        elif isinstance(layer, torch.nn.LeakyReLU):
            items.append(f"    - !new:torch.nn.LeakyReLU\n        negative_slope: {layer.negative_slope}")
        elif isinstance(layer, torch.nn.Dropout):
            items.append(f"    - !new:torch.nn.Dropout\n        p: {layer.p}")
        else:
            raise ExportError(f"cannot export a head layer of type {type(layer).__name__}")
    return "\n".join(items)


def exported_hyperparams(model_dir, head, blank_index, beam=None):
    """The hyperparams.yaml text of an exported model.

    `beam`: None for greedy decoding, else {alpha, beta, beam_size} for
    SpeechBrain's CTCBeamSearcher with the folder's lm.arpa (needs kenlm).
    """
    if beam is None:
        decoding = (
            "# Greedy (best path) CTC decoding.\n"
            "decoding_function: !name:speechbrain.decoders.ctc_greedy_decode\n"
            f"    blank_id: {blank_index}\n"
        )
    else:
        decoding = (
            "# CTC beam search with the word n-gram LM lm.arpa (pip install kenlm pygtrie);\n"
            "# alpha weighs the LM, beta is a bonus per word (tuned on dev).\n"
            "decoding_function: !name:speechbrain.decoders.ctc.CTCBeamSearcher\n"
            "test_beam_search:\n"
            f"    blank_index: {blank_index}\n"
            '    space_token: " "\n'
            f"    beam_size: {beam['beam_size']}\n"
            f"    alpha: {beam['alpha']}\n"
            f"    beta: {beam['beta']}\n"
            f"    kenlm_model_path: !ref <model_dir>/{LM_FILE}\n"
        )
    return f"""# ############################################################################
# A wav2vec2-family encoder fine-tuned with a CTC head (see README.md).
# Load with:
#   from speechbrain.inference.ASR import EncoderASR
#   asr = EncoderASR.from_hparams(source="<this folder>", savedir="<a scratch folder>")
#   asr.transcribe_file("clip.wav")
# Only SpeechBrain, transformers and torch classes are used.
# ############################################################################

# Where config.json, model.safetensors, {HEAD_FILE} and {TOKENIZER_FILE} are: this
# folder when it was exported. After moving the folder, pass
# overrides={{"model_dir": "<new place>"}}; on the Hugging Face hub it is the repo id.
model_dir: {json.dumps(str(model_dir))}
# Download cache of the encoder files when model_dir is a hub repo id.
hf_cache_dir: pretrained_models/hf_cache
sample_rate: 16000

wav2vec2: !new:speechbrain.integrations.huggingface.wav2vec2.Wav2Vec2
    source: !ref <model_dir>
    save_path: !ref <hf_cache_dir>
    output_norm: False
    freeze: True
    freeze_feature_extractor: True
    apply_spec_augment: False

ctc_head: !new:torch.nn.Sequential
{head_layers_yaml(head)}

log_softmax: !new:speechbrain.nnet.activations.Softmax
    apply_log: True

encoder: !new:speechbrain.nnet.containers.LengthsCapableSequential
    input_shape: [null, null]
    wav2vec2: !ref <wav2vec2>
    ctc_head: !ref <ctc_head>
    log_softmax: !ref <log_softmax>

tokenizer: !new:speechbrain.dataio.encoder.CTCTextEncoder

{decoding}
modules:
    encoder: !ref <encoder>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        ctc_head: !ref <ctc_head>
        tokenizer: !ref <tokenizer>
    paths:
        ctc_head: !ref <model_dir>/{HEAD_FILE}
        tokenizer: !ref <model_dir>/{TOKENIZER_FILE}
"""


def export_model(output_folder, export_dir, lm_file=None, lm_weights=None, overwrite=False):
    """Write the self-contained EncoderASR folder of a finished run; returns its path.

    `lm_file` (an ARPA word LM) makes the export decode with beam search;
    `lm_weights` = {alpha, beta, beam_size} then sets its weights.
    The folder is written beside `export_dir` and renamed into place.
    """
    run = load_finished_run(output_folder)
    export_dir = Path(export_dir).resolve()
    _check_target(export_dir, overwrite)
    encoder, head, layout = build_run_modules(run)
    tokenizer = load_tokenizer(run.tokenizer_file, head[-1].out_features)
    beam = None
    if lm_file is not None:
        if not run.language_spec.word_delimiter:
            raise ExportError(f"{run.results['run']['language']} has no word delimiter: no word LM")
        if not Path(lm_file).is_file():
            raise ExportError(f"LM file {lm_file} not found")
        beam = {"alpha": 0.5, "beta": 1.5, "beam_size": 100, **(lm_weights or {})}

    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{export_dir.name}.", dir=export_dir.parent))
    try:
        encoder.model.save_pretrained(staging, safe_serialization=True)
        encoder.feature_extractor.save_pretrained(staging)
        torch.save(exported_head_state(head), staging / HEAD_FILE)
        shutil.copyfile(run.tokenizer_file, staging / TOKENIZER_FILE)
        if beam is not None:
            shutil.copyfile(lm_file, staging / LM_FILE)
        info = model_info(run, encoder, layout, tokenizer, beam)
        write_json(staging / MODEL_INFO_FILE, info)
        write_text(
            staging / "hyperparams.yaml",
            exported_hyperparams(export_dir, head, tokenizer.get_blank_index(), beam),
        )
        write_text(staging / "README.md", model_card(run, info))
        _share_like_new_files(staging)
        if export_dir.exists():
            shutil.rmtree(export_dir)
        staging.rename(export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("Exported %s (checkpoint %s) to %s", run.folder, run.checkpoint.name, export_dir)
    return export_dir


def _share_like_new_files(folder):
    """Give the folder and its files the permissions the umask gives new ones
    (the temporary names they were written under are private to the owner)."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def _check_target(export_dir, overwrite):
    """Refuse to replace anything but an earlier export (and that only with overwrite)."""
    if not export_dir.exists():
        return
    if not export_dir.is_dir():
        raise ExportError(f"{export_dir} exists and is not a directory")
    if not any(export_dir.iterdir()):
        export_dir.rmdir()
        return
    if not (export_dir / MODEL_INFO_FILE).is_file():
        raise ExportError(f"{export_dir} is not empty and is not an exported model: not touching it")
    if not overwrite:
        raise ExportError(f"{export_dir} already holds an exported model (use --overwrite)")


def model_info(run, encoder, head_layout, tokenizer, beam):
    """model_info.json: what a reader of the export needs beyond hyperparams.yaml."""
    results = run.results
    return {
        "export_format": EXPORT_FORMAT,
        "language": results["run"]["language"],
        "text": dict(run.hparams["text"]),
        "encoder": {
            "name": results["run"]["encoder"],
            "source": results["run"]["encoder_source"],
            "family": type(encoder.model).__name__,
            "random_init": results["run"].get("random_init", False),
            "normalize_wav": bool(encoder.normalize_wav),
            "pass_attention_mask": bool(encoder.pass_attention_mask),
        },
        "head": head_layout,
        "vocabulary_size": len(tokenizer),
        "blank_index": tokenizer.get_blank_index(),
        "decoding": {"method": "greedy"} if beam is None else {"method": "beam_lm", **beam},
        "checkpoint": {"name": run.checkpoint.name, "dev_CER": results["metrics"]["dev_best"].get("CER")},
        "metrics": results["metrics"],
        "seed": results["run"]["seed"],
        "data": results.get("data"),
        "versions": results.get("versions"),
    }


def _fmt(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def model_card(run, info):
    """README.md of an export: the model, its data, scores, limits, usage, citation."""
    results = run.results
    language = info["language"]
    encoder_name = info["encoder"]["name"]
    facts = load_registry().get(encoder_name, {})
    test, dev = results["metrics"]["test"], results["metrics"]["dev_best"]
    splits = (results.get("data") or {}).get("splits", {})
    training = results.get("training", {})
    hp = run.hparams
    wer_meaningful = results["metrics"].get("wer_meaningful", True)

    if info["encoder"]["random_init"]:
        pretraining = "the no-pretraining baseline: the architecture with random initial weights"
    else:
        pretraining = (
            f"pre-trained on {', '.join(facts.get('pretraining_data', [])) or 'unknown data'}, "
            f"{facts.get('pretraining_hours', 'unknown')} hours, "
            f"{facts.get('n_languages', 'unknown')} language(s)"
            + (f" ({', '.join(facts['languages'])})" if facts.get("languages") else "")
        )
    if facts and facts.get("source") != info["encoder"]["source"]:
        pretraining += (
            f" — facts of the registry's `{facts.get('source')}`; this run replaced the source "
            f"by `{info['encoder']['source']}`, so they hold only if that is a copy of it"
        )
    encoder_parameters = (results.get("parameters") or {}).get("encoder_total")
    unverified = facts.get("unverified") or []
    split_rows = "\n".join(
        f"| {name} | {s.get('utterances')} | {_fmt(s.get('hours'))} | {s.get('speakers')} |"
        for name, s in splits.items()
    )
    setting_keys = [
        "number_of_epochs", "encoder_lr", "head_lr", "weight_decay", "warmup_ratio",
        "encoder_freeze_steps", "batch_size", "dynamic_batching", "grad_accumulation_factor",
        "precision", "ctc_reduction", "freeze_feature_encoder", "max_duration", "sample_rate",
    ]
    settings = "\n".join(f"- `{k}`: {hp[k]}" for k in setting_keys if k in hp)
    if hp.get("encoder_config"):
        settings += f"\n- `encoder_config`: {json.dumps(hp['encoder_config'])}"
    decoding = info["decoding"]
    decoding_text = (
        "greedy (best path) CTC decoding, no language model"
        if decoding["method"] == "greedy"
        else f"CTC beam search (beam {decoding['beam_size']}) with the word n-gram LM `{LM_FILE}` "
        f"(alpha {decoding['alpha']}, beta {decoding['beta']}); needs `pip install kenlm pygtrie`"
    )
    batching_note = (
        "SpeechBrain's `Wav2Vec2` normalises a batch over its padded length and always passes "
        "an attention mask, whereas training normalised each clip over its own samples"
        + ("" if info["encoder"]["pass_attention_mask"] else " and passed no attention mask")
        + ". Single files (`transcribe_file`) are unaffected; batches of clips of different "
        "lengths may come out slightly differently. This repository's `local/transcribe.py` "
        "batches exactly as in training."
    )
    iso = language.split("-")[0]
    return f"""---
language: {iso}
library_name: speechbrain
pipeline_tag: automatic-speech-recognition
tags: [automatic-speech-recognition, ctc, speechbrain, {info['encoder']['family']}, common-voice]
datasets: [common_voice]
metrics: [wer, cer]
---

# {encoder_name} fine-tuned with CTC on Common Voice {language}

A character CTC speech recogniser for **{language}**: the encoder `{info['encoder']['source']}`
({info['encoder']['family']}) fine-tuned with a {"linear" if not info['head'].get('hidden_layers') else "multi-layer"}
CTC head, as in the study *On the Cross-lingual Transferability of Pre-trained wav2vec2-based
Models* (arXiv {STUDY_ARXIV}). Seed {info['seed']}.

## Encoder

- name in the study's registry: `{encoder_name}`; source: `{info['encoder']['source']}`
- {pretraining}
- parameters (millions): {_fmt(encoder_parameters / 1e6 if encoder_parameters else None, 1)}
- fact sources: {json.dumps(facts.get('sources', {}))}{" — not verified against the model card: " + ", ".join(unverified) if unverified else ""}

## Training data

Common Voice folder `{(results.get('data') or {}).get('release_folder')}` (the release and
splits used are those of that folder; Common Voice test sets of different releases overlap).

| split | utterances | hours | speakers |
|---|---|---|---|
{split_rows}

## Results

| | WER (%) | CER (%) |
|---|---|---|
| test ({test.get('n_utterances')} utterances) | {_fmt(test.get('WER'))} | {_fmt(test.get('CER'))} |
| dev, best checkpoint (epoch {dev.get('epoch')}) | {_fmt(dev.get('WER'))} | {_fmt(dev.get('CER'))} |

Greedy decoding without a language model; the primary metric for {language} is
{results['metrics'].get('primary')}.{"" if wer_meaningful else " The language is written without spaces between words: WER is not meaningful, use CER."}
This export decodes with {decoding_text}.

## Training settings

{training.get('epochs')} epochs, {training.get('optimizer_steps')} optimizer steps,
{training.get('wall_seconds')} s of training. Checkpoint `{info['checkpoint']['name']}`
(lowest dev CER) is exported.

{settings}

Library versions: {json.dumps(info.get('versions') or {})}

## Text normalisation

Transcripts are NFKC-normalised, {"lower-cased, " if info['text'].get('lowercase', True) else ""}stripped of
punctuation and limited to the alphabet `{info['text'].get('alphabet')}`; digits and other
characters are not in the vocabulary.{"" if wer_meaningful else " Spaces are removed."} Compare outputs with
references normalised the same way.

## Limitations

- Trained on read speech of Common Voice; expect higher error rates on spontaneous,
  noisy, far-field or accented speech under-represented in Common Voice.
- The output has no punctuation, casing or digits.
- {batching_note}
- Check the licence of the pre-trained encoder `{info['encoder']['source']}` before use.

## Usage

```python
from speechbrain.inference.ASR import EncoderASR

asr = EncoderASR.from_hparams(source="path/to/this/folder", savedir="pretrained_models/asr")
print(asr.transcribe_file("clip.wav"))  # any file soundfile reads; resampled to 16 kHz
```

The YAML's `model_dir` holds the folder's absolute path at export time: after moving the
folder, add `overrides={{"model_dir": "path/to/this/folder"}}`.

## Citation

```bibtex
@article{{grosman2025crosslingual,
  title   = {{On the Cross-lingual Transferability of Pre-trained wav2vec2-based Models}},
  author  = {{Grosman, Jonatas and Almeida, Pedro and Schardong, Guilherme and Lopes, H{{\\'e}}lio}},
  journal = {{arXiv preprint arXiv:{STUDY_ARXIV}}},
  year    = {{2025}}
}}
```
"""


def upload_export(export_dir, repo_id, private=True):
    """Upload an exported folder to the Hugging Face hub as `repo_id`.

    The uploaded hyperparams.yaml points `model_dir` at the repo, so
    `EncoderASR.from_hparams(source=repo_id)` fetches everything from there.
    """
    from huggingface_hub import HfApi

    export_dir = Path(export_dir)
    hparams_text = (export_dir / "hyperparams.yaml").read_text(encoding="utf-8")
    local_line = f"model_dir: {json.dumps(str(export_dir.resolve()))}"
    if local_line not in hparams_text:
        raise ExportError(f"{export_dir}/hyperparams.yaml has no model_dir line for this folder")
    api = HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "model"
        shutil.copytree(export_dir, staged)
        (staged / "hyperparams.yaml").write_text(
            hparams_text.replace(local_line, f"model_dir: {json.dumps(repo_id)}"), encoding="utf-8"
        )
        api.upload_folder(folder_path=str(staged), repo_id=repo_id, commit_message="Upload exported model")
    return f"https://huggingface.co/{repo_id}"
