"""The encoder registry (hparams/encoders.yaml) as data.

Kept apart from crossling_asr.model.encoders, which imports speechbrain and
transformers (~10 s): the grid's status, plan and cost commands and the
analysis only need the registry's facts.
"""

from pathlib import Path

import yaml

REGISTRY_PATH = Path(__file__).resolve().parents[1] / "hparams" / "encoders.yaml"


def load_registry(path=REGISTRY_PATH):
    """The registry as {name: entry}; each entry gets its `name`."""
    with open(path, encoding="utf-8") as f:
        registry = yaml.safe_load(f)
    for name, entry in registry.items():
        entry["name"] = name
        entry.setdefault("random_init", False)
    return registry
