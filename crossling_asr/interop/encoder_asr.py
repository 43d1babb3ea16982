"""Write a finished run as a folder SpeechBrain's EncoderASR loads, with a model card; upload it.

A user of an exported model never sees this repository, so the exported
`hyperparams.yaml` names only classes SpeechBrain, transformers and torch
ship: SpeechBrain's `Wav2Vec2` reads the fine-tuned encoder (config.json,
preprocessor_config.json, model.safetensors, written by transformers'
`save_pretrained`) from the folder itself, the CTC head is a
`torch.nn.Sequential` whose weights (`ctc_head.pt`, tensors only) and the
character vocabulary (`label_encoder.txt`) are loaded by SpeechBrain's
Pretrainer. Nothing is downloaded and nothing pickled is unpickled.

Weights come from the checkpoint the run tested (the last epoch's, or the best by dev CER), loaded by
crossling_asr.model.trained_model, which also reads exported folders back
(`model_info.json` keeps what it needs beyond the YAML). The model card is
crossling_asr.interop.model_card's; crossling_asr.interop.hub uploads the folder.

Audio normalisation: the training encoder (`SSLEncoder`) normalises each
utterance over its real samples; SpeechBrain's `Wav2Vec2` normalises over
the padded batch tensor. For one file at a time (no padding) the two agree;
in batches of clips of different lengths SpeechBrain's may differ slightly.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from crossling_asr.atomic import write_json, write_text
from crossling_asr.decoding.beam_search import PRUNING_OPTIONS, resolve_lm_weights
from crossling_asr.interop.model_card import model_card, model_info
from crossling_asr.interop.staging import check_target, staged_folder
from crossling_asr.model.trained_model import (
    HEAD_FILE,
    LM_FILE,
    MODEL_INFO_FILE,
    TOKENIZER_FILE,
    TrainedModel,
    exported_head_state,
    load_finished_run,
)

if TYPE_CHECKING:
    from speechbrain.inference.ASR import EncoderASR

logger = logging.getLogger(__name__)


class ExportError(ValueError):
    """An export that cannot be written (its LM, its head's layers, a moved folder), naming what is wrong."""


def head_layers_yaml(head: torch.nn.Sequential) -> str:
    """The head's layers as HyperPyYAML list items of torch / SpeechBrain classes."""
    items = []
    for layer in head:
        if isinstance(layer, torch.nn.Linear):
            items.append(
                f"    - !new:torch.nn.Linear\n        in_features: {layer.in_features}\n"
                f"        out_features: {layer.out_features}"
            )
        elif isinstance(layer, torch.nn.BatchNorm1d):
            items.append(
                f"    - !new:speechbrain.nnet.normalization.BatchNorm1d\n        input_size: {layer.num_features}"
            )
        elif isinstance(layer, torch.nn.LeakyReLU):
            items.append(f"    - !new:torch.nn.LeakyReLU\n        negative_slope: {layer.negative_slope}")
        elif isinstance(layer, torch.nn.Dropout):
            items.append(f"    - !new:torch.nn.Dropout\n        p: {layer.p}")
        else:
            raise ExportError(f"cannot export a head layer of type {type(layer).__name__}")
    return "\n".join(items)


def exported_hyperparams(
    model_dir: str | Path, head: torch.nn.Sequential, blank_index: int, beam: dict | None = None
) -> str:
    """The hyperparams.yaml text of an exported model.

    `beam`: None for greedy decoding, else the settings resolve_lm_weights gives ({alpha, beta,
    beam_size} and any pruning thresholds) for SpeechBrain's CTCBeamSearcher with the folder's
    lm.arpa (needs kenlm): the decoder the weights were tuned with.
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
            "# alpha weighs the LM, beta is a bonus per word, tuned on dev with this decoder: this beam\n"
            "# size and pruning (beam_prune_logp, token_prune_min_logp: SpeechBrain's defaults where not set).\n"
            "decoding_function: !name:speechbrain.decoders.ctc.CTCBeamSearcher\n"
            "test_beam_search:\n"
            f"    blank_index: {blank_index}\n"
            '    space_token: " "\n'
            f"    beam_size: {beam['beam_size']}\n"
            f"    alpha: {beam['alpha']}\n"
            f"    beta: {beam['beta']}\n"
            + "".join(f"    {name}: {beam[name]}\n" for name in PRUNING_OPTIONS if name in beam)
            + f"    kenlm_model_path: !ref <model_dir>/{LM_FILE}\n"
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


def export_model(
    output_folder: str | Path,
    export_dir: str | Path,
    lm_file: str | Path | None = None,
    lm_weights: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the self-contained EncoderASR folder of a finished run; returns its path.

    `lm_file` (an ARPA word LM) makes the export decode with beam search;
    `lm_weights` (resolve_lm_weights' keyword arguments: alpha, beta, beam_size and the pruning
    thresholds, any of them, None for unset) then overrides what the LM was tuned with
    (crossling_asr.decoding.beam_search.resolve_lm_weights).
    The folder is staged beside `export_dir` and renamed into place
    (crossling_asr.interop.staging), replacing only an earlier export, and that only with `overwrite`.
    """
    run = load_finished_run(output_folder)
    export_dir = Path(export_dir).resolve()
    check_target(export_dir, overwrite, marker=MODEL_INFO_FILE)  # before the model loads
    model = TrainedModel.from_run(run, device="cpu")
    beam = None
    if lm_file is not None:
        if not run.language_spec.word_delimiter:
            raise ExportError(f"{run.results['run']['language']} has no word delimiter: no word LM")
        if not Path(lm_file).is_file():
            raise ExportError(f"LM file {lm_file} not found")
        beam = resolve_lm_weights(lm_file, **(lm_weights or {}))

    with staged_folder(export_dir, overwrite, marker=MODEL_INFO_FILE) as staging:
        model.encoder.model.save_pretrained(staging, safe_serialization=True)
        model.encoder.feature_extractor.save_pretrained(staging)
        torch.save(exported_head_state(model.head), staging / HEAD_FILE)
        shutil.copyfile(run.tokenizer_file, staging / TOKENIZER_FILE)
        if beam is not None:
            shutil.copyfile(lm_file, staging / LM_FILE)
        info = model_info(run, model, beam)
        write_json(staging / MODEL_INFO_FILE, info)
        write_text(staging / "hyperparams.yaml", exported_hyperparams(export_dir, model.head, model.blank_index, beam))
        model_card(run, info).save(staging / "README.md")
    logger.info("Exported %s (checkpoint %s) to %s", run.folder, run.checkpoint.name, export_dir)
    return export_dir


def load_encoder_asr(source: str | Path, savedir: str | Path, **kwargs) -> EncoderASR:
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


def stale_model_dir_message(source: str | Path, model_dir: str) -> str:
    """What to do when an export's model_dir (its folder at export time) is no longer there."""
    return (
        f"model_dir {model_dir!r} is not a folder (the export was moved?): load {str(source)!r} with "
        f"crossling_asr.interop.encoder_asr.load_encoder_asr(folder, savedir), or pass "
        f"overrides={{'model_dir': '<the export folder>'}} to EncoderASR.from_hparams"
    )
