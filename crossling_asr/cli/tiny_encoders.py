"""Write tiny random encoders of the five transformers families, for smoke runs on CPU.

    local/tiny_encoders.py OUT [--families wav2vec2 hubert ...] [--seed 0]

OUT/<family>/ then holds a local encoder (config, weights, feature extractor)
of a few hundred thousand parameters, loaded like a hub id: give it to the
recipe as --encoder_source=OUT/wav2vec2 (with --cpu_tiny=True), or to the grid
as --encoder-source NAME=OUT/wav2vec2 (with --cpu-tiny), NAME being a registry
encoder of the same family. An encoder already in OUT is kept.
"""

import argparse
from pathlib import Path

from crossling_asr.model.families import FAMILIES
from crossling_asr.registry import load_registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder to write OUT/<family>/ into")
    parser.add_argument(
        "--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES), help="default: all five"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    args = parser.parse_args(argv)
    # torch and transformers load only now, so that --help answers at once.
    from crossling_asr.model.tiny_encoders import make_all_tiny_encoders

    folders = make_all_tiny_encoders(args.out, seed=args.seed, families=args.families)
    registry = load_registry()
    for family, folder in folders.items():
        model_class = FAMILIES[family].encoder
        names = [name for name, entry in registry.items() if entry["family"] == model_class]
        print(f"{family:<14} {folder.resolve()}  (stands in for: {', '.join(names) or 'no registry encoder'})")
    return 0
