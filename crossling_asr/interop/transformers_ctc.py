"""Between this project's runs and transformers CTC checkpoints, both ways.

`export_to_transformers`: a finished run becomes a folder that
`transformers.pipeline("automatic-speech-recognition", model=<folder>)` loads and that
transcribes like this project: a *ForCTC of the encoder's own family holding the run's
fine-tuned encoder (the checkpoint the run tested, read by crossling_asr.model.trained_model) and its
linear CTC head as `lm_head`, in safetensors; a Wav2Vec2Processor whose tokenizer is the
run's character vocabulary (the CTC blank, index 0, as the pad token; the space as the word
delimiter "|") and whose feature extractor normalises each clip and passes an attention mask
exactly where the training encoder (SSLEncoder) did; a model card with the test scores
(crossling_asr.interop.model_card). The weights are written under transformers 4.x's names
(`save_transformers4_compatible`), which transformers 5 renames on loading, so that the toolkits
still pinned to 4.x (HuggingSound) load every weight too. Only the study's head, one linear layer (dropout
before it is the ForCTC's final_dropout), has a transformers counterpart: other heads and
learned layer weights are refused.

`import_to_speechbrain`: a transformers CTC checkpoint (a released one of the study, a hub
id or a local folder; fetched and loaded safely by crossling_asr.interop.external_ctc) becomes an
EncoderASR folder like those crossling_asr.interop.encoder_asr writes, with its writers: the encoder
(model.safetensors + config), ctc_head.pt (the lm_head as a torch Linear), label_encoder.txt
from vocab.json, hyperparams.yaml naming only SpeechBrain, transformers and torch classes,
model_info.json (so crossling_asr.model.trained_model and local/transcribe.py read it too).

Both write through crossling_asr.interop.staging: staged beside the target, renamed into place.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch
import transformers
from speechbrain.dataio.encoder import CTCTextEncoder
from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2Processor

from crossling_asr.atomic import write_json, write_text
from crossling_asr.data.datasets import BLANK, UNK
from crossling_asr.data.text import language_spec_from_hparams
from crossling_asr.hparams import read_language_data
from crossling_asr.interop.encoder_asr import exported_hyperparams
from crossling_asr.interop.external_ctc import (
    card_base_model,
    checkpoint_language,
    fetch_checkpoint,
    load_ctc_checkpoint,
)
from crossling_asr.interop.model_card import EXPORT_FORMAT, imported_card, model_info, transformers_card
from crossling_asr.interop.released_names import parse_released_name
from crossling_asr.interop.staging import staged_folder
from crossling_asr.model.families import FAMILIES
from crossling_asr.model.heads import CTCHead
from crossling_asr.model.trained_model import (
    HEAD_FILE,
    MODEL_INFO_FILE,
    TOKENIZER_FILE,
    TrainedModel,
    exported_head_state,
    load_finished_run,
)

logger = logging.getLogger(__name__)

# The processor file transformers 5 writes beside preprocessor_config.json and the tokenizer's.
PROCESSOR_CONFIG_FILE = "processor_config.json"

# The transformers tokenizer's names for the project's CTC blank and word separator.
PAD_TOKEN = "<pad>"
WORD_DELIMITER = "|"


class ConversionError(ValueError):
    """A run or checkpoint that cannot be converted, naming what stands in the way."""


# ---- run -> transformers ----------------------------------------------------------------------

# transformers 5 names a weight-normalised convolution's magnitude and direction (the positional
# convolution of every family here) after torch's parametrization; transformers 4.23-4.29 (and any 4.x
# under torch < 2.1) after torch's older weight_norm. Old name per new name suffix.
TRANSFORMERS4_WEIGHT_NORM_NAMES = {
    ".parametrizations.weight.original0": ".weight_g",
    ".parametrizations.weight.original1": ".weight_v",
}


def transformers4_state_dict(model: transformers.PreTrainedModel) -> dict[str, torch.Tensor]:
    """`model`'s state dict with its weight-norm parameters under transformers 4.x's names.

    Hand-written because transformers 5 keeps that renaming (its "legacy" conversion mapping) for
    loading only: it reads both names but writes only the new ones, which transformers 4.24 does not
    know and silently leaves at random initialisation.
    """
    state = {}
    for key, value in model.state_dict().items():
        for new, old in TRANSFORMERS4_WEIGHT_NORM_NAMES.items():
            if key.endswith(new):
                key = key[: -len(new)] + old
        state[key] = value
    return state


def save_transformers4_compatible(model: transformers.PreTrainedModel, folder: Path) -> None:
    """Save a transformers model as save_pretrained does (config.json, model.safetensors), its
    weights under the names both transformers 4.x and 5 load (`transformers4_state_dict`)."""
    model.save_pretrained(folder, state_dict=transformers4_state_dict(model))


def linear_head(head: torch.nn.Sequential) -> tuple[torch.nn.Linear, float]:
    """(the Linear, dropout before it) of a study head; ConversionError for any other head."""
    layers = list(head)
    linears = [layer for layer in layers if isinstance(layer, torch.nn.Linear)]
    others = [type(layer).__name__ for layer in layers if not isinstance(layer, (torch.nn.Linear, torch.nn.Dropout))]
    if len(linears) != 1 or others or not isinstance(layers[-1], torch.nn.Linear):
        raise ConversionError(
            f"the run's CTC head is {' -> '.join(type(layer).__name__ for layer in layers)}; a transformers *ForCTC "
            "has one linear layer (lm_head), so only the study's head (hidden_layers: []) can be exported"
        )
    dropouts = [layer.p for layer in layers if isinstance(layer, torch.nn.Dropout)]
    return linears[0], (dropouts[0] if dropouts else 0.0)


def transformers_vocabulary(tokenizer: CTCTextEncoder) -> dict[str, int]:
    """vocab.json of a run's CTCTextEncoder: the blank as the pad token, the space as "|"."""
    blank = tokenizer.get_blank_index()
    vocab = {}
    for index in range(len(tokenizer)):
        label = tokenizer.ind2lab[index]
        token = PAD_TOKEN if index == blank else WORD_DELIMITER if label == " " else label
        if token in vocab:
            raise ConversionError(
                f"the run's vocabulary has {token!r} as a character: it cannot be a transformers "
                "CTC vocabulary, where that token is reserved"
            )
        vocab[token] = index
    return vocab


