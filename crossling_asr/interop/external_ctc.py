"""CTC checkpoints fine-tuned outside this project: fetch, check, load, map to the registry, decode.

The study's released checkpoints (`jonatasgrosman/exp_w2v2t_<lang>_<model>_s<seed>` on the
Hugging Face hub, trained with HuggingSound) and other hub CTC models (run_speech_recognition_ctc
and the like) are a transformers `*ForCTC` model of one of the five families, a character
vocabulary (`vocab.json`, read by `Wav2Vec2CTCTokenizer`) and a feature extractor
(`preprocessor_config.json`). This module

- fetches one (a hub id, at a revision, to a local snapshot whose commit is recorded; or a
  local folder, for offline use) with only the files inference needs;
- loads weights safely: safetensors when the checkpoint has them; a `pytorch_model.bin`
  (older uploads) only after `torch.load(weights_only=True)` has read it without running
  anything, so a pickle that would run code fails with `UnsafeCheckpointError` before
  transformers sees the file; `trust_remote_code` is never set;
- checks that the vocabulary fits the CTC head (one token per output, the blank is the
  tokenizer's pad token and the config's `pad_token_id`) and that no weight of the head was
  left to random initialisation;
- maps the checkpoint to an encoder of hparams/encoders.yaml from the base model its card
  names (`base_model` metadata, or HuggingSound's "Fine-tuned <org/name> ..." sentence), else
  from the short name of a released checkpoint's name (`released_name` in the registry); an
  unknown or contradictory name is an error, never a guess;
- decodes like a run trained here: utterances padded into one batch, normalised over their own
  samples by the checkpoint's feature extractor, each trimmed to the frames its real samples
  produce (the model's `_get_feat_extract_output_lengths`), best path;
- describes the vocabulary against a language: case, characters the language's normaliser
  maps or removes, characters outside its alphabet, and how much of the references it can write.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from huggingface_hub import ModelCard
from transformers import AutoConfig, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor

from crossling_asr.data.text import LanguageSpec, TextNormalizer
from crossling_asr.decoding.greedy import greedy_ctc_decode
from crossling_asr.hparams import recipe_languages

# The released checkpoints' names are parsed where the grid reads them without torch.
from crossling_asr.interop.released_names import (
    RELEASE_ACCOUNT,
    parse_released_name,
    recipe_language,
    released_model_encoder,
)
from crossling_asr.model.families import FAMILIES
from crossling_asr.model.trained_model import hub_model_id

logger = logging.getLogger(__name__)

# What to do when the encoder a checkpoint fine-tuned cannot be told (the grid of released
# checkpoints takes no per-checkpoint encoder: such a checkpoint is evaluated alone).
GIVE_ENCODER = (
    "say which with local/evaluate_checkpoint.py --encoder (local/grid.py released has no such "
    "option: take the checkpoint out of its list and evaluate it alone)"
)

# HuggingSound's card sentence, with or without a Markdown link: "Fine-tuned [org/name](...) for ...".
CARD_BASE_SENTENCE = re.compile(r"Fine-tuned \[?(?P<base>[A-Za-z0-9][\w.-]*/[\w.-]+)\]?")
SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLED_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
# Everything inference reads besides the weights (fetched from the hub with them).
METADATA_FILES = (
    "config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "vocab.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "README.md",
)
SAMPLE_RATE = 16000
# Weights only training uses (the learned vector that replaces masked time steps), absent from
# some checkpoints whose config still asks for masking: their absence changes no transcript.
TRAINING_ONLY_WEIGHTS = ("masked_spec_embed",)
# Share of the references' characters (spaces aside) a vocabulary must be able to write to
# fit a language. A checkpoint of the language itself misses only what its own training text
# normalisation removed (a few apostrophes or rare letters, well under 5 %); one of another
# language or script misses most of them.
VOCABULARY_FIT_COVERAGE = 0.95
# Longest list of missing alphabet characters written out (ideographic alphabets miss thousands).
MAX_LISTED_CHARACTERS = 200


class ExternalCheckpointError(ValueError):
    """A checkpoint that cannot be fetched, loaded or mapped, naming the file or fact that is wrong."""


class UnsafeCheckpointError(ExternalCheckpointError):
    """A pickled weights file that holds more than tensors; nothing in it was run."""


# ---- names ---------------------------------------------------------------------------------


def is_release(source: str | Path) -> bool:
    """Whether `source` is one of the study's released checkpoints: so named, and either on the
    release account of the hub or a local folder of that name (a downloaded copy)."""
    if parse_released_name(source) is None:
        return False
    hub_id = hub_model_id(str(source))
    return hub_id is None or hub_id.split("/")[0] == RELEASE_ACCOUNT


def checkpoint_language(source: str | Path, language: str | None = None) -> str:
    """The recipe language to evaluate on: `language`, else the one a released name gives (zh-cn -> zh-CN)."""
    released = parse_released_name(source)
    languages = recipe_languages()
    if language is None:
        if released is None:
            raise ExternalCheckpointError(f"{source}: give its language (--lang; one of {', '.join(languages)})")
        match = recipe_language(released.language, languages)
        if match is None:
            raise ExternalCheckpointError(f"{source} was fine-tuned on {released.language}, which has no recipe here")
        return match
    if language not in languages:
        raise ExternalCheckpointError(f"--lang {language}: no recipe (one of {', '.join(languages)})")
    if released is not None and released.language != language.lower():
        raise ExternalCheckpointError(f"{source} was fine-tuned on {released.language}, not {language}")
    return language


def checkpoint_seed(source: str | Path, seed: int | None = None) -> int:
    """The seed of the output folder: a released name's, else the one given."""
    released = parse_released_name(source)
    if released is None:
        if seed is None:
            raise ExternalCheckpointError(f"{source}: give the seed it was fine-tuned with (--seed): its name has none")
        return seed
    if seed is not None and seed != released.seed:
        raise ExternalCheckpointError(f"{source} is the released seed {released.seed}, not {seed}")
    return released.seed


