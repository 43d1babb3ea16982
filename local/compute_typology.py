#!/usr/bin/env python3
"""Compute the URIEL distances between the study's languages once, for the report.

    python local/compute_typology.py [--out hparams/typology_distances.json]

Takes a few minutes (urielplus computes each distance kind over all its
features); the report only reads the file this writes. See
crossling_asr/analysis/typology.py for the languages, codes and kinds.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossling_asr.analysis.typology import (  # noqa: E402
    DISTANCE_KINDS, STUDY_LANGUAGES, TYPOLOGY_FILE, compute_distances,
)
from crossling_asr.atomic import write_json  # noqa: E402


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
