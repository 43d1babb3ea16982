"""Command lines for quick CPU runs on tiny encoders: the demo, the tests, smoke grids.

A tiny randomly initialised encoder learning from scratch on a 2-core CPU
wants different settings from a pre-trained 315M-parameter one on a GPU.
They live in hparams/cpu_tiny.yaml and one recipe key turns them on
(`--cpu_tiny=True`; the grid's `--cpu-tiny`); the recipe and its hparams
are the ones users run.
"""

import sys

from crossling_asr.hparams import REPO_ROOT, language_file

# The recipe overrides that select the CPU tiny-encoder settings (hparams/cpu_tiny.yaml).
CPU_TINY_OVERRIDES = ["--cpu_tiny=True"]


def recipe_command(lang, data_folder, encoder_source, results_root, epochs, extra=()):
    """argv running recipes/<lang>/train.py on a tiny encoder with CPU settings.

    `extra` options win over the earlier ones of the same key and over hparams/cpu_tiny.yaml.
    """
    options = {}
    for arg in [
        f"--data_folder={data_folder}",
        f"--encoder_source={encoder_source}",
        f"--results_root={results_root}",
        f"--number_of_epochs={epochs}",
        *CPU_TINY_OVERRIDES,
        *extra,
    ]:
        options[arg.split("=", 1)[0]] = arg
    return [sys.executable, str(REPO_ROOT / "recipes" / lang / "train.py"), str(language_file(lang)), *options.values()]
