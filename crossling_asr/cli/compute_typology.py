"""Compute the URIEL distances between the study's languages once, for the report.

    python local/compute_typology.py [--out hparams/typology_distances.json]

Takes a few minutes (urielplus computes each distance kind over all its
features); the report only reads the file this writes. See
crossling_asr/analysis/typology.py for the languages, codes and kinds.
"""

import argparse
import logging
import time
from pathlib import Path

from crossling_asr.analysis.typology import DISTANCE_KINDS, STUDY_LANGUAGES, TYPOLOGY_FILE, compute_distances
from crossling_asr.atomic import write_json


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=TYPOLOGY_FILE)
    parser.add_argument("--kinds", nargs="+", default=list(DISTANCE_KINDS), choices=DISTANCE_KINDS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # before urielplus configures INFO logging
    started = time.time()
    write_json(args.out, compute_distances(STUDY_LANGUAGES, args.kinds))
    print(f"Wrote {args.out} ({', '.join(args.kinds)}; {len(STUDY_LANGUAGES)} languages) "
          f"in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
