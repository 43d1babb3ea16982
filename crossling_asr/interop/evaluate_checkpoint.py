"""Score a CTC checkpoint fine-tuned elsewhere exactly like a run trained here.

The checkpoint (a hub id, or a local folder for offline use; crossling_asr.interop.external_ctc
fetches, checks and loads it) is evaluated on a language's dev and/or test split as this
project prepared them: the shared `<results root>/prepared/<lang>/` manifests and 16 kHz
clips, made by the recipe's own preparation (crossling_asr.grid.prep) when `data_folder` is
given, never converted a second way. Utterances are decoded in length-sorted batches
(crossling_asr.decoding.transcribe's batching), each trimmed to its own output frames; hypotheses go
through the language's TextNormalizer (an upper-case vocabulary is lower-cased there, and
said so) and are scored against the manifests' references by crossling_asr.decoding.metrics, as
CTCBrain scores a trained run.

The output folder is the checkpoint's own under the results root (crossling_asr.run_layout:
`<lang>/<encoder>.released/seed_<released seed>/` for the study's released checkpoints,
`<lang>/<encoder>.external~<checkpoint tag>/seed_<seed>/` for others), with what a trained
run leaves: results.json (crossling_asr.results, with the checkpoint's provenance and its
vocabulary against the language), <split>_hypotheses.tsv, wer_<split>.txt and log.txt.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from crossling_asr.atomic import atomic_path
from crossling_asr.data.common_voice import DONE_FILE, REPORT_FILE
from crossling_asr.data.preparation import preparation_hparams, prepare_language
from crossling_asr.data.text import TextNormalizer, language_spec_from_hparams
from crossling_asr.decoding.batches import DECODE_BATCH_SECONDS, DECODE_BATCH_SIZE
from crossling_asr.decoding.greedy import write_hypotheses_tsv
from crossling_asr.decoding.metrics import error_rate_stats
from crossling_asr.decoding.transcribe import iter_batches, read_manifest
from crossling_asr.interop.external_ctc import (
    ExternalCheckpointError,
    ExternalCTCModel,
    card_base_model,
    checkpoint_language,
    checkpoint_seed,
    fetch_checkpoint,
    is_release,
    load_ctc_checkpoint,
    registry_encoder,
    vocabulary_report,
)
from crossling_asr.interop.released_names import parse_released_name
from crossling_asr.model.trained_model import RESULTS_FILE, default_device
from crossling_asr.registry import load_registry
from crossling_asr.results import build_evaluation_results, write_results
from crossling_asr.run_layout import EXTERNAL_PROTOCOL, RELEASED_PROTOCOL, evaluation_output_folder

logger = logging.getLogger(__name__)

SPLITS = ("test", "dev")
LOG_FILE = "log.txt"


class EvaluationError(ValueError):
    """An evaluation that cannot run (language, seed, prepared data), saying what to give instead."""


def prepared_language(
    results_root: str | Path, language: str, data_folder: str | Path | None = None
) -> tuple[dict, dict]:
    """(hparams, prep report) of `language`'s data prepared under `results_root`.

    With `data_folder` (the language's Common Voice folder) the recipe's own preparation
    runs first (a no-op when already done with these options). Without it, the prepared
    folder must exist and have been prepared with the language's current text rules, or
    its references would not be those a run trained now is scored against.
    """
    args = [f"--results_root={results_root}", f"--data_folder={Path(data_folder).resolve() if data_folder else 'null'}"]
    hparams = preparation_hparams(language, args)
    prep_folder = Path(hparams["prep_folder"])
    if data_folder is not None:
        return hparams, prepare_language(language, args)
    done_file = prep_folder / DONE_FILE
    if not done_file.is_file():
        raise EvaluationError(
            f"{prep_folder} is not prepared ({done_file.name} not found): give the language's "
            "Common Voice folder (--data-folder) to prepare it"
        )
    spec = json.loads(json.dumps(language_spec_from_hparams(hparams).__dict__))
    if json.loads(done_file.read_text(encoding="utf-8"))["options"]["spec"] != spec:
        raise EvaluationError(
            f"{prep_folder} was prepared with other {language} text rules than the recipe's "
            "current ones: give --data-folder to prepare it again"
        )
    return hparams, json.loads((prep_folder / REPORT_FILE).read_text(encoding="utf-8"))


def decode_split(
    model: ExternalCTCModel,
    manifest: str | Path,
    normalizer: TextNormalizer,
    batch_seconds: float,
    batch_size: int,
    workers: int,
) -> tuple[list[tuple[str, str, str]], int]:
    """(rows sorted by ID: (ID, reference, hypothesis), hypotheses the normalisation changed)."""
    items = read_manifest(manifest)
    rows, changed = [], 0
    with tqdm(total=len(items), unit="utt", desc=f"decoding {manifest.stem}") as bar:
        for batch, log_probs, frames, failures in iter_batches(model, items, batch_seconds, batch_size, workers):
            if failures:
                item, message = failures[0]
                raise EvaluationError(f"{item.path} (utterance {item.id} of {manifest}): {message}")
            for item, text in zip(batch, model.decode(log_probs, frames)):
                hypothesis = normalizer(text, out_of_alphabet="keep").text
                changed += hypothesis != text
                rows.append((item.id, item.reference, hypothesis))
            bar.update(len(batch))
    return sorted(rows), changed


def evaluate_checkpoint(
    source: str | Path,
    results_root: str | Path,
    language: str | None = None,
    data_folder: str | Path | None = None,
    splits: tuple[str, ...] = SPLITS,
    encoder: str | None = None,
    seed: int | None = None,
    revision: str | None = None,
    device: str | None = None,
    precision: str = "fp32",
    batch_seconds: float = DECODE_BATCH_SECONDS,
    batch_size: int = DECODE_BATCH_SIZE,
    workers: int = 0,
    force: bool = False,
) -> Path:
    """Evaluate `source` (hub id or local folder) on `splits`; returns its output folder.

    `encoder`, a registry name, overrides the mapping from the checkpoint's card and name;
    `seed` is needed when the name is not a released one. A folder that already has a
    results.json is left as it is unless `force`.
    """
    language = checkpoint_language(source, language)
    seed = checkpoint_seed(source, seed)
    hparams, report = prepared_language(results_root, language, data_folder)
    files = fetch_checkpoint(source, revision)
    released = parse_released_name(source)
    registry = load_registry()
    card_base, card_base_from = card_base_model(files.folder)
    name, mapping = registry_encoder(registry, card_base, released.model if released else None, encoder)
    protocol = RELEASED_PROTOCOL if is_release(source) else EXTERNAL_PROTOCOL
    folder = Path(
        evaluation_output_folder(results_root, language, name, seed, protocol, files.hub_id or str(files.folder))
    )
    if (folder / RESULTS_FILE).is_file() and not force:
        logger.info("%s already evaluated in %s (force to evaluate again)", source, folder)
        return folder

    model = load_ctc_checkpoint(files, device or default_device(), precision)
    if model.encoder_family != registry[name]["family"]:
        raise ExternalCheckpointError(
            f"{source} is a {model.architecture}, but encoder {name} of the registry is a {registry[name]['family']}"
        )

    folder.mkdir(parents=True, exist_ok=True)
    log_handler = logging.FileHandler(folder / LOG_FILE, encoding="utf-8")
    log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("crossling_asr")
    package_level = package_logger.level
    package_logger.addHandler(log_handler)
    package_logger.setLevel(logging.INFO)  # the log file says what ran, whatever the console shows
    try:
        logger.info(
            "Evaluating %s (%s, %s, encoder %s by %s, seed %s) on %s %s",
            source,
            files.revision or "local folder",
            model.architecture,
            name,
            mapping,
            seed,
            language,
            "+".join(splits),
        )
        normalizer = TextNormalizer(language_spec_from_hparams(hparams))
        metrics = {"primary": hparams["primary_metric"], "wer_meaningful": bool(hparams["text"]["word_delimiter"])}
        changed, references = {}, []
        for split in splits:
            rows, changed[split] = decode_split(
                model, Path(hparams[f"{split}_csv"]), normalizer, batch_seconds, batch_size, workers
            )
            ids, refs, hyps = zip(*rows) if rows else ((), (), ())
            wer, cer = error_rate_stats(ids, hyps, refs)
            metrics[split] = {
                "WER": wer.summarize("error_rate"),
                "CER": cer.summarize("error_rate"),
                "n_utterances": len(rows),
            }
            references += refs
            write_hypotheses_tsv(folder / f"{split}_hypotheses.tsv", rows)
            with atomic_path(folder / f"wer_{split}.txt") as tmp, open(tmp, "w", encoding="utf-8") as f:
                wer.write_stats(f)
            logger.info(
                "%s: WER %.2f CER %.2f (%d utterances)", split, metrics[split]["WER"], metrics[split]["CER"], len(rows)
            )
        vocabulary, warnings = vocabulary_report(model.tokenizer, model.blank_index, normalizer, references)
        for warning in warnings:
            logger.warning("%s: %s", source, warning)
        run = {
            "language": language,
            "encoder": name,
            "encoder_source": registry[name]["source"],
            "encoder_family": model.encoder_family,
            "random_init": registry[name]["random_init"],
            "seed": seed,
            "output_folder": str(folder),
            "device": str(model.device),
            "protocol": protocol,
        }
        checkpoint = {
            "source": str(source),
            "hub_id": files.hub_id,
            "revision": files.revision,
            "released": protocol == RELEASED_PROTOCOL,
            "released_name": asdict(released) if released else None,
            "architecture": model.architecture,
            "weights_file": model.weights,
            "card_base_model": card_base,
            "card_base_model_from": card_base_from,
            "encoder_mapping": mapping,
        }
        decoding = {
            "method": "greedy",
            "precision": precision,
            "batch_seconds": batch_seconds,
            "batch_size": batch_size,
            "device": str(model.device),
            "hypotheses_changed_by_normalization": changed,
        }
        write_results(
            folder / RESULTS_FILE,
            build_evaluation_results(run, metrics, report, checkpoint, vocabulary, decoding, warnings),
        )
        logger.info("Wrote %s", folder / RESULTS_FILE)
    finally:
        package_logger.setLevel(package_level)
        package_logger.removeHandler(log_handler)
        log_handler.close()
    return folder
