"""Run folder names: one definition shared by the recipe, the grid and the report."""

import hashlib
from pathlib import Path

import pytest

from crossling_asr.hparams import language_file, load_recipe_hparams
from crossling_asr.run_layout import output_folder, parse_run_name, run_name

REGISTRY = {"xlsr-53": {"source": "facebook/wav2vec2-large-xlsr-53"}}


def test_the_study_protocol_with_registry_weights_keeps_the_plain_layout():
    assert run_name("xlsr-53", registry=REGISTRY) == "xlsr-53"
    assert run_name("xlsr-53", encoder_source="facebook/wav2vec2-large-xlsr-53", registry=REGISTRY) == "xlsr-53"
    assert output_folder("R", "es", "xlsr-53", 2) == str(Path("R/es/xlsr-53/seed_2"))


def test_another_protocol_and_a_replaced_source_are_in_the_name(tmp_path):
    assert run_name("xlsr-53", "stock", registry=REGISTRY) == "xlsr-53.stock"
    assert run_name("xlsr-53", encoder_source="org/model", registry=REGISTRY) == "xlsr-53~org--model"
    local = tmp_path / "tiny" / "wav2vec2"
    digest = hashlib.sha1(str(local.resolve()).encode()).hexdigest()[:6]
    assert run_name("xlsr-53", "probe", str(local), registry=REGISTRY) == f"xlsr-53.probe~wav2vec2-{digest}"


def test_names_parse_back():
    assert parse_run_name("xlsr-53") == ("xlsr-53", "study", None)
    assert parse_run_name("xlsr-53.stock") == ("xlsr-53", "stock", None)
    assert parse_run_name("xlsr-53.probe~org--model") == ("xlsr-53", "probe", "org--model")


def test_an_encoder_name_with_a_separator_is_refused():
    with pytest.raises(ValueError, match="must not contain"):
        run_name("xlsr.53", registry=REGISTRY)


@pytest.mark.slow  # builds the hparams (the encoder module is instantiated)
def test_the_recipe_output_folder_follows_the_protocol(tmp_path, tiny_encoders):
    overrides = f"data_folder: {tmp_path}\nresults_root: {tmp_path}\nencoder_source: {tiny_encoders['wav2vec2']}\n"
    study, _, _ = load_recipe_hparams(language_file("es"), overrides)
    stock, _, _ = load_recipe_hparams(language_file("es"), overrides + "protocol: stock\n")
    tag = run_name("xlsr-53", encoder_source=str(tiny_encoders["wav2vec2"])).split("~")[1]  # a tiny encoder
    assert study["output_folder"] == str(tmp_path / "es" / f"xlsr-53~{tag}" / "seed_1")
    assert stock["output_folder"] == str(tmp_path / "es" / f"xlsr-53.stock~{tag}" / "seed_1")
    assert stock["save_folder"] == str(tmp_path / "es" / f"xlsr-53.stock~{tag}" / "seed_1" / "save")
