"""The README.md model cards of exported and imported folders, and model_info.json.

Cards are huggingface_hub ModelCards: metadata written by ModelCardData (language, licence,
base model, a model-index with the test WER and CER), then what a reader needs: the model,
its data, scores, limits, usage and citation. `model_info` is what the project itself reads
back from an exported folder (crossling_asr.model.trained_model) beyond hyperparams.yaml.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from crossling_asr.decoding.beam_search import PRUNING_OPTIONS
from crossling_asr.model.trained_model import (
    HEAD_FILE,
    LM_FILE,
    TOKENIZER_FILE,
    FinishedRun,
    TrainedModel,
    hub_model_id,
)
from crossling_asr.registry import load_registry
from crossling_asr.results import tested_checkpoint_key, tested_dev_scores
from crossling_asr.run_layout import source_tag

EXPORT_FORMAT = 1
STUDY_ARXIV = "2511.21704"
# The licence of this project's code, under which exports are released (the hub's identifier).
# The pre-trained encoder's own licence applies to its weights as well; every card says so.
LICENSE = "apache-2.0"
# A Common Voice release folder as Mozilla names it: cv-corpus-<major>.<minor>-<date>.
CV_RELEASE_FOLDER = re.compile(r"cv-corpus-(\d+)\.(\d+)-\d{4}-\d{2}-\d{2}")
LICENSE_NOTE = (
    f"The exported files are released under the {LICENSE} licence; the pre-trained encoder's "
    "own licence (see its model card) applies to its weights too."
)


def model_info(run: FinishedRun, model: TrainedModel, beam: dict | None) -> dict:
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
        "checkpoint": {
            "name": run.checkpoint.name,
            "dev_CER": tested_dev_scores(results).get("CER"),
            "chosen_as": checkpoint_choice(results),
        },
        "metrics": results["metrics"],
        "seed": results["run"]["seed"],
        "data": results.get("data"),
        "versions": results.get("versions"),
    }


def checkpoint_choice(results: dict) -> str:
    """How the run chose the checkpoint it tested, in words."""
    return "lowest dev CER" if tested_checkpoint_key(results) else "the last epoch's"


def fmt(value: float | None, digits: int = 2) -> str:
    """A score for a card: fixed decimals, or n/a when missing."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def decoding_text(decoding: dict) -> str:
    """How an export decodes (model_info's "decoding"), in words: every setting of its beam search,
    pruning included, so the card names the decoder the LM weights were tuned with."""
    if decoding["method"] == "greedy":
        return "greedy (best path) CTC decoding, no language model"
    pruning = "".join(f", `{name}` {decoding[name]}" for name in PRUNING_OPTIONS if name in decoding)
    return (
        f"CTC beam search (beam {decoding['beam_size']}) with the word n-gram LM `{LM_FILE}` "
        f"(alpha {decoding['alpha']}, beta {decoding['beta']}{pruning}); needs `pip install kenlm pygtrie`"
    )


def model_card(run: FinishedRun, info: dict) -> ModelCard:
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
        if replaced
        else ""
    )
    test, dev = results["metrics"]["test"], tested_dev_scores(results)
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
    unverified_note = f" — not verified against the model card: {', '.join(unverified)}" if unverified else ""
    wer_note = (
        ""
        if wer_meaningful
        else " The language is written without spaces between words: WER is not meaningful, use CER."
    )
    split_rows = "\n".join(
        f"| {name} | {s.get('utterances')} | {fmt(s.get('hours'))} | {s.get('speakers')} |"
        for name, s in splits.items()
    )
    setting_keys = [
        "number_of_epochs",
        "encoder_lr",
        "head_lr",
        "weight_decay",
        "warmup_ratio",
        "lr_warmup_steps",
        "lr_decay_steps",
        "encoder_freeze_steps",
        "batch_size",
        "dynamic_batching",
        "group_by_length",
        "model_selection",
        "append_word_delimiter",
        "final_dropout",
        "ctc_zero_infinity",
        "gradient_checkpointing",
        "grad_accumulation_factor",
        "precision",
        "ctc_reduction",
        "freeze_feature_encoder",
        "max_duration",
        "sample_rate",
    ]
    settings = "\n".join(f"- `{k}`: {hp[k]}" for k in setting_keys if k in hp)
    if hp.get("encoder_config"):
        settings += f"\n- `encoder_config`: {json.dumps(hp['encoder_config'])}"
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