# ---- files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointFiles:
    """A checkpoint on local disk: its folder, what it was given as, and, from the hub, its id and commit."""

    folder: Path
    source: str
    hub_id: str | None = None
    revision: str | None = None


def fetch_checkpoint(source: str | Path, revision: str | None = None) -> CheckpointFiles:
    """A local folder as it is, or a hub model's inference files at `revision` (default: main).

    Only the metadata files and one set of weights are downloaded (safetensors when the
    repository has them, else pytorch_model.bin), into the Hugging Face cache (HF_HOME); the
    commit hash of the revision is recorded.
    """
    path = Path(str(source)).expanduser()
    if path.is_dir():
        return CheckpointFiles(path.resolve(), str(source))
    hub_id = hub_model_id(str(source))
    if hub_id is None:
        raise ExternalCheckpointError(f"{source} is neither a local folder nor a Hugging Face hub model id (org/name)")
    from huggingface_hub import HfApi, snapshot_download

    try:
        info = HfApi().model_info(hub_id, revision=revision)
        files = {sibling.rfilename for sibling in info.siblings or []}
        weights = [n for n in SAFETENSORS_FILES if n in files] or [n for n in PICKLED_FILES if n in files]
        if not weights:
            raise ExternalCheckpointError(f"{hub_id}@{info.sha}: no {' or '.join(SAFETENSORS_FILES + PICKLED_FILES)}")
        safetensors = weights[0] in SAFETENSORS_FILES
        shard = r"model-\d+-of-\d+\.safetensors" if safetensors else r"pytorch_model-\d+-of-\d+\.bin"
        shards = [name for name in files if re.fullmatch(shard, name)]
        folder = snapshot_download(hub_id, revision=info.sha, allow_patterns=[*METADATA_FILES, *weights, *shards])
    except ExternalCheckpointError:
        raise
    except Exception as err:  # the hub client's network, HTTP and offline-mode errors have no common base
        raise ExternalCheckpointError(
            f"could not fetch {hub_id}{'@' + revision if revision else ''} from the Hugging Face hub "
            f"({type(err).__name__}: {err}); for offline use, give a local folder holding the checkpoint"
        ) from err
    return CheckpointFiles(Path(folder), str(source), hub_id, info.sha)


