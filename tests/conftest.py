"""Shared fixtures: tiny encoders of every family and synthetic corpora, made once.

Everything is real: espeak-ng speech saved as Common Voice MP3s, encoders of
the real transformers classes (tiny, random), the real recipes run as users
run them. Expensive artefacts are session-scoped and shared between tests.

Layout: tests/unit/ holds the fast tests (pure functions, hand-made files;
`pytest -m "not slow"` selects exactly these), tests/integration/ the slow
ones (training, synthetic corpora, encoders, the grid, SLURM, DDP, the
benchmarks). Both mirror the package: tests/<tree>/<sub-package>/test_<module>.py
tests crossling_asr/<sub-package>/<module>.py (e.g. unit/training/test_feature_cache.py),
with tests/<tree>/recipes/ for the recipes' own files and rules; tests of the
base modules, the recipe, the package as a whole and the benchmarks sit at the
top of each tree. tests/helpers/ holds what tests share that is not a fixture
(recipe runners, hand-made inputs, independent computations, the fake sbatch)
and die_at.py, the script that runs a recipe which kills itself at a chosen point. tests/ and its
sub-folders are packages, so test files in different folders may share a name.

Markers (pytest.ini): `slow` (trains, or builds corpora or encoders),
`needs_espeak`, `needs_slurm`. Tests using the corpus or trained-model
fixtures get `slow` and `needs_espeak` automatically. Without espeak-ng or
SLURM the tests needing them are skipped, unless `--require-system-packages`
is given (`make test` and CI give it): then a missing package fails them.
"""

import shutil

import pytest

from crossling_asr.data.synthetic import synthesize_corpus
from crossling_asr.hparams import read_language_data
from crossling_asr.model.tiny_encoders import make_all_tiny_encoders
from tests.helpers.recipes import USAGE_CORPUS, USAGE_EPOCHS, run_folder, run_recipe
from tests.helpers.system_packages import missing_system_package

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


@pytest.fixture(scope="session")
def usage_run(tmp_path_factory, make_corpus, tiny_encoders):
    """(output folder, encoder dir) of the shared finished es run."""
    results_root = tmp_path_factory.mktemp("usage_model")
    encoder_dir = tiny_encoders["wav2vec2"]
    run_recipe("es", make_corpus("es", **USAGE_CORPUS), encoder_dir, results_root, epochs=USAGE_EPOCHS)
    return run_folder(results_root, "es", "xlsr-53", 1, encoder_dir), encoder_dir
