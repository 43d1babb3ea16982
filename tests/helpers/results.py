"""Hand-made results.json files in the schema of a run, the families of their languages, and statistics
computed by hand (ranks, Spearman's rho) to check the analysis against."""

import json
import math

from crossling_asr.registry import load_registry

REGISTRY = load_registry()


# The study's grouping, as the recipes' yamls state it.
FAMILIES = {"es": "Indo-European", "de": "Indo-European", "fr": "Indo-European", "ja": "Japonic", "th": "Kra-Dai"}


def results_object(language, encoder, seed, wer, cer=None, primary="WER", status="finished", **hparams):
    """A schema-1 results.json object with the given test error rates."""
    cer = wer / 2 if cer is None else cer
    return {
        "schema_version": 1,
        "status": status,
        "run": {
            "language": language,
            "encoder": encoder,
            "seed": seed,
            "encoder_family": "Wav2Vec2Model",
            "random_init": encoder == "no-pretraining",
            "output_folder": f"/r/{language}/{encoder}/seed_{seed}",
        },
        "metrics": {
            "primary": primary,
            "wer_meaningful": primary == "WER",
            "test": {"WER": wer, "CER": cer, "loss": 1.0, "n_utterances": 10},
            "dev_best": {"WER": wer, "CER": cer, "epoch": 1},
        },
        "data": {
            "splits": {
                s: {"utterances": 10, "hours": 0.5, "speakers": 2, "skipped": {}} for s in ("train", "dev", "test")
            }
        },
        "training": {"epochs": 1, "optimizer_steps": 5, "wall_seconds": 10.0},
        "hparams": {
            "number_of_epochs": 1,
            "seed": seed,
            "output_folder": f"/r/{language}/{encoder}/seed_{seed}",
            **hparams,
        },
    }


def write_results(root, results, folder=None):
    run = results["run"]
    folder = root / (folder or f"{run['language']}/{run['encoder']}/seed_{run['seed']}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results))
    return folder / "results.json"


def manual_ranks(values):
    """Average ranks (1-based; ties share the mean of their positions), computed by hand."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    position = 0
    while position < len(order):
        end = position
        while end + 1 < len(order) and values[order[end + 1]] == values[order[position]]:
            end += 1
        for k in range(position, end + 1):
            ranks[order[k]] = (position + end) / 2 + 1
        position = end + 1
    return ranks


def manual_spearman(x, y):
    rx, ry = manual_ranks(list(x)), manual_ranks(list(y))
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))


def facts_of(language):
    """The hparams a run of one of FAMILIES' languages records about its language."""
    iso = {"es": "spa", "de": "deu", "fr": "fra", "ja": "jpn", "th": "tha"}[language]
    return {"language_name": language, "iso639_3": iso, "family": FAMILIES[language]}
