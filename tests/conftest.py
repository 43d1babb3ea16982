"""Shared fixtures: tiny encoders of every family and synthetic corpora, made once.

Everything is real: espeak-ng speech saved as Common Voice MP3s, encoders of
the real transformers classes (tiny, random), the real recipes run as users
run them. Expensive artefacts are session-scoped and shared between tests.
"""

import subprocess

import pytest

from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.hparams import read_language_data
from crossling_asr.quick_run import recipe_command
from crossling_asr.synthetic import synthesize_corpus
from crossling_asr.tiny_encoders import make_all_tiny_encoders


@pytest.fixture(scope="session")
def tiny_encoders(tmp_path_factory):
    """{model_type: directory} of tiny random encoders of the five families."""
    return make_all_tiny_encoders(tmp_path_factory.mktemp("tiny_encoders"))


@pytest.fixture(scope="session")
def make_corpus(tmp_path_factory):
    """Factory: a synthetic Common Voice folder for a language, cached per arguments."""
    cache = {}

    def make(lang, n_train=40, n_dev=8, n_test=8, faults=False, seed=0):
        key = (lang, n_train, n_dev, n_test, faults, seed)
        if key not in cache:
            data = read_language_data(lang)
            folder = tmp_path_factory.mktemp(f"cv_{lang}") / lang
            synthesize_corpus(
                folder, lang, data["synthetic"]["voice"], data["synthetic"]["words"],
                word_delimiter=data.get("text", {}).get("word_delimiter", True),
                n_train=n_train, n_dev=n_dev, n_test=n_test, faults=faults, seed=seed,
            )
            cache[key] = folder
        return cache[key]

    return make


# The one under-trained Spanish model that training, export, transcription and
# LM tests share: synthetic speech, tiny wav2vec2, trained once per session.
USAGE_CORPUS = dict(n_train=200, n_dev=20, n_test=20)
USAGE_EPOCHS = 20


@pytest.fixture(scope="session")
def usage_run(tmp_path_factory, make_corpus, tiny_encoders):
    """(output folder, encoder dir) of the shared finished es run."""
    results_root = tmp_path_factory.mktemp("usage_model")
    encoder_dir = tiny_encoders["wav2vec2"]
    run_recipe("es", make_corpus("es", **USAGE_CORPUS), encoder_dir, results_root, epochs=USAGE_EPOCHS)
    return results_root / "es" / "xlsr-53" / "seed_1", encoder_dir


def run_recipe(lang, data_folder, encoder_source, results_root, epochs=1, extra=(), check=True, **kwargs):
    """Run recipes/<lang>/train.py in a subprocess, as a user would; returns CompletedProcess."""
    cmd = recipe_command(lang, data_folder, encoder_source, results_root, epochs, extra)
    proc = subprocess.run(
        cmd, cwd=ROOT / "recipes" / lang, capture_output=True, text=True, **kwargs
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def load_cpu_hparams(data_folder, encoder_source, results_root, lang="es", **overrides):
    """In-process equivalent of run_recipe's command line: (hparams, overrides, prep report).

    For tests that need to reach inside a run (monkeypatching the Brain); the
    hparams are resolved exactly as train.py resolves them.
    """
    from crossling_asr.common_voice import prepare_common_voice
    from crossling_asr.hparams import language_file, load_recipe_hparams
    from crossling_asr.quick_run import CPU_TINY_OVERRIDES
    from crossling_asr.text import TextNormalizer, language_spec_from_hparams

    args = CPU_TINY_OVERRIDES + [
        f"--encoder_source={encoder_source}", f"--data_folder={data_folder}", f"--results_root={results_root}",
    ] + [f"--{key}={value}" for key, value in overrides.items()]
    options = dict(arg[2:].split("=", 1) for arg in args)  # later options win
    cli = "\n".join(f"{key}: {value}" for key, value in options.items())
    hparams, _, merged = load_recipe_hparams(language_file(lang), cli)
    normalizer = TextNormalizer(language_spec_from_hparams(hparams))
    report = prepare_common_voice(data_folder, hparams["prep_folder"], normalizer, num_workers=1)
    return hparams, merged, report


CPU_RUN_OPTS = {"device": "cpu", "noprogressbar": True}
