"""Write a finished run as a folder SpeechBrain's EncoderASR loads, with a model card; upload it.

A user of an exported model never sees this repository, so the exported
`hyperparams.yaml` names only classes SpeechBrain, transformers and torch
ship: SpeechBrain's `Wav2Vec2` reads the fine-tuned encoder (config.json,
preprocessor_config.json, model.safetensors, written by transformers'
`save_pretrained`) from the folder itself, the CTC head is a
`torch.nn.Sequential` whose weights (`ctc_head.pt`, tensors only) and the
character vocabulary (`label_encoder.txt`) are loaded by SpeechBrain's
Pretrainer. Nothing is downloaded and nothing pickled is unpickled.

Weights come from the run's best checkpoint by dev CER, loaded by
crossling_asr.trained_model, which also reads exported folders back
(`model_info.json` keeps what it needs beyond the YAML). The model card is
huggingface_hub's ModelCard, its metadata (model-index with the test WER and
CER) written by ModelCardData.

Audio normalisation: the training encoder (`SSLEncoder`) normalises each
utterance over its real samples; SpeechBrain's `Wav2Vec2` normalises over
the padded batch tensor. For one file at a time (no padding) the two agree;
in batches of clips of different lengths SpeechBrain's may differ slightly.
"""

import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from crossling_asr.atomic import write_json, write_text
from crossling_asr.lm import resolve_lm_weights
from crossling_asr.registry import load_registry
from crossling_asr.run_layout import source_tag
from crossling_asr.trained_model import (
    HEAD_FILE,
    LM_FILE,
    MODEL_INFO_FILE,
    TOKENIZER_FILE,
    TrainedModel,
    exported_head_state,
    hub_model_id,
    load_finished_run,
)

logger = logging.getLogger(__name__)

EXPORT_FORMAT = 1
STUDY_ARXIV = "2511.21704"
# A Common Voice release folder as Mozilla names it: cv-corpus-<major>.<minor>-<date>.
CV_RELEASE_FOLDER = re.compile(r"cv-corpus-(\d+)\.(\d+)-\d{4}-\d{2}-\d{2}")


class ExportError(ValueError):
    """An export that cannot be written (target folder, LM, head layers), naming what is wrong."""


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
    `lm_weights` ({alpha, beta, beam_size}, any of them, None for unset)
    then overrides the tuned weights (crossling_asr.lm.resolve_lm_weights).
    The folder is written beside `export_dir` and renamed into place.
    """
    run = load_finished_run(output_folder)
    export_dir = Path(export_dir).resolve()
    _check_target(export_dir, overwrite)
    model = TrainedModel.from_run(run, device="cpu")
    beam = None
    if lm_file is not None:
        if not run.language_spec.word_delimiter:
            raise ExportError(f"{run.results['run']['language']} has no word delimiter: no word LM")
        if not Path(lm_file).is_file():
            raise ExportError(f"LM file {lm_file} not found")
        beam = resolve_lm_weights(lm_file, **(lm_weights or {}))

    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{export_dir.name}.", dir=export_dir.parent))
    try:
        model.encoder.model.save_pretrained(staging, safe_serialization=True)
        model.encoder.feature_extractor.save_pretrained(staging)
        torch.save(exported_head_state(model.head), staging / HEAD_FILE)
        shutil.copyfile(run.tokenizer_file, staging / TOKENIZER_FILE)
        if beam is not None:
            shutil.copyfile(lm_file, staging / LM_FILE)
        info = model_info(run, model, beam)
        write_json(staging / MODEL_INFO_FILE, info)
        write_text(
            staging / "hyperparams.yaml",
            exported_hyperparams(export_dir, model.head, model.blank_index, beam),
        )
        model_card(run, info).save(staging / "README.md")
        _share_like_new_files(staging)
        if export_dir.exists():
            shutil.rmtree(export_dir)
        staging.rename(export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("Exported %s (checkpoint %s) to %s", run.folder, run.checkpoint.name, export_dir)
    return export_dir


def load_encoder_asr(source, savedir, **kwargs):
    """SpeechBrain's EncoderASR of an export, wherever its folder now is (or of a hub repo id).

    An export's hyperparams.yaml names its folder by the absolute path it was
    written to (`model_dir`): SpeechBrain 1.1.2's `from_hparams` builds the
    encoder while reading the YAML and passes `source` only to the fetching of
    that YAML and of the Pretrainer's files, so the YAML cannot find its own
    folder. For a local folder this passes `overrides={"model_dir": <folder>}`
    itself; other keyword arguments go to `EncoderASR.from_hparams`. A
    `model_dir` given as a path that is no folder (a stale one) raises
    ExportError saying what to pass, where SpeechBrain would take the path
    for a hub repo id ("Repo id must be in the form ...").
    """
    from speechbrain.inference.ASR import EncoderASR

    overrides = dict(kwargs.pop("overrides", None) or {})
    if Path(source).is_dir():
        overrides.setdefault("model_dir", str(Path(source).resolve()))
    model_dir = str(overrides.get("model_dir", ""))
    path_like = Path(model_dir).is_absolute() or model_dir.startswith(".") or model_dir.count("/") > 1
    if path_like and not Path(model_dir).is_dir():
        raise ExportError(stale_model_dir_message(source, model_dir))
    return EncoderASR.from_hparams(source=str(source), savedir=str(savedir), overrides=overrides, **kwargs)


def stale_model_dir_message(source, model_dir):
    """What to do when an export's model_dir (its folder at export time) is no longer there."""
    return (
        f"model_dir {model_dir!r} is not a folder (the export was moved?): load {str(source)!r} with "
        f"crossling_asr.export.load_encoder_asr(folder, savedir), or pass "
        f"overrides={{'model_dir': '<the export folder>'}} to EncoderASR.from_hparams"
    )


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


