"""The project's commands (console scripts crossling-<tool>; local/<tool>.py call the same main).

Every command parses its arguments before importing torch, speechbrain or
transformers, so that --help answers at once. Options that several commands
share are declared here once.
"""

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

from crossling_asr.decoding.batches import DECODE_BATCH_SECONDS, DECODE_BATCH_SIZE
from crossling_asr.decoding.beam_search import LM_DEFAULTS, PRUNING_OPTIONS


def add_export_destination_arguments(parser, written="export"):
    """export_dir, --overwrite, --upload and --public of the commands that write a shareable model folder."""
    parser.add_argument("export_dir", type=Path, help="the folder to write")
    parser.add_argument("--overwrite", action="store_true", help=f"replace an earlier {written} in export_dir")
    parser.add_argument("--upload", metavar="REPO_ID", help="also upload to the Hugging Face hub")
    parser.add_argument("--public", action="store_true", help="make the uploaded repo public")


def write_model_folder(
    args: argparse.Namespace, write: Callable[[], Path], errors: tuple[type[Exception], ...], done: str
) -> int:
    """The end every command that writes a model folder shares: write it, say so, upload it if asked.

    `write()` writes the folder and returns its path; `errors` are the failures it reports by their
    message alone (besides a target folder that must not be replaced); `done` is printed before the
    folder's path ("Exported to", "Imported to").
    """
    from crossling_asr.interop.hub import upload_export
    from crossling_asr.interop.staging import ExportTargetError

    try:
        export_dir = write()
    except (ExportTargetError, *errors) as err:
        sys.exit(f"error: {err}")
    print(f"{done} {export_dir}")
    if args.upload:
        print(f"Uploaded: {upload_export(export_dir, args.upload, private=not args.public)}")
    return 0


def add_lm_weight_arguments(parser):
    """--alpha, --beta, --beam-size and the pruning options of a command that decodes with an LM;
    each overrides what the LM was tuned with (lm_settings_given collects them for
    crossling_asr.decoding.beam_search.resolve_lm_weights)."""
    parser.add_argument("--alpha", type=float, help=f"LM weight (default: tuned, else {LM_DEFAULTS['alpha']})")
    parser.add_argument("--beta", type=float, help=f"word insertion bonus (default: tuned, else {LM_DEFAULTS['beta']})")
    parser.add_argument(
        "--beam-size", type=positive_int, help=f"beam width (default: tuned, else {LM_DEFAULTS['beam_size']})"
    )
    add_pruning_arguments(parser, tuned=True)


def lm_settings_given(args: argparse.Namespace) -> dict:
    """add_lm_weight_arguments' values, None where not given: resolve_lm_weights' keyword arguments."""
    return {name: getattr(args, name) for name in (*LM_DEFAULTS, *PRUNING_OPTIONS)}


def add_pruning_arguments(parser, tuned):
    """--token-prune-min-logp and --beam-prune-logp: CTCBeamSearcher's pruning
    (crossling_asr.decoding.beam_search.PRUNING_OPTIONS). `tuned`: not giving one means the value
    the LM was tuned with, rather than SpeechBrain's default."""
    default = "tuned, else SpeechBrain's" if tuned else "SpeechBrain's"
    parser.add_argument(
        "--token-prune-min-logp",
        type=non_positive_float,
        help=f"extend hypotheses only with tokens above this log-probability (default: {default} -5.0)",
    )
    parser.add_argument(
        "--beam-prune-logp",
        type=non_positive_float,
        help=f"drop hypotheses this far below the best (default: {default} -10.0)",
    )


def add_decode_batching_arguments(parser):
    """--batch-seconds, --batch-size and --workers of the commands that decode audio in length-sorted batches."""
    parser.add_argument(
        "--batch-seconds",
        type=positive_float,
        default=DECODE_BATCH_SECONDS,
        help="padded audio seconds per batch (default %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=DECODE_BATCH_SIZE,
        help="utterances per batch at most (default %(default)s)",
    )
    parser.add_argument("--workers", type=non_negative_int, default=0, help="audio loading processes (default 0)")


def _number(text, convert, allow_zero):
    """`convert(text)`, refused unless finite and > 0 (>= 0 with `allow_zero`)."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if convert is int else 'a number'}, got {text!r}"
        ) from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise argparse.ArgumentTypeError(f"must be {'>= 0' if allow_zero else '> 0'}, got {text}")
    return value


def positive_float(text):
    """An option where 0 or less makes no sense (a throughput, a size, a time factor)."""
    return _number(text, float, allow_zero=False)


def non_negative_float(text):
    """An option that may be 0 but not negative (a cost added per run)."""
    return _number(text, float, allow_zero=True)


def non_positive_float(text):
    """A log-probability threshold: at most 0."""
    value = float(text)
    if value > 0:
        raise argparse.ArgumentTypeError(f"a log-probability threshold is at most 0, got {text}")
    return value


def positive_int(text):
    """A count that must be at least 1 (CPUs, concurrent runs, seconds)."""
    return _number(text, int, allow_zero=False)


def non_negative_int(text):
    """A count that may be 0 (GPUs per run: 0 is a CPU run)."""
    return _number(text, int, allow_zero=True)
