"""Loading trained models: which folders are refused and why, and where a run's encoder config is found."""

import json

import pytest

from crossling_asr.model.trained_model import (
    FinishedRun,
    TrainedModel,
    TrainedModelError,
    encoder_config_dir,
    head_kwargs,
    hub_model_id,
    load_finished_run,
)


def test_folders_that_are_not_models_are_refused_naming_what_is_missing(tmp_path):
    with pytest.raises(TrainedModelError, match="neither a finished run.*results.json.*model_info.json"):
        TrainedModel.load(tmp_path)
    with pytest.raises(TrainedModelError, match="does not exist"):
        load_finished_run(tmp_path / "nowhere")
    (tmp_path / "results.json").write_text(json.dumps({"status": "running"}))
    with pytest.raises(TrainedModelError, match="results.json: status is 'running'"):
        load_finished_run(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"status": "finished"}))
    with pytest.raises(TrainedModelError, match="label_encoder.txt not found"):
        load_finished_run(tmp_path)


def test_hub_ids_are_told_from_local_folders(tmp_path):
    assert hub_model_id("facebook/wav2vec2-large-xlsr-53") == "facebook/wav2vec2-large-xlsr-53"
    assert hub_model_id(str(tmp_path)) is None  # an existing folder
    assert hub_model_id("/gone/tiny/wav2vec2") is None  # an absolute path is never a repo id
    assert hub_model_id("not a repo") is None


def test_a_hub_encoders_config_is_found_in_the_runs_download_cache(tmp_path):
    # The layout huggingface_hub writes: models--<org>--<name>/{refs/main, snapshots/<commit>/...}.
    repo = tmp_path / "run" / "save" / "encoder_cache" / "models--org--encoder"
    old, current = repo / "snapshots" / "0000old", repo / "snapshots" / "1111new"
    for snapshot in (old, current):
        snapshot.mkdir(parents=True)
        for name in ("config.json", "preprocessor_config.json"):
            (snapshot / name).write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("1111new")
    run = FinishedRun(tmp_path / "run", {"run": {"encoder_source": "org/encoder"}}, None, None)
    assert encoder_config_dir(run) == current  # the snapshot refs/main points at

    (current / "preprocessor_config.json").unlink()
    with pytest.raises(TrainedModelError, match="org/encoder.*hub download cache"):
        encoder_config_dir(run)


@pytest.mark.parametrize(
    "module",
    ["crossling_asr.model.heads", "crossling_asr.model"],  # now, and as version 0.1 recorded it
)
def test_a_runs_head_options_are_read_under_its_recorded_module_path(tmp_path, module):
    (tmp_path / "hyperparams.yaml").write_text(
        f"ctc_head: !name:{module}.CTCHead\n    hidden_layers: [32]\n    dropout: 0.15\n    batch_norm: true\n"
    )
    run = FinishedRun(tmp_path, {}, tmp_path, tmp_path / "label_encoder.txt")
    assert head_kwargs(run) == {"hidden_layers": [32], "dropout": 0.15, "batch_norm": True}


def test_another_head_class_is_refused_naming_it(tmp_path):
    probe_head = "ctc_head: !name:crossling_asr.model.heads.ProbeCTCHead\n    kind: linear\n"
    (tmp_path / "hyperparams.yaml").write_text(probe_head)
    run = FinishedRun(tmp_path, {}, tmp_path, tmp_path / "label_encoder.txt")
    with pytest.raises(TrainedModelError, match="ProbeCTCHead, only .*heads.CTCHead can be loaded"):
        head_kwargs(run)
