"""What the benchmarks that train through the recipe share: a synthetic Spanish corpus, a tiny
random wav2vec2 and the recipe's run of a protocol and seed on them.

Imported by the bench scripts as `tiny_spanish` (they run as `python bench/<script>.py`, which puts
bench/ on the path).
"""

import argparse
import json
import subprocess
from pathlib import Path

from crossling_asr.data.synthetic import synthesize_corpus
from crossling_asr.hparams import REPO_ROOT, read_language_data
from crossling_asr.model.tiny_encoders import make_tiny_encoder
from crossling_asr.run_layout import output_folder
from crossling_asr.training.quick_run import recipe_command

DEFAULT_WORK = Path("/tmp/tiny-spanish-bench")


def argument_parser(description: str) -> argparse.ArgumentParser:
    """The options every such benchmark takes: epochs, training clips, seeds, work folder."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train", type=int, default=200, help="training clips (dev and test: a tenth)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    return parser


def bench_setup(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    """(corpus, encoder, results root) for `args` of argument_parser(); runs of the same number of
    epochs share the results root (and so one data preparation and each other's finished runs)."""
    corpus, encoder = corpus_and_encoder(args.work, args.train, max(4, args.train // 10))
    results = args.work / f"results_{args.epochs}"
    results.mkdir(parents=True, exist_ok=True)
    return corpus, encoder, results


def corpus_and_encoder(work: Path, n_train: int, n_eval: int) -> tuple[Path, Path]:
    """(Common Voice-style es corpus folder, tiny wav2vec2 folder) under `work`, made once."""
    encoder, corpus = work / "encoder", work / f"cv_{n_train}_{n_eval}" / "es"
    if not (encoder / "config.json").is_file():
        make_tiny_encoder("wav2vec2", encoder)
    if not (corpus / "train.tsv").is_file():
        data = read_language_data("es")
        synthesize_corpus(
            corpus,
            "es",
            data["synthetic"]["voice"],
            data["synthetic"]["words"],
            word_delimiter=True,
            n_train=n_train,
            n_dev=n_eval,
            n_test=n_eval,
            seed=0,
        )
    return corpus, encoder


def start_run(protocol: str, seed: int, corpus: Path, encoder: Path, results: Path, epochs: int, log: Path):
    """Popen of recipes/es/train.py (CPU tiny settings) for `protocol` and `seed`, output to `log`."""
    cmd = recipe_command(
        "es", corpus, encoder, results, epochs, [f"--protocol={protocol}", f"--seed={seed}", "--device=cpu"]
    )
    with open(log, "w", encoding="utf-8") as out:
        return subprocess.Popen(cmd, cwd=REPO_ROOT / "recipes" / "es", stdout=out, stderr=subprocess.STDOUT)


def run_folder(results: Path, encoder: Path, protocol: str, seed: int) -> Path:
    """Where the recipe writes the run of `protocol` and `seed` on `encoder`."""
    return Path(output_folder(results, "es", "xlsr-53", seed, protocol, str(encoder)))


def run_all(runs: list[tuple[str, int]], corpus: Path, encoder: Path, results: Path, epochs: int) -> dict:
    """{(protocol, seed): run_summary} of every run, one after the other (so each has the machine to
    itself); a run whose results.json is already there is read, not run again."""
    summaries = {}
    for protocol, seed in runs:
        folder = run_folder(results, encoder, protocol, seed)
        if not (folder / "results.json").is_file():
            log = results / f"{protocol}_seed{seed}.log"
            print(f"running {protocol} seed {seed} ({epochs} epochs; log: {log})", flush=True)
            if start_run(protocol, seed, corpus, encoder, results, epochs, log).wait():
                raise SystemExit(f"the {protocol} run of seed {seed} failed: see {log}")
        summaries[protocol, seed] = run_summary(folder)
    return summaries


def run_summary(folder: Path) -> dict:
    """Dev CER per epoch, seconds per epoch and test CER of a finished run, from its results.json."""
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    training = results["training"]
    return {
        "dev_CER": [round(e["CER"], 2) for e in training["dev_history"]],
        "seconds_per_epoch": training["wall_seconds"] / training["epochs"],
        "test_CER": results["metrics"]["test"]["CER"],
        "tested_epoch": (results["metrics"].get("dev_selected") or results["metrics"]["dev_best"])["epoch"],
        "skipped_nonfinite": training["skipped_nonfinite_batches"],
    }


def seed_spread(curves: list[list[float]]) -> list[str]:
    """ "mean [min, max]" per epoch of several seeds' dev-CER curves."""
    return [f"{sum(v) / len(v):.1f} [{min(v):.1f}, {max(v):.1f}]" for v in zip(*curves)]
