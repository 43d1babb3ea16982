"""Running the real recipes from tests: as a user runs them (a subprocess) or in this process.

The shared trained model (conftest's `usage_run`) is built with USAGE_CORPUS and
USAGE_EPOCHS; tests that train a model of their own on the same data use them too.
"""

import subprocess
from pathlib import Path

from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.run_layout import output_folder
from crossling_asr.training.quick_run import recipe_command

# The one under-trained Spanish model that training, export, transcription and
# LM tests share: synthetic speech, tiny wav2vec2, trained once per session.
USAGE_CORPUS = dict(n_train=200, n_dev=20, n_test=20)
USAGE_EPOCHS = 20


def run_folder(results_root, lang, encoder, seed, encoder_source=None, protocol="study"):
    """A run's output folder, named as the recipe names it (crossling_asr.run_layout)."""
    return Path(output_folder(results_root, lang, encoder, seed, protocol, encoder_source))


def run_recipe(lang, data_folder, encoder_source, results_root, epochs=1, extra=(), check=True, **kwargs):
    """Run recipes/<lang>/train.py in a subprocess, as a user would; returns CompletedProcess."""
    cmd = recipe_command(lang, data_folder, encoder_source, results_root, epochs, extra)
    proc = subprocess.run(cmd, cwd=ROOT / "recipes" / lang, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def load_cpu_hparams(data_folder, encoder_source, results_root, lang="es", **overrides):
    """In-process equivalent of run_recipe's command line: (hparams, overrides, prep report).

    For tests that need to reach inside a run (monkeypatching the Brain); the
    hparams are resolved exactly as train.py resolves them.
    """
    from crossling_asr.data.common_voice import prepare_common_voice
    from crossling_asr.data.text import TextNormalizer, language_spec_from_hparams
    from crossling_asr.hparams import language_file, load_recipe_hparams
    from crossling_asr.training.quick_run import CPU_TINY_OVERRIDES

    args = (
        CPU_TINY_OVERRIDES
        + [f"--encoder_source={encoder_source}", f"--data_folder={data_folder}", f"--results_root={results_root}"]
        + [f"--{key}={value}" for key, value in overrides.items()]
    )
    options = dict(arg[2:].split("=", 1) for arg in args)  # later options win
    cli = "\n".join(f"{key}: {value}" for key, value in options.items())
    hparams, _, merged = load_recipe_hparams(language_file(lang), cli)
    normalizer = TextNormalizer(language_spec_from_hparams(hparams))
    report = prepare_common_voice(data_folder, hparams["prep_folder"], normalizer, num_workers=1)
    return hparams, merged, report


CPU_RUN_OPTS = {"device": "cpu", "noprogressbar": True}
