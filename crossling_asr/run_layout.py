"""Where a run lives under a results root: one definition for the recipe, the grid and the report.

A run is (language, encoder, seed) under a protocol, with the registry's
encoder weights unless `encoder_source` replaces them. Its output folder is

    <results_root>/<language>/<run_name>/seed_<seed>

where `run_name` is the encoder's registry name for the study's protocol
with the registry's weights (the layout every earlier result uses), and
otherwise says what differs, so that runs of different protocols or weights
never share a folder and a folder name never passes a replaced encoder off
as the registry's:

    xlsr-53                       study protocol, registry weights
    xlsr-53.stock                 --protocol=stock
    xlsr-53~wav2vec2-1a2b3c       --encoder_source=/somewhere/wav2vec2 (local directory)
    xlsr-53.probe~org--model      --protocol=probe --encoder_source=org/model (hub id)

Checkpoints fine-tuned elsewhere and only evaluated here (crossling_asr.interop.evaluate_checkpoint)
live beside the trained runs under a protocol of their own, which no trained run can have
(no hparams/protocols/ file may take these names):

    xlsr-53.released              the study's released checkpoint of xlsr-53 (seed: its released seed)
    xlsr-53.external~org--model   any other CTC checkpoint, named by its hub id or local folder

Kept free of torch and speechbrain: the grid's status and the report import it.
"""

import hashlib
import re
from pathlib import Path

from crossling_asr.registry import load_registry

STUDY_PROTOCOL = "study"
# Protocols of evaluated checkpoints that were trained elsewhere (see the module docstring).
RELEASED_PROTOCOL = "released"
EXTERNAL_PROTOCOL = "external"
EVALUATION_PROTOCOLS = (RELEASED_PROTOCOL, EXTERNAL_PROTOCOL)
# Folders directly under a results root that hold no language's runs: the prepared data, the
# grid's submissions and the answers (and short fine-tunes) of local/choose_encoder.py.
CHOOSE_FOLDER = "choose"
NON_RUN_FOLDERS = ("prepared", "grid", CHOOSE_FOLDER)
PROTOCOL_SEPARATOR = "."
SOURCE_SEPARATOR = "~"


def is_local_source(source):
    """True when an encoder source names a local directory rather than a hub id (org/name)."""
    source = str(source)
    return source.startswith((".", "/", "~")) or source.count("/") != 1


def normalized_source(source):
    """A hub id as given; a local directory as its absolute path."""
    return str(Path(source).expanduser().resolve()) if is_local_source(source) else str(source)


def source_tag(encoder, encoder_source, registry=None):
    """The folder-name tag of a replaced encoder source, or None for the registry's own.

    A hub id becomes `org--name`; a local directory its base name plus a short
    hash of its absolute path (two directories of the same name stay apart).
    """
    if not encoder_source:
        return None
    registry = load_registry() if registry is None else registry
    entry = registry.get(encoder, {})
    source = normalized_source(encoder_source)
    if source == entry.get("source"):
        return None
    if is_local_source(encoder_source):
        digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:6]
        name = Path(source).name or "source"
        tag = f"{name}-{digest}"
    else:
        tag = source.replace("/", "--")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", tag)


def run_name(encoder, protocol=STUDY_PROTOCOL, encoder_source=None, registry=None):
    """The run's folder name below its language (see the module docstring)."""
    if PROTOCOL_SEPARATOR in encoder or SOURCE_SEPARATOR in encoder:
        raise ValueError(f"encoder name {encoder!r} must not contain {PROTOCOL_SEPARATOR!r} or {SOURCE_SEPARATOR!r}")
    name = encoder
    if protocol and protocol != STUDY_PROTOCOL:
        name += f"{PROTOCOL_SEPARATOR}{protocol}"
    tag = source_tag(encoder, encoder_source, registry)
    if tag:
        name += f"{SOURCE_SEPARATOR}{tag}"
    return name


def output_folder(results_root, language, encoder, seed, protocol=STUDY_PROTOCOL, encoder_source=None):
    """<results_root>/<language>/<run_name>/seed_<seed>, as a string (hparams use it through !apply)."""
    return str(Path(results_root) / language / run_name(encoder, protocol, encoder_source) / f"seed_{seed}")


def evaluation_output_folder(results_root, language, encoder, seed, protocol, checkpoint=None):
    """The output folder of an evaluated checkpoint: `protocol` "released" (the study's own
    checkpoints, one per language, encoder and released seed) or "external" (any other, told
    apart by `checkpoint`, its hub id or local folder)."""
    if protocol not in EVALUATION_PROTOCOLS:
        raise ValueError(f"protocol {protocol!r}: an evaluated checkpoint is one of {', '.join(EVALUATION_PROTOCOLS)}")
    if protocol == EXTERNAL_PROTOCOL and not checkpoint:
        raise ValueError("an external checkpoint's folder is named by the checkpoint: give its hub id or folder")
    source = checkpoint if protocol == EXTERNAL_PROTOCOL else None
    return output_folder(results_root, language, encoder, seed, protocol, source)


def parse_run_name(name):
    """(encoder, protocol, source tag or None) of a run folder name; inverse of run_name."""
    base, _, tag = name.partition(SOURCE_SEPARATOR)
    encoder, _, protocol = base.partition(PROTOCOL_SEPARATOR)
    return encoder, protocol or STUDY_PROTOCOL, tag or None
