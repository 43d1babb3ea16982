"""Shared fixtures: tiny encoders of every family and synthetic corpora, made once.

Everything is real: espeak-ng speech saved as Common Voice MP3s, encoders of
the real transformers classes (tiny, random), the real recipes run as users
run them. Expensive artefacts are session-scoped and shared between tests.

Markers (pytest.ini): `slow` (trains, or builds corpora or encoders),
`needs_espeak`, `needs_slurm`. Tests using the corpus or trained-model
fixtures get `slow` and `needs_espeak` automatically. Without espeak-ng or
SLURM the tests needing them are skipped, unless `--require-system-packages`
is given (`make test` and CI give it): then a missing package fails them.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from crossling_asr.data.synthetic import synthesize_corpus
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.hparams import read_language_data
from crossling_asr.model.tiny_encoders import make_all_tiny_encoders
from crossling_asr.run_layout import output_folder
from crossling_asr.training.quick_run import recipe_command

# Fixtures that synthesise speech with espeak-ng (directly or through a corpus).
ESPEAK_FIXTURES = {"make_corpus", "usage_run"}
# Fixtures that train, or build corpora or encoders: their tests are `slow`.
SLOW_FIXTURES = ESPEAK_FIXTURES | {"tiny_encoders"}


def pytest_addoption(parser):
    parser.addoption(
        "--require-system-packages",
        action="store_true",
        help="fail, instead of skipping, tests whose system packages (espeak-ng, SLURM) are missing",
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(item.fixturenames)
        if fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if fixtures & ESPEAK_FIXTURES:
            item.add_marker(pytest.mark.needs_espeak)


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_espeak") and shutil.which("espeak-ng") is None:
        missing_system_package(item.config, "espeak-ng is not installed (make setup installs it)")


def missing_system_package(config, message):
    """Skip the running test, or fail it under --require-system-packages."""
    if config.getoption("--require-system-packages"):
        pytest.fail(f"{message}; --require-system-packages was given")
    pytest.skip(message)


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
                folder,
                lang,
                data["synthetic"]["voice"],
                data["synthetic"]["words"],
                word_delimiter=data.get("text", {}).get("word_delimiter", True),
                n_train=n_train,
                n_dev=n_dev,
                n_test=n_test,
                faults=faults,
                seed=seed,
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
    return run_folder(results_root, "es", "xlsr-53", 1, encoder_dir), encoder_dir


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
