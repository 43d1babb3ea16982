"""Run folder names: one definition shared by the recipe, the grid and the report; evaluated
checkpoints have folders no trained run can have."""

import hashlib
from pathlib import Path

import pytest

from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.run_layout import (
    EVALUATION_PROTOCOLS,
    evaluation_output_folder,
    output_folder,
    parse_run_name,
    run_name,
)


def test_evaluated_checkpoints_have_folders_no_trained_run_can_have():
    assert evaluation_output_folder("R", "pt", "xls-r-300m", 108, "released") == "R/pt/xls-r-300m.released/seed_108"
    assert (
        evaluation_output_folder("R", "pt", "xlsr-53", 1, "external", "org/model")
        == "R/pt/xlsr-53.external~org--model/seed_1"
    )
    with pytest.raises(ValueError, match="released, external"):
        evaluation_output_folder("R", "pt", "xlsr-53", 1, "study")
    with pytest.raises(ValueError, match="named by the checkpoint"):
        evaluation_output_folder("R", "pt", "xlsr-53", 1, "external")
    trained_protocols = {path.stem for path in (ROOT / "hparams" / "protocols").glob("*.yaml")} | {"study"}
    assert not trained_protocols & set(EVALUATION_PROTOCOLS)


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
