"""The recipe's output folder, as its hparams build it, follows the protocol."""

import pytest

from crossling_asr.hparams import language_file, load_recipe_hparams
from crossling_asr.run_layout import run_name


@pytest.mark.slow  # builds the hparams (the encoder module is instantiated)
def test_the_recipe_output_folder_follows_the_protocol(tmp_path, tiny_encoders):
    overrides = f"data_folder: {tmp_path}\nresults_root: {tmp_path}\nencoder_source: {tiny_encoders['wav2vec2']}\n"
    study, _, _ = load_recipe_hparams(language_file("es"), overrides)
    stock, _, _ = load_recipe_hparams(language_file("es"), overrides + "protocol: stock\n")
    tag = run_name("xlsr-53", encoder_source=str(tiny_encoders["wav2vec2"])).split("~")[1]  # a tiny encoder
    assert study["output_folder"] == str(tmp_path / "es" / f"xlsr-53~{tag}" / "seed_1")
    assert stock["output_folder"] == str(tmp_path / "es" / f"xlsr-53.stock~{tag}" / "seed_1")
    assert stock["save_folder"] == str(tmp_path / "es" / f"xlsr-53.stock~{tag}" / "seed_1" / "save")