A character CTC speech recogniser for **{language}**: the encoder `{info["encoder"]["source"]}`
({info["encoder"]["family"]}) fine-tuned with a {"linear" if not info["head"].get("hidden_layers") else "multi-layer"}
CTC head, as in the study *On the Cross-lingual Transferability of Pre-trained wav2vec2-based
Models* (arXiv {STUDY_ARXIV}). Seed {info["seed"]}.

## Encoder

- name in the study's registry: `{encoder_name}`; source: `{source}`{replaced_note}
- {pretraining}
- parameters (millions): {fmt(encoder_parameters / 1e6 if encoder_parameters else None, 1)}
- fact sources: {json.dumps(facts.get("sources", {}))}{unverified_note}

## Training data

Common Voice folder `{(results.get("data") or {}).get("release_folder")}` (the release and
splits used are those of that folder; Common Voice test sets of different releases overlap).

| split | utterances | hours | speakers |
|---|---|---|---|
{split_rows}

## Results

| | WER (%) | CER (%) |
|---|---|---|
| test ({test.get("n_utterances")} utterances) | {fmt(test.get("WER"))} | {fmt(test.get("CER"))} |
| dev, the checkpoint exported (epoch {dev.get("epoch")}) | {fmt(dev.get("WER"))} | {fmt(dev.get("CER"))} |

These scores are of greedy decoding without a language model; the primary metric for {language}
is {results["metrics"].get("primary")}.{wer_note}
This export decodes with {decoding_text(info["decoding"])}.

## Training settings

{training.get("epochs")} epochs, {training.get("optimizer_steps")} optimizer steps,
{training.get("wall_seconds")} s of training. Checkpoint `{info["checkpoint"]["name"]}`
({info["checkpoint"]["chosen_as"]}) is exported.

{settings}

Library versions: {json.dumps(info.get("versions") or {})}

## Text normalisation

Transcripts are NFKC-normalised, {"lower-cased, " if info["text"].get("lowercase", True) else ""}stripped of
punctuation and limited to the alphabet `{info["text"].get("alphabet")}`; digits and other
characters are not in the vocabulary.{"" if wer_meaningful else " Spaces are removed."} Compare outputs with
references normalised the same way.

## Limitations

- Trained on read speech of Common Voice; expect higher error rates on spontaneous,
  noisy, far-field or accented speech under-represented in Common Voice.
- The output has no punctuation, casing or digits.
- {batching_note}
- Check the licence of the pre-trained encoder `{info["encoder"]["source"]}` before use.

## Licence

{LICENSE_NOTE}

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
installed, `crossling_asr.interop.encoder_asr.load_encoder_asr("path/to/this/folder", "pretrained_models/asr")`
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


def common_voice_release(release_folder: str | Path | None) -> str | None:
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


def card_metadata(results: dict, info: dict, title: str) -> ModelCardData:
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
            task_type="automatic-speech-recognition",
            task_name="Speech Recognition",
            dataset_type=dataset_type,
            dataset_name=dataset_name,
            dataset_config=language,
            dataset_split="test",
            metric_type=metric.lower(),
            metric_name=f"Test {metric}",
            metric_value=test[metric],
        )
        for metric in ("WER", "CER")
        if test.get(metric) is not None
    ]
    base_model = None if info["encoder"]["random_init"] else hub_model_id(info["encoder"]["source"])
    return ModelCardData(
        language=language.split("-")[0],
        license=LICENSE,
        library_name="speechbrain",
        pipeline_tag="automatic-speech-recognition",
        tags=["automatic-speech-recognition", "ctc", "speechbrain", info["encoder"]["family"], "common-voice"],
        datasets=[dataset_type],
        metrics=["wer", "cer"],
        base_model=base_model,
        model_name=title,
        eval_results=eval_results or None,
    )


