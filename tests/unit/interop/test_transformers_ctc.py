"""Conversion between SpeechBrain runs and transformers *ForCTC checkpoints: the released checkpoints'
vocabularies, heads that have no transformers form, the import command."""

import json

import pytest
import soundfile as sf
import torch

from tests.helpers.external_checkpoints import HUGGINGSOUND_SPECIALS, SPANISH_LETTERS, save_checkpoint


def test_other_heads_and_layer_weights_are_refused():
    from crossling_asr.interop.transformers_ctc import ConversionError, linear_head
    from crossling_asr.model.heads import CTCHead

    head = CTCHead(8, 5, dropout=0.1)
    assert linear_head(head) == (head[1], 0.1)  # dropout before the linear layer: the ForCTC's final_dropout
    with pytest.raises(ConversionError, match="Linear -> LeakyReLU -> Linear.*hidden_layers: \\[\\]"):
        linear_head(CTCHead(8, 5, hidden_layers=[16]))


def test_a_released_checkpoint_imports_with_its_vocabulary_id_for_id(tmp_path):
    from speechbrain.dataio.encoder import CTCTextEncoder
    from speechbrain.inference.ASR import EncoderASR

    from crossling_asr.interop.transformers_ctc import import_to_speechbrain

    tokens = HUGGINGSOUND_SPECIALS + SPANISH_LETTERS
    checkpoint = save_checkpoint(
        tmp_path / "exp_w2v2t_es_unispeech-sat_s77",
        "unispeech-sat",
        tokens,
        card_base="microsoft/unispeech-sat-large",
        weights="bin",
    )
    imported = import_to_speechbrain(checkpoint, tmp_path / "sb")
    labels = CTCTextEncoder()
    labels.load(imported / "label_encoder.txt")
    assert labels.get_blank_index() == 0
    assert [labels.ind2lab[i] for i in range(len(tokens))] == ["<blank>", "<s>", "</s>", "<unk>", " "] + SPANISH_LETTERS
    info = json.loads((imported / "model_info.json").read_text())
    assert info["checkpoint"]["weights_file"] == "pytorch_model.bin" and info["seed"] == 77
    assert info["encoder"]["family"] == "UniSpeechSatModel"
    asr = EncoderASR.from_hparams(source=str(imported), savedir=str(tmp_path / "cache"))
    clip = tmp_path / "clip.wav"
    sf.write(clip, torch.randn(16000).numpy() * 0.1, 16000)
    assert isinstance(asr.transcribe_file(str(clip)), str)


def test_the_import_command_refuses_to_replace_an_import_without_overwrite(tmp_path, capsys):
    from crossling_asr.cli.import_transformers import main

    checkpoint = save_checkpoint(
        tmp_path / "exp_w2v2t_es_wav2vec2_s3", "wav2vec2", HUGGINGSOUND_SPECIALS + SPANISH_LETTERS
    )
    destination = tmp_path / "sb"
    assert main([str(checkpoint), str(destination)]) == 0
    assert f"Imported to {destination}" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="error: .*overwrite"):
        main([str(checkpoint), str(destination)])
    assert main([str(checkpoint), str(destination), "--overwrite"]) == 0
    assert (destination / "model_info.json").is_file()
