"""CTC checkpoints fine-tuned elsewhere that cannot be evaluated are refused with the reason."""

import pytest

from crossling_asr.cli.evaluate_checkpoint import main as evaluate_command
from crossling_asr.interop.external_ctc import CheckpointFiles, ExternalCheckpointError, load_ctc_checkpoint
from tests.helpers.external_checkpoints import HUGGINGSOUND_SPECIALS, SPANISH_LETTERS, save_checkpoint


def test_unprepared_data_is_an_error_naming_the_folder(tmp_path):
    checkpoint = save_checkpoint(tmp_path / "exp_w2v2t_es_wavlm_s1", "wavlm", HUGGINGSOUND_SPECIALS + SPANISH_LETTERS)
    with pytest.raises(SystemExit, match=r"prepared.es is not prepared .*--data-folder"):
        evaluate_command([str(checkpoint), "--results-root", str(tmp_path / "empty")])


def test_a_checkpoint_without_its_ctc_head_is_refused_not_completed_at_random(tmp_path):
    from safetensors.torch import load_file, save_file

    checkpoint = save_checkpoint(tmp_path / "ckpt", "wav2vec2", HUGGINGSOUND_SPECIALS + SPANISH_LETTERS)
    weights = load_file(checkpoint / "model.safetensors")
    assert "wav2vec2.masked_spec_embed" in weights  # the config asks for time masking
    save_file({k: v for k, v in weights.items() if k != "wav2vec2.masked_spec_embed"}, checkpoint / "model.safetensors")
    load_ctc_checkpoint(CheckpointFiles(checkpoint, str(checkpoint)))  # used in training only: not needed here
    save_file({k: v for k, v in weights.items() if not k.startswith("lm_head")}, checkpoint / "model.safetensors")
    with pytest.raises(ExternalCheckpointError, match="lm_head.bias, lm_head.weight.*not a fine-tuned CTC"):
        load_ctc_checkpoint(CheckpointFiles(checkpoint, str(checkpoint)))
