"""Aggregate every results.json under a results root and write the study's report.

    python local/report.py --results-root results --out report
    python local/report.py --results-root results --out report --langs es de --seeds 1 2 3
    python local/report.py --results-root results --out report --update-recipe-readmes

Writes report/report.md (tables and figures embedded with relative links),
report/tables/*.csv|md and report/figures/*.png|pdf. The expected grid
(--langs/--encoders/--seeds, default: whatever was found) decides which runs
are reported missing and which cells are flagged as having too few seeds.
Each language's name, ISO 639-3 code and family come from its runs'
results.json, else from its recipe's yaml; a language whose family is
unknown is left out of the Indo-European comparison, with a warning.
Language distances are read from hparams/typology_distances.json
(python local/compute_typology.py makes it). --update-recipe-readmes also
rewrites the results table of each language's recipes/<lang>/README.md.
"""

import argparse
import logging
import sys
from pathlib import Path

from crossling_asr.analysis.stats import BOOTSTRAP_RESAMPLES
from crossling_asr.analysis.typology import TYPOLOGY_FILE
from crossling_asr.hparams import RECIPES_DIR
from crossling_asr.run_layout import STUDY_PROTOCOL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results-root", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for report.md, tables/, figures/")
    parser.add_argument("--langs", nargs="+", help="expected languages (default: those found)")
    parser.add_argument("--encoders", nargs="+", help="expected encoders (default: those found)")
    parser.add_argument("--seeds", nargs="+", type=int, help="expected seeds (default: those found)")
    parser.add_argument("--typology", type=Path, default=TYPOLOGY_FILE, help="cached URIEL distances")
    parser.add_argument(
        "--ie-metric",
        choices=("CER", "WER", "error"),
        default="CER",
        help="metric of the Indo-European comparison (default CER: defined alike for all "
        "scripts; 'error' is each language's primary metric)",
    )
    parser.add_argument(
        "--bootstrap", type=int, default=BOOTSTRAP_RESAMPLES, help="bootstrap resamples (default %(default)s)"
    )
    parser.add_argument(
        "--protocol",
        default=STUDY_PROTOCOL,
        help="analyse the runs of this protocol (default: study, HuggingSound 0.1.6's loop; study runs "
        "trained before it followed that loop are set aside, with a warning); the others are listed",
    )
    parser.add_argument(
        "--include-replaced-sources",
        action="store_true",
        help="also analyse runs whose --encoder_source replaced the registry's weights "
        "(tiny smoke runs, other checkpoints), under their run names (name~source); "
        "the registry's facts (hours, languages) are not used for them",
    )
    parser.add_argument(
        "--update-recipe-readmes",
        action="store_true",
        help="also rewrite the results table of each language's recipes/<lang>/README.md "
        "(every registry encoder: mean ± std over the expected seeds, or 'not run')",
    )
    parser.add_argument(
        "--recipes-dir",
        type=Path,
        default=RECIPES_DIR,
        help="the recipes: language facts for results that lack them, READMEs to update "
        "(default: the repository's recipes/)",
    )
    args = parser.parse_args(argv)
    from crossling_asr.analysis.report import build_report, ordered_encoders  # pandas, matplotlib: after --help

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    if not args.results_root.is_dir():
        print(f"error: results root {args.results_root} is not a directory", file=sys.stderr)
        return 1
    path = build_report(
        args.results_root,
        args.out,
        args.langs,
        args.encoders,
        args.seeds,
        args.typology,
        args.ie_metric,
        args.bootstrap,
        args.recipes_dir,
        args.protocol,
        args.include_replaced_sources,
    )
    print(f"Wrote {path}")
    if args.update_recipe_readmes:
        from crossling_asr.analysis.aggregate import collect
        from crossling_asr.analysis.recipe_readmes import update_recipe_readmes
        from crossling_asr.registry import load_registry

        registry = load_registry()
        runs = collect(args.results_root, args.protocol, args.include_replaced_sources).runs
        encoders = args.encoders or ordered_encoders(set(registry) | set(runs["encoder"]), registry)
        updated, skipped = update_recipe_readmes(runs, encoders, args.langs, args.seeds, args.recipes_dir)
        for readme in updated:
            print(f"Updated {readme}")
        for readme, why in skipped:
            logging.warning(f"{readme} left alone: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