def check_pickled_weights(path: Path) -> None:
    """Read a pickled weights file with weights_only loading (tensors and containers only).

    A pickle that would import or call anything else is refused by torch before any of it
    runs; that refusal becomes an UnsafeCheckpointError naming the file.
    """
    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f"{path} is a pickle holding more than tensors, and was not loaded: weights_only loading "
            f"refused it ({str(err).splitlines()[0]}). Use a safetensors version of the checkpoint."
        ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise ExternalCheckpointError(f"{path} is not a readable PyTorch weights file: {err}") from err


def weights_file(folder: Path) -> str:
    """The name of the checkpoint's weights (file or shard index), pickled files checked first.

    safetensors are preferred; a pytorch_model.bin (or each shard of its index) is read with
    weights_only loading before transformers may load it.
    """
    folder = Path(folder)
    for name in SAFETENSORS_FILES:
        if (folder / name).is_file():
            return name
    if (folder / PICKLED_FILES[0]).is_file():
        check_pickled_weights(folder / PICKLED_FILES[0])
        return PICKLED_FILES[0]
    if (folder / PICKLED_FILES[1]).is_file():
        index = json.loads((folder / PICKLED_FILES[1]).read_text(encoding="utf-8"))
        for shard in sorted(set(index.get("weight_map", {}).values())):
            check_pickled_weights(folder / shard)
        return PICKLED_FILES[1]
    raise ExternalCheckpointError(f"{folder}: no weights ({', '.join(SAFETENSORS_FILES + PICKLED_FILES)})")


# ---- the encoder it fine-tuned -------------------------------------------------------------


def card_base_model(folder: Path) -> tuple[str | None, str | None]:
    """(hub id of the model the checkpoint was fine-tuned from, where the card says so) or (None, None).

    The card's `base_model` metadata first, else HuggingSound's sentence "Fine-tuned <org/name> ...".
    """
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return None, None
    try:
        card = ModelCard.load(readme)
    except ValueError as err:  # metadata that is not YAML
        raise ExternalCheckpointError(f"{readme}: not a readable model card: {err}") from err
    base = card.data.base_model
    if isinstance(base, list):
        base = base[0] if len(base) == 1 else None
    if base:
        return str(base), "card metadata base_model"
    match = CARD_BASE_SENTENCE.search(card.text)
    if match:
        return match["base"], "card text"
    return None, None


def registry_encoder(
    registry: dict, card_base: str | None = None, released_model: str | None = None, given: str | None = None
) -> tuple[str | None, str]:
    """(registry name, how it was found) of the encoder a checkpoint fine-tuned.

    `given` (a name of the registry) wins. Otherwise the card's base hub id picks the
    pre-trained entry with that source, and a released checkpoint's short name the entry
    with that `released_name`; both must agree. Anything unknown is an error listing what
    is known, so a checkpoint is never filed under a guessed encoder.
    """
    if given is not None:
        if given not in registry:
            raise ExternalCheckpointError(f"--encoder {given}: not in hparams/encoders.yaml ({', '.join(registry)})")
        return given, "given"
    by_card = None
    if card_base is not None:
        matches = [
            name for name, entry in registry.items() if entry["source"] == card_base and not entry["random_init"]
        ]
        if not matches:
            raise ExternalCheckpointError(
                f"the card says the checkpoint was fine-tuned from {card_base}, which is not the source of an "
                f"encoder in hparams/encoders.yaml: {GIVE_ENCODER}"
            )
        by_card = matches[0]
    by_name = None
    if released_model is not None:
        by_name, known = released_model_encoder(released_model, registry)
        if by_name is None:
            raise ExternalCheckpointError(
                f"unknown released model name {released_model!r} (known: {known}); {GIVE_ENCODER}"
            )
    if by_card and by_name and by_card != by_name:
        raise ExternalCheckpointError(
            f"the card's base model {card_base} is encoder {by_card}, but the released name "
            f"{released_model!r} is {by_name}: {GIVE_ENCODER}"
        )
    if by_card:
        return by_card, "card base model" + (" and released name" if by_name else "")
    if by_name:
        return by_name, "released name"
    raise ExternalCheckpointError(
        "cannot tell which encoder of hparams/encoders.yaml the checkpoint fine-tuned (its card names no "
        f"base model and its name is not a released one): {GIVE_ENCODER}"
    )


# ---- loading ---------------------------------------------------------------------------------


