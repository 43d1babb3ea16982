"""The names of the study's released checkpoints, parsed without torch.

The study released its fine-tuned checkpoints on the Hugging Face hub as
jonatasgrosman/exp_w2v2t_<lang>_<model>_s<seed>: <lang> is the Common Voice code in lower
case (zh-cn for the recipe zh-CN), <model> an encoder's `released_name` in
hparams/encoders.yaml, <seed> the fine-tuning seed (any number). Evaluating, importing and
gridding those checkpoints all read their names here, so that the grid's status, plan and
cost answer at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from crossling_asr.hparams import recipe_languages

# The hub account the study's checkpoints were released under, and their names.
RELEASE_ACCOUNT = "jonatasgrosman"
RELEASED_NAME = re.compile(r"exp_w2v2t_(?P<language>[a-z]+(?:-[a-z]+)?)_(?P<model>[a-z0-9-]+)_s(?P<seed>\d+)")
# What the hub's model search is given to list them.
RELEASED_NAME_PREFIX = "exp_w2v2t"


@dataclass(frozen=True)
class ReleasedName:
    """The parts of a released checkpoint's name: Common Voice code (lower case), model, seed."""

    language: str
    model: str
    seed: int


def parse_released_name(source: str | Path) -> ReleasedName | None:
    """The ReleasedName of a hub id or folder named exp_w2v2t_<lang>_<model>_s<seed>, else None."""
    match = RELEASED_NAME.fullmatch(Path(str(source).rstrip("/")).name)
    if match is None:
        return None
    return ReleasedName(match["language"], match["model"], int(match["seed"]))


def released_model_encoder(model: str, registry: dict) -> tuple[str | None, str]:
    """(registry name of the encoder whose `released_name` is `model`, or None; the known released names
    as text, for the message when it is None)."""
    matches = [name for name, entry in registry.items() if entry.get("released_name") == model]
    known = ", ".join(sorted(entry["released_name"] for entry in registry.values() if entry.get("released_name")))
    return (matches[0] if matches else None), known


def recipe_language(released_language: str, languages: list[str] | None = None) -> str | None:
    """The recipe whose Common Voice code is a released name's language (zh-cn -> zh-CN), or None."""
    matches = [code for code in (languages or recipe_languages()) if code.lower() == released_language]
    return matches[0] if matches else None
