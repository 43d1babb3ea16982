"""Data preparation of a language from its recipe's hparams: once, on the main process, under a lock.

The recipe prepares its data itself (idempotently, `prepare`). The grid and the evaluation of
checkpoints prepare a language before any of its runs start (`prepare_language`), through that
same function with the recipe's own hparams, so the preparation fingerprint matches and the
runs skip it; a per-language lock keeps two processes from converting the same clips at once.

Those hparams are loaded without building any object (encoder, checkpointer, ...): every key
of the shared experiment file that constructs an object is overridden with null, so preparing
needs no model download and no GPU.
"""

from __future__ import annotations

from pathlib import Path

import ruamel.yaml
import speechbrain as sb
import yaml
from speechbrain.utils.distributed import run_on_main

from crossling_asr.data.common_voice import CommonVoiceFormatError, prepare_common_voice, read_prep_report
from crossling_asr.data.text import TextNormalizer, language_spec_from_hparams
from crossling_asr.hparams import HparamsError, language_file, load_recipe_hparams, read_language_data
from crossling_asr.locks import exclusive

OBJECT_TAGS = ("!new:", "!apply:", "!applyref:")
# Failures caused by the input or the machine (an unknown hparams key, a bad TSV, a
# missing file, a full disk): reported by their message alone, without a traceback.
PREPARATION_ERRORS = (HparamsError, CommonVoiceFormatError, OSError)


def prepare(hparams: dict) -> dict:
    """Data preparation on the main process only; returns the report."""
    normalizer = TextNormalizer(language_spec_from_hparams(hparams))
    kwargs = dict(
        data_folder=hparams["data_folder"],
        prep_folder=hparams["prep_folder"],
        normalizer=normalizer,
        sample_rate=hparams["sample_rate"],
        max_duration=hparams["max_duration"],
        min_duration=hparams["min_duration"],
        num_workers=hparams["prep_workers"],
        audio_format=hparams["prep_audio_format"],
    )
    run_on_main(prepare_common_voice, kwargs=kwargs)
    # Every rank reads the finished report (the main rank wrote it), without preparing (or saying so) again.
    return read_prep_report(hparams["prep_folder"])


def object_keys(base_file: str | Path) -> list[str]:
    """Top-level keys of a HyperPyYAML file whose value is built by calling code."""
    tree = ruamel.yaml.YAML(typ="rt").load(Path(base_file).read_text(encoding="utf-8"))
    keys = []
    for key, node in tree.items():
        tag = getattr(getattr(node, "tag", None), "value", None) or ""
        if tag.startswith(OBJECT_TAGS):
            keys.append(key)
    return keys


def preparation_hparams(language: str, recipe_args: list[str]) -> dict:
    """The recipe's hparams for `language` with `recipe_args` (--key=value), objects left unbuilt."""
    lang_file = language_file(language)
    _, _, overrides_text = sb.parse_arguments([str(lang_file), *recipe_args])
    overrides = yaml.safe_load(overrides_text) or {}
    base_rel = overrides.get("base_hparams") or read_language_data(language).get("base_hparams")
    if not base_rel:
        raise HparamsError(f"{lang_file}: missing `base_hparams` (the shared experiment file)")
    base_file = (lang_file.parent / base_rel).resolve()
    overrides.update({key: None for key in object_keys(base_file)})
    hparams, _, _ = load_recipe_hparams(lang_file, yaml.safe_dump(overrides, allow_unicode=True))
    return hparams


def prepare_language(language: str, recipe_args: list[str]) -> dict:
    """Prepare `language` (no-op when already prepared with these options); returns the prep report."""
    hparams = preparation_hparams(language, recipe_args)
    prep_folder = Path(hparams["prep_folder"])
    with exclusive(
        prep_folder.parent / f".{prep_folder.name}.prep.lock",
        f"Another process is preparing {language} in {prep_folder}; waiting for it",
    ):
        return prepare(hparams)
