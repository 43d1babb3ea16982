"""The recipes' files: one train.py everywhere, each language's data (alphabet, voice, words), the README."""

import re
import subprocess

import pytest

from crossling_asr.data.text import LanguageSpec
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.hparams import language_file, read_language_data
from tests.helpers.languages import LANGUAGES, UNSPACED, normalizer_for


def espeak_voices():
    out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=True).stdout
    return {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}


def test_train_py_identical_everywhere():
    reference = (ROOT / "recipes" / "es" / "train.py").read_bytes()
    for lang in LANGUAGES:
        assert (ROOT / "recipes" / lang / "train.py").read_bytes() == reference, lang


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.needs_espeak  # asks espeak-ng for its voices
def test_recipe_language_data(lang):
    data = read_language_data(lang)
    assert data["language"] == lang
    assert language_file(lang).name == f"{lang}.yaml"
    # only data: the keys of the shared experiment file's "Language" block
    assert set(data) <= {
        "base_hparams",
        "language",
        "language_name",
        "iso639_3",
        "family",
        "text",
        "primary_metric",
        "synthetic",
    }
    # the language's facts, which the report reads
    assert data["language_name"] and re.fullmatch(r"[a-z]{3}", data["iso639_3"]) and data["family"]
    assert (language_file(lang).parent / data["base_hparams"]).resolve() == ROOT / "hparams" / "ctc_study.yaml"
    assert set(data["text"]) <= set(LanguageSpec.__dataclass_fields__) - {"code"}
    unspaced = not data["text"].get("word_delimiter", True)
    assert unspaced == (lang in UNSPACED)
    assert data["primary_metric"] == ("CER" if unspaced else "WER")
    # the synthetic voice exists and every word is a clean training target
    assert data["synthetic"]["voice"] in espeak_voices()
    words = data["synthetic"]["words"]
    assert len(words) >= 30
    normalizer = normalizer_for(lang)
    for word in words:
        written = word[0] if isinstance(word, list) else word
        result = normalizer(written)
        assert normalizer.reject_reason(result) is None, (lang, word, result)
    readme = (ROOT / "recipes" / lang / "README.md").read_text(encoding="utf-8")
    assert f"python train.py hparams/{lang}.yaml --data_folder=/path/to/cv-corpus-7.0-2021-07-21/{lang}" in readme
    for section in ("## How to run", "## Text normalisation", "## Results", "--encoder="):
        assert section in readme, (lang, section)


def test_es_readme_exists():
    assert "## Text normalisation" in (ROOT / "recipes" / "es" / "README.md").read_text(encoding="utf-8")
