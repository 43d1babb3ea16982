"""The hyperparams.yaml uploaded to the hub names the repo; a folder without one is sent as it is."""

import pytest

from crossling_asr.interop.hub import hub_hyperparams


def test_the_uploaded_yaml_names_the_repo_and_a_folder_without_one_is_sent_as_it_is(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    assert hub_hyperparams(folder, "org/name") is None  # a transformers export has no hyperparams.yaml
    (folder / "hyperparams.yaml").write_text(f'model_dir: "{folder.resolve()}"\nsample_rate: 16000\n')
    assert hub_hyperparams(folder, "org/name") == 'model_dir: "org/name"\nsample_rate: 16000\n'
    (folder / "hyperparams.yaml").write_text('model_dir: "/elsewhere"\n')
    with pytest.raises(ValueError, match="no model_dir line for this folder"):
        hub_hyperparams(folder, "org/name")
