"""Compute the URIEL distances between the recipes' languages once, for the report.

    python local/compute_typology.py [--out hparams/typology_distances.json]

The languages are those with a recipe (recipes/<lang>/hparams/<lang>.yaml),
each under the ISO 639-3 code its yaml states (`iso639_3`); a recipe that
states none is left out, with a warning. Takes a few minutes (urielplus
computes each distance kind over all its features); the report only reads
the file this writes. See crossling_asr/analysis/typology.py for the codes
and kinds.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

from crossling_asr.analysis.typology import DISTANCE_KINDS, TYPOLOGY_FILE
from crossling_asr.hparams import RECIPES_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=TYPOLOGY_FILE)
    parser.add_argument("--kinds", nargs="+", default=list(DISTANCE_KINDS), choices=DISTANCE_KINDS)
    parser.add_argument(
        "--recipes-dir",
        type=Path,
        default=RECIPES_DIR,
        help="the recipes whose languages to compute (default: the repository's recipes/)",
    )
    args = parser.parse_args(argv)
    from crossling_asr.analysis.typology import compute_distances, recipe_iso_codes
    from crossling_asr.atomic import write_json

    logging.basicConfig(level=logging.WARNING)  # before urielplus configures INFO logging
    iso_codes, missing = recipe_iso_codes(args.recipes_dir)
    for language in missing:
        print(
            f"warning: {language} left out: recipes/{language}/hparams/{language}.yaml states no iso639_3",
            file=sys.stderr,
        )
    if len(iso_codes) < 2:
        print(
            f"error: {len(iso_codes)} recipes in {args.recipes_dir} state an iso639_3 code; distances need two",
            file=sys.stderr,
        )
        return 1
    started = time.time()
    write_json(args.out, compute_distances(iso_codes, args.kinds))
    print(f"Wrote {args.out} ({', '.join(args.kinds)}; {len(iso_codes)} languages) in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