def model_info(run, model, beam):
    """model_info.json: what a reader of the export needs beyond hyperparams.yaml."""
    results = run.results
    encoder = model.encoder
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
        "head": model.head_config,
        "vocabulary_size": len(model.tokenizer),
        "blank_index": model.blank_index,
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
    """The export's README.md as a huggingface_hub ModelCard: metadata (card_metadata), then the
    model, its data, scores, limits, usage and citation."""
    results = run.results
    language = info["language"]
    encoder_name = info["encoder"]["name"]
    source = info["encoder"]["source"]
    facts = load_registry().get(encoder_name, {})
    # A run whose --encoder_source replaced the registry's weights (a smoke run's tiny
    # encoder, say) is named with its source wherever the registry name appears.
    replaced = source_tag(encoder_name, source) is not None
    encoder_label = f"{encoder_name} (weights from {source})" if replaced else encoder_name
    replaced_note = (
        f" (replacing the registry's `{facts.get('source')}`: not the study's {encoder_name} weights)"
        if replaced else ""
    )
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
    if facts and replaced:
        pretraining += (
            f" — facts of the registry's `{facts.get('source')}`; this run replaced the source "
            f"by `{source}`, so they hold only if that is a copy of it"
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
    title = f"{encoder_label} fine-tuned with CTC on Common Voice {language}"
    body = f"""# {title}

A character CTC speech recogniser for **{language}**: the encoder `{info['encoder']['source']}`
({info['encoder']['family']}) fine-tuned with a {"linear" if not info['head'].get('hidden_layers') else "multi-layer"}
CTC head, as in the study *On the Cross-lingual Transferability of Pre-trained wav2vec2-based
Models* (arXiv {STUDY_ARXIV}). Seed {info['seed']}.

## Encoder

- name in the study's registry: `{encoder_name}`; source: `{source}`{replaced_note}
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

asr = EncoderASR.from_hparams(source="path/to/this/folder", savedir="pretrained_models/asr",
                              overrides={{"model_dir": "path/to/this/folder"}})
print(asr.transcribe_file("clip.wav"))  # any file soundfile reads; resampled to 16 kHz
```

The YAML's `model_dir` holds the folder's absolute path at export time, and SpeechBrain
builds the encoder from it before it knows where the YAML came from: wherever the folder
is now, pass its path as `model_dir` (above; on the hub, `source` is the repo id and no
override is needed). Without it a moved folder fails with huggingface_hub's
"Repo id must be in the form ..." error naming the old path. With this repository
installed, `crossling_asr.export.load_encoder_asr("path/to/this/folder", "pretrained_models/asr")`
passes it for you and names what is wrong when it cannot.

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
    return ModelCard(f"---\n{card_metadata(results, info, title).to_yaml()}\n---\n\n{body}")


def common_voice_release(release_folder):
    """The Common Voice release ("7.0") named by a folder of the data path, or None.

    Mozilla names release folders cv-corpus-<version>-<date>; the recipe's
    data folder is the language folder inside one. Any other layout (a
    renamed copy, a delta release, the synthetic corpus) gives None.
    """
    for part in reversed(Path(release_folder or "").parts):
        match = CV_RELEASE_FOLDER.fullmatch(part)
        if match:
            return f"{match[1]}.{match[2]}"
    return None


def card_metadata(results, info, title):
    """The card's ModelCardData: language, tags, base model, and a model-index of the test scores.

    The dataset is Mozilla's hub copy of the release the data folder names
    (mozilla-foundation/common_voice_7_0 for cv-corpus-7.0-...), its config
    the language code, split test. When the folder does not name a release
    the dataset is the generic `common_voice`, named as of unknown release.
    """
    language = info["language"]
    release = common_voice_release((results.get("data") or {}).get("release_folder"))
    if release is None:
        dataset_type, dataset_name = "common_voice", f"Common Voice {language} (release unknown)"
    else:
        dataset_type = f"mozilla-foundation/common_voice_{release.replace('.', '_')}"
        dataset_name = f"Common Voice {release} {language}"
    test = results["metrics"]["test"]
    eval_results = [
        EvalResult(
            task_type="automatic-speech-recognition", task_name="Speech Recognition",
            dataset_type=dataset_type, dataset_name=dataset_name, dataset_config=language, dataset_split="test",
            metric_type=metric.lower(), metric_name=f"Test {metric}", metric_value=test[metric],
        )
        for metric in ("WER", "CER")
        if test.get(metric) is not None
    ]
    base_model = None if info["encoder"]["random_init"] else hub_model_id(info["encoder"]["source"])
    return ModelCardData(
        language=language.split("-")[0],
        library_name="speechbrain",
        pipeline_tag="automatic-speech-recognition",
        tags=["automatic-speech-recognition", "ctc", "speechbrain", info["encoder"]["family"], "common-voice"],
        datasets=[dataset_type],
        metrics=["wer", "cer"],
        base_model=base_model,
        model_name=title,
        eval_results=eval_results or None,
    )


def upload_export(export_dir, repo_id, private=True):
    """Upload an exported folder to the Hugging Face hub as `repo_id`, in one commit; returns its URL.

    The uploaded hyperparams.yaml points `model_dir` at the repo, so
    `EncoderASR.from_hparams(source=repo_id)` fetches everything from there;
    that one file is sent from memory, every other file from its path in
    the folder (nothing is copied; the local folder is unchanged).
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    export_dir = Path(export_dir)
    hparams_file = export_dir / "hyperparams.yaml"
    hparams_text = hparams_file.read_text(encoding="utf-8")
    local_line = f"model_dir: {json.dumps(str(export_dir.resolve()))}"
    if local_line not in hparams_text:
        raise ExportError(f"{hparams_file} has no model_dir line for this folder")
    hub_hparams = hparams_text.replace(local_line, f"model_dir: {json.dumps(repo_id)}")
    operations = [
        CommitOperationAdd(path_in_repo=path.relative_to(export_dir).as_posix(), path_or_fileobj=str(path))
        for path in sorted(export_dir.rglob("*"))
        if path.is_file() and path != hparams_file
    ]
    operations.append(CommitOperationAdd(path_in_repo=hparams_file.name, path_or_fileobj=hub_hparams.encode("utf-8")))
    api = HfApi()
    url = api.create_repo(repo_id, private=private, exist_ok=True)
    api.create_commit(repo_id, operations, commit_message="Upload exported model")
    return str(url)
