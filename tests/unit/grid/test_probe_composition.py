"""The grid with the probe protocol, without training: overrides checked with the protocol applied
(in `plan` as in `run`), the CPU probe head, and `status` finding runs of any protocol or source."""

import json

import pytest

from crossling_asr.cli.grid import main as grid_main
from crossling_asr.data.preparation import preparation_hparams
from crossling_asr.grid.job import GridJob
from crossling_asr.grid.runs import GridError
from crossling_asr.run_layout import run_name


def test_overrides_are_checked_with_the_protocol_applied(tmp_path):
    job = GridJob(results_root=tmp_path, data_root=tmp_path, protocol="probe", recipe_overrides=["--probe_head=linear"])
    assert "--protocol=probe" in job.language_overrides("es")  # the preparation loads the protocol too
    with pytest.raises(GridError, match="'probe_head'"):
        GridJob(results_root=tmp_path, recipe_overrides=["--probe_head=linear"])  # study: no probe head


def test_plan_with_a_misspelt_override_fails_naming_the_key(tmp_path, capsys):
    args = ["plan", "--results-root", str(tmp_path), "--langs", "es", "--encoders", "xlsr-53", "--seeds", "1"]
    with pytest.raises(SystemExit) as stopped:
        grid_main([*args, "--data-folder", f"es={tmp_path}", "--", "--number_of_epoch=1"])
    assert "'number_of_epoch' (did you mean number_of_epochs" in str(stopped.value.code)
    assert grid_main([*args, "--", "--protocol=probe", "--probe_head=linear"]) == 0
    assert "xlsr-53.probe/seed_1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, head", [([], "linear"), (["--probe_head=bilstm"], "bilstm")], ids=["cpu-default", "given"]
)
def test_cpu_tiny_probes_use_the_linear_head_unless_told(tmp_path, extra, head):
    common = [f"--data_folder={tmp_path}", f"--results_root={tmp_path}", "--protocol=probe"]
    assert preparation_hparams("es", [*common, "--cpu_tiny=True", *extra])["probe_head"] == head
    assert preparation_hparams("es", common)["probe_head"] == "bilstm"  # the protocol's own on a GPU


def test_status_finds_runs_of_other_protocols_and_sources_without_their_flags(tmp_path, capsys):
    source = str(tmp_path / "encoders" / "tiny")
    folder = tmp_path / "es" / run_name("xlsr-53", "probe", source) / "seed_1"
    folder.mkdir(parents=True)
    results = {"status": "finished", "run": {"encoder_source": source}, "metrics": {"test": {"WER": 80.0, "CER": 40.0}}}
    (folder / "results.json").write_text(json.dumps(results))

    assert grid_main(["status", "--results-root", str(tmp_path), "--langs", "es", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("16 runs: 0 done")  # the selection: registry weights, study protocol
    assert "1 more runs under the results root, of another protocol or encoder source than selected: 1 done" in out
    assert f"es/{folder.parent.name}/seed_1  done     WER 80.00" in out
    assert f"selected by: --encoders xlsr-53 --seeds 1 --protocol probe --encoder-source xlsr-53={source}" in out


def test_choose_stages_share_one_preparation_and_use_the_cache_when_it_pays(tmp_path):
    from crossling_asr.grid.choose import ChooseSettings, full_stage, probe_stage, short_stage

    settings = ChooseSettings("es", str(tmp_path / "cv"), str(tmp_path / "r"), encoders=["xlsr-53", "wavlm-large"])
    prepared = [
        preparation_hparams("es", job.language_overrides("es"))["prep_folder"]
        for job, _ in (probe_stage(settings), short_stage(settings, ["xlsr-53"]), full_stage(settings, "xlsr-53"))
    ]
    assert prepared == [str(tmp_path / "r" / "prepared" / "es")] * 3
    job, runs = short_stage(settings, ["xlsr-53"])
    assert job.results_root == str(tmp_path / "r" / "choose" / "es" / "short")  # never a full fine-tune's folder
    assert [(r.encoder, r.protocol) for r in runs] == [("xlsr-53", "study")]

    def cache(**kwargs):
        job, _ = probe_stage(ChooseSettings("es", "cv", str(tmp_path), **kwargs))
        return [arg for arg in job.recipe_overrides if arg.startswith("--probe_feature_cache=")]

    assert cache(epochs=1) == ["--probe_feature_cache=none"]  # every utterance encoded once anyway
    assert cache(epochs=2) == ["--probe_feature_cache=language"]
    assert cache(epochs=1, seeds=[1, 2]) == ["--probe_feature_cache=language"]
    assert cache(epochs=1, feature_cache="run") == ["--probe_feature_cache=run"]