def load_tokenizer(folder: Path, config: transformers.PretrainedConfig) -> transformers.Wav2Vec2CTCTokenizer:
    """The checkpoint's character CTC tokenizer, checked against its CTC head (config.json)."""
    folder = Path(folder)
    vocab_file = folder / "vocab.json"
    if not vocab_file.is_file():
        raise ExternalCheckpointError(f"{vocab_file} not found: a CTC checkpoint needs its vocabulary")
    tokenizer_config = folder / "tokenizer_config.json"
    if tokenizer_config.is_file():
        tokenizer_class = json.loads(tokenizer_config.read_text(encoding="utf-8")).get("tokenizer_class")
        if tokenizer_class not in (None, "Wav2Vec2CTCTokenizer"):
            raise ExternalCheckpointError(
                f"{tokenizer_config}: tokenizer {tokenizer_class}, not a character Wav2Vec2CTCTokenizer"
            )
    vocab = json.loads(vocab_file.read_text(encoding="utf-8"))
    if not vocab or not all(isinstance(i, int) for i in vocab.values()):
        raise ExternalCheckpointError(
            f"{vocab_file}: expected one {{token: id}} mapping (multi-lingual vocabularies are not supported)"
        )
    if sorted(vocab.values()) != list(range(config.vocab_size)):
        raise ExternalCheckpointError(
            f"{vocab_file} has ids {min(vocab.values())}..{max(vocab.values())} for {len(vocab)} tokens, but the "
            f"CTC head of config.json has {config.vocab_size} outputs: every output needs one token"
        )
    tokenizer = Wav2Vec2CTCTokenizer.from_pretrained(folder)
    if tokenizer.pad_token_id != config.pad_token_id:
        raise ExternalCheckpointError(
            f"{folder}: the tokenizer's pad token {tokenizer.pad_token!r} (id {tokenizer.pad_token_id}) is not the "
            f"CTC blank of config.json (pad_token_id {config.pad_token_id})"
        )
    return tokenizer


def load_ctc_checkpoint(files: CheckpointFiles, device: str = "cpu", precision: str = "fp32") -> ExternalCTCModel:
    """The ExternalCTCModel of a fetched checkpoint (CheckpointFiles)."""
    folder = files.folder
    if not (folder / "config.json").is_file():
        raise ExternalCheckpointError(f"{folder / 'config.json'} not found")
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    except (ValueError, OSError) as err:  # an unknown model_type, custom code, unreadable JSON
        raise ExternalCheckpointError(f"{folder / 'config.json'}: {err}") from err
    if config.model_type not in FAMILIES:
        raise ExternalCheckpointError(
            f"{folder / 'config.json'}: model_type {config.model_type!r} is not one of the study's families "
            f"({', '.join(FAMILIES)})"
        )
    ctc_class = FAMILIES[config.model_type].ctc
    weights = weights_file(folder)
    tokenizer = load_tokenizer(folder, config)
    extractor_file = next(
        (folder / n for n in ("preprocessor_config.json", "processor_config.json") if (folder / n).is_file()), None
    )
    if extractor_file is None:
        raise ExternalCheckpointError(f"{folder}: no preprocessor_config.json (the feature extractor)")
    feature_extractor = Wav2Vec2FeatureExtractor.from_pretrained(folder)
    if feature_extractor.sampling_rate != SAMPLE_RATE:
        raise ExternalCheckpointError(
            f"{extractor_file}: sampling_rate {feature_extractor.sampling_rate}, expected {SAMPLE_RATE}"
        )
    model, loading = getattr(transformers, ctc_class).from_pretrained(
        folder,
        config=config,
        use_safetensors=weights in SAFETENSORS_FILES,
        weights_only=True,
        trust_remote_code=False,
        output_loading_info=True,
    )
    missing = sorted(k for k in loading["missing_keys"] if not k.endswith(TRAINING_ONLY_WEIGHTS))
    missing += sorted(str(k) for k in loading["mismatched_keys"])
    if missing:
        raise ExternalCheckpointError(
            f"{folder / weights} lacks weights of the {ctc_class} (they would be random): {', '.join(missing[:8])}"
            + (" — not a fine-tuned CTC checkpoint" if any(k.startswith("lm_head") for k in missing) else "")
        )
    return ExternalCTCModel(model, feature_extractor, tokenizer, weights, device, precision)


