"""Aggregate every results.json under a results root and write the study's report.

    python local/report.py --results-root results --out report
    python local/report.py --results-root results --out report --langs es de --seeds 1 2 3

Writes report/report.md (tables and figures embedded with relative links),
report/tables/*.csv|md and report/figures/*.png|pdf. The expected grid
(--langs/--encoders/--seeds, default: whatever was found) decides which runs
are reported missing and which cells are flagged as having too few seeds.
Language distances are read from hparams/typology_distances.json
(python local/compute_typology.py makes it).
"""

import argparse
import sys
from pathlib import Path

from crossling_asr.analysis.typology import TYPOLOGY_FILE


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results-root", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for report.md, tables/, figures/")
    parser.add_argument("--langs", nargs="+", help="expected languages (default: those found)")
    parser.add_argument("--encoders", nargs="+", help="expected encoders (default: those found)")
    parser.add_argument("--seeds", nargs="+", type=int, help="expected seeds (default: those found)")
    parser.add_argument("--typology", type=Path, default=TYPOLOGY_FILE, help="cached URIEL distances")
    parser.add_argument("--ie-metric", choices=("CER", "WER", "error"), default="CER",
                        help="metric of the Indo-European comparison (default CER: defined alike for all "
                             "scripts; 'error' is each language's primary metric)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples (default 2000)")
    args = parser.parse_args()
    from crossling_asr.analysis.report import build_report  # pandas, matplotlib: after --help

    if not args.results_root.is_dir():
        sys.exit(f"error: results root {args.results_root} is not a directory")
    path = build_report(args.results_root, args.out, args.langs, args.encoders, args.seeds,
                        args.typology, args.ie_metric, args.bootstrap)
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