def export_to_transformers(output_folder: str | Path, export_dir: str | Path, overwrite: bool = False) -> Path:
    """Write a finished run as a transformers CTC folder (see the module docstring); returns its path."""
    run = load_finished_run(output_folder)
    if run.hparams.get("layer_aggregation", "last") != "last":
        raise ConversionError(
            f"{run.folder} combines hidden states with learned layer weights "
            "(layer_aggregation: weighted), which a transformers *ForCTC cannot"
        )
    model = TrainedModel.from_run(run, device="cpu")
    lm_head, dropout = linear_head(model.head)
    encoder = model.encoder.model
    ctc_class = FAMILIES[encoder.config.model_type].ctc
    config = copy.deepcopy(encoder.config)
    config.vocab_size = lm_head.out_features
    config.pad_token_id = model.blank_index
    config.final_dropout = dropout
    config.architectures = [ctc_class]
    ctc_model = getattr(transformers, ctc_class)(config).eval()
    ctc_model.base_model.load_state_dict(encoder.state_dict())
    ctc_model.lm_head.load_state_dict(lm_head.state_dict())

    feature_extractor = copy.deepcopy(model.encoder.feature_extractor)
    feature_extractor.do_normalize = bool(model.encoder.normalize_wav)
    feature_extractor.return_attention_mask = bool(model.encoder.pass_attention_mask)
    export_dir = Path(export_dir).resolve()
    with staged_folder(export_dir, overwrite, marker="config.json") as staging:
        vocab = transformers_vocabulary(model.tokenizer)
        write_json(staging / "vocab.json", vocab)
        tokenizer = Wav2Vec2CTCTokenizer(
            str(staging / "vocab.json"),
            pad_token=PAD_TOKEN,
            word_delimiter_token=WORD_DELIMITER,
            unk_token=UNK if UNK in vocab else None,
            bos_token=None,
            eos_token=None,
            do_lower_case=False,
            clean_up_tokenization_spaces=False,
        )
        save_transformers4_compatible(ctc_model, staging)
        Wav2Vec2Processor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(staging)
        feature_extractor.save_pretrained(staging)  # preprocessor_config.json, for readers of it alone
        # processor_config.json repeats the feature extractor's settings nested under "feature_extractor",
        # which transformers 4.x's Wav2Vec2Processor.from_pretrained (4.46) passes on as a second
        # feature_extractor argument and fails; without it, 4.x and 5 both build the processor from
        # preprocessor_config.json and the tokenizer's files.
        (staging / PROCESSOR_CONFIG_FILE).unlink()
        transformers_card(run, model_info(run, model, None), ctc_class).save(staging / "README.md")
    logger.info("Exported %s (checkpoint %s) as a %s to %s", run.folder, run.checkpoint.name, ctc_class, export_dir)
    return export_dir