# The forward pass in float32, or under bf16 autocast (faster on GPUs that have it).
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


class ExternalCTCModel:
    """A transformers *ForCTC with its feature extractor and tokenizer, decoding like CTCBrain.

    `log_probs(signals)` has the API of crossling_asr.model.trained_model.TrainedModel, so
    crossling_asr.decoding.transcribe's length-sorted batching feeds it; `decode` turns its output
    into text. `precision` bf16 runs the forward pass under autocast (as SpeechBrain's
    eval_precision does); log-posteriors are always float32.
    """

    def __init__(self, model, feature_extractor, tokenizer, weights, device="cpu", precision="fp32"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.feature_extractor = feature_extractor
        self.tokenizer = tokenizer
        self.weights = weights
        self.precision = precision
        self.blank_index = model.config.pad_token_id
        # The attention mask goes to the model only where its feature extractor says it was
        # trained with one (group-norm wav2vec2 models were not), as transformers' own pipeline does.
        self.pass_attention_mask = bool(feature_extractor.return_attention_mask)

    @property
    def architecture(self) -> str:
        return type(self.model).__name__

    @property
    def encoder_family(self) -> str:
        return type(self.model.base_model).__name__

    def frame_counts(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Output frames the feature encoder makes of inputs of `num_samples` samples."""
        return self.model._get_feat_extract_output_lengths(num_samples)

    @torch.no_grad()
    def log_probs(self, signals: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC log-posteriors (batch, frames, vocab) on the CPU, and each signal's own frame count."""
        inputs = self.feature_extractor(
            [signal.numpy() for signal in signals],
            sampling_rate=SAMPLE_RATE,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        mask = inputs["attention_mask"].to(self.device)
        dtype = PRECISIONS[self.precision]
        with torch.autocast(device_type=self.device.type, dtype=dtype, enabled=dtype is not None):
            logits = self.model(
                inputs["input_values"].to(self.device), attention_mask=mask if self.pass_attention_mask else None
            ).logits
        frames = self.frame_counts(mask.sum(dim=-1)).cpu()
        return logits.float().log_softmax(dim=-1).cpu(), frames

    def decode(self, log_probs: torch.Tensor, frames: torch.Tensor) -> list[str]:
        """Best-path transcripts of a batch, each from its own frames only: repeats merged, blanks
        and special tokens dropped, the word delimiter a space, spaces collapsed and trimmed."""
        ids = greedy_ctc_decode(log_probs, frames.float() / log_probs.shape[1], self.blank_index)
        texts = self.tokenizer.batch_decode(
            ids, group_tokens=False, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        return [" ".join(text.split()) for text in texts]


# ---- the vocabulary against a language ----------------------------------------------------------


def alphabet_characters(spec: LanguageSpec) -> list[str]:
    """Every character of a LanguageSpec's alphabet (its regex class), in code point order."""
    every_character = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x110000)))  # no surrogates
    return re.findall(f"[{spec.alphabet}]", every_character)


def _case(characters):
    upper = any(ch != ch.lower() for ch in characters)
    lower = any(ch != ch.upper() for ch in characters)
    return {(True, False): "upper", (False, True): "lower", (True, True): "mixed"}.get((upper, lower), "caseless")


def vocabulary_report(
    tokenizer: transformers.Wav2Vec2CTCTokenizer, blank_index: int, normalizer: TextNormalizer, references: list[str]
) -> tuple[dict, list[str]]:
    """(report, warnings): the checkpoint's vocabulary against the language of `normalizer`.

    Each output character goes through the language's TextNormalizer as a hypothesis does:
    it is kept, mapped (case, char_map), removed (punctuation) or outside the alphabet (kept,
    and counted as an error). `references`: the normalised reference transcripts; their
    characters the vocabulary cannot write (after mapping) are counted.
    """
    spec = normalizer.spec
    vocab = tokenizer.encoder
    delimiter = tokenizer.word_delimiter_token if tokenizer.word_delimiter_token in vocab else None
    special = sorted(t for t in set(tokenizer.all_special_tokens) if t in vocab and t != delimiter)
    tokens = [t for t in vocab if t not in special and t != delimiter]
    characters = sorted({ch for token in tokens for ch in token})
    decoded = sorted({ch.lower() for ch in characters}) if tokenizer.do_lower_case else characters
    kept, mapped, removed, outside = [], {}, [], []
    for ch in decoded:
        result = normalizer(ch, out_of_alphabet="keep")
        if ch in spec.word_internal_punctuation:
            kept.append(ch)
        elif result.digits or result.foreign:
            outside.append(ch)
        elif result.text == ch:
            kept.append(ch)
        elif result.text:
            mapped[ch] = result.text
        else:
            removed.append(ch)
    writable = set(kept) | {c for text in mapped.values() for c in text} | set(outside)
    alphabet = alphabet_characters(spec)
    missing_alphabet = [ch for ch in alphabet if ch not in writable]
    counts = Counter(ch for text in references for ch in text if not ch.isspace())
    total = sum(counts.values())
    missing = {ch: n for ch, n in counts.most_common() if ch not in writable}
    coverage = 1.0 - sum(missing.values()) / total if total else None
    needs_spaces = spec.word_delimiter and any(" " in text for text in references)
    case = _case(characters)
    report = {
        "size": len(vocab),
        "blank": tokenizer.convert_ids_to_tokens(blank_index),
        "word_delimiter": delimiter,
        "special_tokens": special,
        "multi_character_tokens": sorted(t for t in tokens if len(t) > 1),
        "characters": characters,
        "case": case,
        "tokenizer_lowercases": bool(tokenizer.do_lower_case),
        "case_mapped_to_lower": bool(spec.lowercase and case in ("upper", "mixed") and not tokenizer.do_lower_case),
        "kept": kept,
        "mapped_by_normalizer": mapped,
        "removed_by_normalizer": removed,
        "outside_alphabet": outside,
        "alphabet_size": len(alphabet),
        "alphabet_covered": len(alphabet) - len(missing_alphabet),
        "alphabet_missing": missing_alphabet if len(missing_alphabet) <= MAX_LISTED_CHARACTERS else None,
        "reference_characters": total,
        "reference_coverage": round(coverage, 6) if coverage is not None else None,
        "reference_characters_missing": dict(list(missing.items())[:50]),
        "writes_spaces": delimiter is not None,
        "fits_language": (
            (coverage is None or coverage >= VOCABULARY_FIT_COVERAGE) and (delimiter is not None or not needs_spaces)
        ),
        "fit_threshold": VOCABULARY_FIT_COVERAGE,
    }
    warnings = []
    if report["case_mapped_to_lower"]:
        warnings.append(
            f"the vocabulary is {case}-case; its output is lower-cased by the {spec.code} text "
            "normalisation before scoring"
        )
    elif tokenizer.do_lower_case and case != "caseless":
        warnings.append(f"the vocabulary is {case}-case; the tokenizer lower-cases its output (do_lower_case)")
    rewritten = {k: v for k, v in mapped.items() if v != k.lower()}  # beyond the case mapping said above
    if rewritten:
        warnings.append(
            f"output characters rewritten by the {spec.code} normalisation: "
            + ", ".join(f"{k!r}->{v!r}" for k, v in rewritten.items())
        )
    if removed:
        warnings.append(f"output characters the {spec.code} normalisation removes: {''.join(removed)!r}")
    if outside:
        warnings.append(
            f"output characters outside the {spec.code} alphabet (kept, scored as errors): {''.join(outside)!r}"
        )
    if missing:
        warnings.append(
            f"{sum(missing.values())} of {total} reference characters cannot be written by the "
            f"vocabulary: " + ", ".join(f"{ch!r} ({n})" for ch, n in list(missing.items())[:10])
        )
    if needs_spaces and delimiter is None:
        warnings.append("the vocabulary has no word delimiter: hypotheses have no spaces")
    if not report["fits_language"]:
        warnings.append(
            f"the vocabulary does not fit {spec.code}: it can write "
            f"{100 * (coverage or 0):.1f}% of the reference characters (at least "
            f"{100 * VOCABULARY_FIT_COVERAGE:.0f}% expected)"
            + ("" if delimiter or not needs_spaces else ", and no spaces")
        )
    return report, warnings
