"""The synthetic corpus of a language without a voice or words fails, naming the hparam to set."""

import pytest

from crossling_asr.data.synthetic import synthesize_corpus
from tests.helpers.languages import new_language


@pytest.mark.needs_espeak  # asks espeak-ng for its voices
def test_synthetic_corpus_without_a_voice_or_words_fails_clearly(tmp_path):
    """A scaffolded language whose voice or word list is missing says which hparam to set."""

    with pytest.raises(ValueError, match="No espeak-ng voice for 'gl'.*synthetic.voice"):
        synthesize_corpus(tmp_path / "gl", "gl", None, ["casa"])
    with pytest.raises(ValueError, match="No words .*'zh-TW'.*synthetic.words"):
        synthesize_corpus(tmp_path / "zh-TW", "zh-TW", "cmn", [])
    new_language("zh-TW", "--alphabet", "\\u4e00-\\u9fff", "--recipes-dir", tmp_path / "recipes")
    assert "voice: cmn" in (tmp_path / "recipes" / "zh-TW" / "hparams" / "zh-TW.yaml").read_text()