# ---- transformers -> SpeechBrain ------------------------------------------------------------------


def speechbrain_vocabulary(tokenizer: Wav2Vec2CTCTokenizer, blank_index: int) -> CTCTextEncoder:
    """The CTCTextEncoder of a transformers CTC vocabulary, id for id: the blank (pad token) as the
    project's blank, the word delimiter as a space, the unknown token as the project's <unk>;
    an upper-case vocabulary that the tokenizer lower-cases on decoding is lower-cased here too."""
    encoder = CTCTextEncoder()
    for token, index in sorted(tokenizer.encoder.items(), key=lambda item: item[1]):
        if index == blank_index:
            encoder.insert_blank(BLANK, index)
            continue
        label = " " if token == tokenizer.word_delimiter_token else UNK if token == tokenizer.unk_token else token
        if tokenizer.do_lower_case and token not in tokenizer.all_special_tokens:
            label = label.lower()
        if label in encoder.lab2ind:
            raise ConversionError(f"vocab.json: {token!r} becomes {label!r}, which another token already is")
        encoder.insert_label(label, index)
    if UNK in encoder.lab2ind:
        encoder.unk_label = UNK
    return encoder


def import_to_speechbrain(
    source: str | Path,
    export_dir: str | Path,
    language: str | None = None,
    revision: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a transformers CTC checkpoint as an EncoderASR folder (see the module docstring); returns its path."""
    language = checkpoint_language(source, language)
    files = fetch_checkpoint(source, revision)
    model = load_ctc_checkpoint(files, device="cpu")
    spec = language_spec_from_hparams({"language": language, **read_language_data(language)})
    config = model.model.config
    head = CTCHead(input_size=config.hidden_size, n_tokens=config.vocab_size)
    head[0].load_state_dict(model.model.lm_head.state_dict())
    released = parse_released_name(source)
    card_base, _ = card_base_model(files.folder)
    export_dir = Path(export_dir).resolve()
    with staged_folder(export_dir, overwrite, marker=MODEL_INFO_FILE) as staging:
        model.model.base_model.save_pretrained(staging)
        model.feature_extractor.save_pretrained(staging)
        torch.save(exported_head_state(head), staging / HEAD_FILE)
        speechbrain_vocabulary(model.tokenizer, model.blank_index).save(staging / TOKENIZER_FILE)
        info = {
            "export_format": EXPORT_FORMAT,
            "language": language,
            "text": {key: value for key, value in spec.__dict__.items() if key != "code"},
            "encoder": {
                "name": None,
                "source": files.hub_id or files.source,
                "family": model.encoder_family,
                "random_init": False,
                "normalize_wav": bool(model.feature_extractor.do_normalize),
                "pass_attention_mask": model.pass_attention_mask,
            },
            "head": {
                "input_size": config.hidden_size,
                "n_tokens": config.vocab_size,
                "hidden_layers": [],
                "dropout": 0.0,
                "batch_norm": False,
            },
            "vocabulary_size": config.vocab_size,
            "blank_index": model.blank_index,
            "decoding": {"method": "greedy"},
            "checkpoint": {
                "source": files.source,
                "hub_id": files.hub_id,
                "revision": files.revision,
                "architecture": model.architecture,
                "weights_file": model.weights,
                "card_base_model": card_base,
            },
            "seed": released.seed if released else None,
        }
        write_json(staging / MODEL_INFO_FILE, info)
        write_text(staging / "hyperparams.yaml", exported_hyperparams(export_dir, head, model.blank_index))
        imported_card(info).save(staging / "README.md")
    logger.info("Imported %s (%s) as an EncoderASR folder %s", source, files.revision or "local folder", export_dir)
    return export_dir
