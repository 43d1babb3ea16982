#!/usr/bin/env python3
"""Does a transformers export load, every weight in place, in transformers 4.x and HuggingSound?

    python bench/transformers4_compat.py <run> --python <python with transformers 4.x> [--split test] [--json OUT]

<run> is a finished run's output folder. It exports the run (crossling_asr.interop.transformers_ctc,
as local/export_transformers.py does), then also writes the same folder with the weight-norm names
transformers 5 writes by itself (`...parametrizations.weight.original0/1`, the export's layout before
it wrote 4.x's names) as the baseline, and hands both to bench/transformers4_load.py under the other
Python. There each is loaded by transformers 4.x (missing, unexpected and differing weights
reported) and transcribes the run's <split> clips one at a time; with HuggingSound installed there,
huggingsound.SpeechRecognitionModel transcribes them too. The hypotheses are compared with the
project's own (the run's test_hypotheses.tsv for the test split, else this transformers' load of the
export) and scored with the project's WER/CER. A transformers 4.x environment, e.g.:

    python -m venv tf4 && tf4/bin/pip install "transformers==4.24.*" safetensors "numpy<2" torch
    tf4/bin/pip install --no-deps huggingsound==0.1.6 && tf4/bin/pip install "datasets<3" "librosa<0.10" "jiwer<3"
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.torch import load_file, save_file

from crossling_asr.atomic import write_json
from crossling_asr.data.audio import read_resampled
from crossling_asr.decoding.metrics import error_rates
from crossling_asr.decoding.transcribe import read_manifest
from crossling_asr.interop.transformers_ctc import TRANSFORMERS4_WEIGHT_NORM_NAMES, export_to_transformers
from crossling_asr.model.trained_model import load_finished_run

SIDE_SCRIPT = Path(__file__).with_name("transformers4_load.py")


def with_transformers5_names(export_dir, folder):
    """A copy of an export whose weight-norm entries bear transformers 5's own names."""
    folder.mkdir()
    for path in export_dir.iterdir():
        if path.is_file() and path.name != "model.safetensors":
            (folder / path.name).write_bytes(path.read_bytes())
    state = {}
    for key, value in load_file(export_dir / "model.safetensors").items():
        for new, old in TRANSFORMERS4_WEIGHT_NORM_NAMES.items():
            if key.endswith(old):
                key = key[: -len(old)] + new
        state[key] = value
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def project_hypotheses(run, split, ids):
    """The run's own hypotheses of its test split (test_hypotheses.tsv), in `ids` order; None for another split."""
    if split != "test":
        return None
    with open(run.folder / "test_hypotheses.tsv", encoding="utf-8", newline="") as f:
        rows = {row["ID"]: row["hypothesis"] for row in csv.DictReader(f, delimiter="\t")}
    return [rows[i] for i in ids]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--python", required=True, help="a Python interpreter with transformers 4.x")
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument("--no-huggingsound", action="store_true", help="do not try HuggingSound")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    run = load_finished_run(args.run)
    items = read_manifest(run.manifest(args.split))
    ids, references = [i.id for i in items], [i.reference for i in items]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        export_dir = export_to_transformers(run.folder, tmp / "export")
        folders = {
            "export (4.x names)": str(export_dir),
            "transformers 5 names (baseline)": str(with_transformers5_names(export_dir, tmp / "v5_names")),
        }
        np.savez(tmp / "waveforms.npz", **{i.id: read_resampled(i.path, 16000).numpy() for i in items})
        request = {
            "folders": folders,
            "ids": ids,
            "paths": [i.path for i in items],
            "waveforms": str(tmp / "waveforms.npz"),
            "huggingsound": not args.no_huggingsound,
        }
        write_json(tmp / "request.json", request)
        subprocess.run([args.python, str(SIDE_SCRIPT), tmp / "request.json", tmp / "result.json"], check=True)
        result = json.loads((tmp / "result.json").read_text(encoding="utf-8"))

    own = project_hypotheses(run, args.split, ids)
    print(
        f"{run.folder} ({len(ids)} {args.split} clips); transformers {result['transformers']}, "
        f"torch {result['torch']}, HuggingSound {result.get('huggingsound', 'not run')}"
    )
    own_scores = error_rates(own, references) if own else None
    if own_scores:
        print(f"  project (test_hypotheses.tsv): WER {own_scores['WER']:.2f} CER {own_scores['CER']:.2f}")
    for name, report in result["folders"].items():
        print(
            f"  {name}: {len(report['missing'])} missing, {len(report['unexpected'])} unexpected, "
            f"{len(report['differing'])} differing weights {report['missing'] or ''}"
        )
        for reader in ("hypotheses", "huggingsound"):
            if reader not in report:
                continue
            # The project's hypotheses are written with single spaces; transformers' decoding writes two
            # where the best path has two word delimiters with a blank between them.
            collapsed = [" ".join(text.split()) for text in report[reader]]
            scores = error_rates(report[reader], references)
            collapsed_scores = error_rates(collapsed, references)
            report[f"{reader}_scores"], report[f"{reader}_collapsed_scores"] = scores, collapsed_scores
            line = (
                f"    {'transformers 4.x' if reader == 'hypotheses' else 'HuggingSound':<17} WER {scores['WER']:.2f} "
                f"CER {scores['CER']:.2f}; spaces collapsed: WER {collapsed_scores['WER']:.2f} "
                f"CER {collapsed_scores['CER']:.2f}"
            )
            if own:
                same = sum(a == b for a, b in zip(report[reader], own))
                same_collapsed = sum(a == b for a, b in zip(collapsed, own))
                report[f"{reader}_same_as_project"] = [same, same_collapsed]
                line += f"; identical to the project's: {same}/{len(ids)}, spaces collapsed {same_collapsed}/{len(ids)}"
            print(line)
    if args.json is not None:
        write_json(args.json, {**result, "project": {"hypotheses": own, "scores": own_scores}, "ids": ids})
    return 0


if __name__ == "__main__":
    sys.exit(main())