def transformers_card(run: FinishedRun, info: dict, ctc_class: str) -> ModelCard:
    """The export's README.md: card_metadata's metadata (model-index with the test
    WER/CER, datasets, base model) for the transformers library, and how to use it."""
    language, encoder = info["language"], info["encoder"]
    title = f"{encoder['name']} fine-tuned with CTC on Common Voice {language} ({ctc_class})"
    data = card_metadata(run.results, info, title)
    data.library_name = "transformers"
    data.tags = [tag if tag != "speechbrain" else "transformers" for tag in data.tags]
    test = info["metrics"]["test"]
    lower_case = "lower case, " if info["text"].get("lowercase", True) else ""
    body = f"""# {title}

A character CTC speech recogniser for **{language}**: the encoder `{encoder["source"]}`
({encoder["family"]}) fine-tuned with a linear CTC head (seed {info["seed"]}) by the recipes of the
study *On the Cross-lingual Transferability of Pre-trained wav2vec2-based Models* (arXiv
{STUDY_ARXIV}), exported from checkpoint `{info["checkpoint"]["name"]}` ({info["checkpoint"]["chosen_as"]}) as a
transformers `{ctc_class}`.

Test WER {fmt(test.get("WER"))} %, CER {fmt(test.get("CER"))} % ({test.get("n_utterances")} utterances of
Common Voice folder `{(info.get("data") or {}).get("release_folder")}`), greedy decoding without a
language model. Outputs are {language} text as the recipe normalises it (NFKC, {lower_case}no punctuation
or digits, alphabet `{info["text"].get("alphabet")}`): compare them with references normalised the same way.

## Usage

```python
from transformers import pipeline

asr = pipeline("automatic-speech-recognition", model="path/to/this/folder")
print(asr("clip.wav")["text"])  # a file (read with ffmpeg), or {{"raw": samples, "sampling_rate": 16000}}
```

The feature extractor's `do_normalize: {info["encoder"]["normalize_wav"]}` (each clip to zero mean and unit
variance over its own samples) and `return_attention_mask: {info["encoder"]["pass_attention_mask"]}` are what the
training encoder did, so transformers prepares audio as training did.

## Licence

{LICENSE_NOTE}
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def imported_card(info: dict) -> ModelCard:
    """The imported folder's README.md: where the weights come from and how to load them."""
    checkpoint = info["checkpoint"]
    origin = checkpoint["hub_id"] or checkpoint["source"]
    revision = f" at commit `{checkpoint['revision']}`" if checkpoint["revision"] else ""
    base = f", fine-tuned from `{checkpoint['card_base_model']}`" if checkpoint["card_base_model"] else ""
    data = ModelCardData(
        language=info["language"].split("-")[0],
        library_name="speechbrain",
        pipeline_tag="automatic-speech-recognition",
        tags=["automatic-speech-recognition", "ctc", "speechbrain", info["encoder"]["family"]],
        base_model=checkpoint["hub_id"],
    )
    body = f"""# {Path(origin).name} for SpeechBrain

The transformers CTC checkpoint `{origin}`{revision} ({checkpoint["architecture"]}, weights
`{checkpoint["weights_file"]}`{base}) as a SpeechBrain `EncoderASR` folder: the same encoder weights,
its `lm_head` as `{HEAD_FILE}` and its vocabulary as `{TOKENIZER_FILE}`, decoded greedily.
Language: {info["language"]}.

```python
from speechbrain.inference.ASR import EncoderASR

asr = EncoderASR.from_hparams(source="path/to/this/folder", savedir="pretrained_models/asr")
print(asr.transcribe_file("clip.wav"))
```

After moving the folder, add `overrides={{"model_dir": "path/to/this/folder"}}`.

## Licence

The licence of `{origin}` applies: this folder holds its weights, converted.
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
