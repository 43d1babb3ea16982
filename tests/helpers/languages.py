"""The 18 languages of the study, their recipes' normalisers, and local/new_language.py run as users run it."""

import subprocess
import sys

from crossling_asr.data.text import LanguageSpec, TextNormalizer
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.hparams import read_language_data

LANGUAGES = [
    "ar",
    "de",
    "en",
    "es",
    "et",
    "fa",
    "fr",
    "id",
    "it",
    "ja",
    "nl",
    "pl",
    "pt",
    "ru",
    "sv-SE",
    "th",
    "uk",
    "zh-CN",
]


UNSPACED = {"ja", "th", "zh-CN"}


def normalizer_for(lang):
    data = read_language_data(lang)
    return TextNormalizer(LanguageSpec(code=data["language"], **data["text"]))


def new_language(*args, check=True):
    """Run local/new_language.py as a user would, with no terminal to ask on (unknown facts stay null)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "local" / "new_language.py"), *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc
