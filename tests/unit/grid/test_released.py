"""`local/grid.py released` on hand-made inputs in this process: list files with bad lines, a hub
listing through a stand-in HfApi, the SLURM scripts through a fake sbatch, and the cost figures
against a computation written out here."""

import json
import re
import sys
from types import SimpleNamespace

import huggingface_hub
import pytest
from huggingface_hub.errors import OfflineModeIsEnabled

from crossling_asr.grid.job import GridJob, read_manifest
from crossling_asr.grid.runs import GridError
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.registry import load_registry
from tests.helpers.grid import grid_output, released_folder, write_common_voice_folder, write_prep_report
from tests.helpers.slurm import write_fake_sbatch


def test_every_bad_line_of_a_checkpoint_list_is_named_by_file_and_line(tmp_path, capsys):
    lines = [
        "# the study's checkpoints",
        "jonatasgrosman/exp_w2v2t_es_wavlm_s1",
        "jonatasgrosman/exp_w2v2t_es_w2v3_s1",  # 3: no such model name
        "someone/exp_w2v2t_es_wavlm_s2",  # 4: another account
        "./copies/exp_w2v2t_es_wavlm_s3  # downloaded",  # 5: no such folder
        "jonatasgrosman/wav2vec2-large-xlsr-53-english",  # 6: not a released name
        "jonatasgrosman/exp_w2v2t_xx_wavlm_s4",  # 7: no recipe
        "jonatasgrosman/exp_w2v2t_es_wavlm_s1",  # 8: line 2 again
        "copies/exp_w2v2t_es_wavlm_s5",  # 9: a typo in a folder beside the list, not a hub id
    ]
    (tmp_path / "copies").mkdir()
    listing = tmp_path / "released.txt"
    listing.write_text("\n".join(lines) + "\n")
    code, out, _ = grid_output(capsys, "released", "status", "--results-root", tmp_path / "r", "--checkpoints", listing)
    assert isinstance(code, str) and code.startswith(f"error: --checkpoints {listing}") and not out
    reported = dict(re.findall(rf"^  {re.escape(str(listing))}:(\d+): (.*)$", code, re.M))
    assert sorted(reported, key=int) == ["3", "4", "5", "6", "7", "8", "9"]
    known = sorted(entry["released_name"] for entry in load_registry().values())
    assert f"unknown model name 'w2v3' (hparams/encoders.yaml's released_name: {', '.join(known)})" in reported["3"]
    assert "release account jonatasgrosman" in reported["4"]
    assert reported["5"].startswith(f"{tmp_path / 'copies' / 'exp_w2v2t_es_wavlm_s3'}: no such folder")
    assert "not named like a released checkpoint" in reported["6"]
    assert "language xx has no recipe here" in reported["7"]
    assert f"es/wavlm-large.released/seed_1 again (already {lines[1]} at {listing}:2)" in reported["8"]
    assert reported["9"].startswith(f"{tmp_path / 'copies' / 'exp_w2v2t_es_wavlm_s5'}: no such folder")


class ListingHfApi:
    """Stands in for huggingface_hub.HfApi: lists fixed model ids and records what it was asked."""

    asked = []
    ids = [
        "jonatasgrosman/exp_w2v2t_es_wav2vec2_s250",
        "jonatasgrosman/exp_w2v2t_de_wavlm_s3",
        "jonatasgrosman/exp_w2v2t_es_w2v3_s1",
        "jonatasgrosman/exp_w2v2t_zh-cn_xls-r_s108",
    ]

    def list_models(self, **query):
        self.asked.append(query)
        return iter(SimpleNamespace(id=model_id) for model_id in self.ids)


class OfflineHfApi:
    def list_models(self, **query):
        raise OfflineModeIsEnabled("Cannot reach https://huggingface.co/api/models: offline mode is enabled.")


def test_checkpoints_are_listed_on_the_hub_unless_given(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub, "HfApi", ListingHfApi)
    code, out, err = grid_output(capsys, "released", "status", "--results-root", tmp_path, "-v")
    assert ListingHfApi.asked == [{"author": "jonatasgrosman", "search": "exp_w2v2t"}]
    assert code == 0 and out.startswith("3 runs: 0 done, 0 running, 0 failed, 3 pending\n"), out
    assert [line.split() for line in out.splitlines()[1:]] == [
        ["de/wavlm-large.released/seed_3", "pending"],
        ["es/wav2vec2-large-lv60.released/seed_250", "pending"],
        ["zh-CN/xls-r-300m.released/seed_108", "pending"],
    ]
    assert "left out: hub: jonatasgrosman/exp_w2v2t_es_w2v3_s1: unknown model name 'w2v3'" in err
    code, out, _ = grid_output(
        capsys, "released", "status", "--results-root", tmp_path, "--langs", "zh-CN", "es", "--seeds", "108"
    )
    assert code == 0 and out.startswith("1 runs: 0 done, 0 running, 0 failed, 1 pending"), out
    code, _, _ = grid_output(capsys, "released", "status", "--results-root", tmp_path, "--encoders", "wav2vec3")
    assert "Unknown encoder(s) ['wav2vec3']" in code
    code, out, _ = grid_output(
        capsys, "released", "plan", "--results-root", tmp_path, "--langs", "es", "--batch-size", "4"
    )
    assert code == 0 and out.splitlines()[-2:] == [
        "Commands of the runs to launch:",
        f"{sys.executable} -m crossling_asr.cli.evaluate_checkpoint jonatasgrosman/exp_w2v2t_es_wav2vec2_s250 "
        f"--results-root {tmp_path} --batch-size=4",
    ]

    monkeypatch.setattr(huggingface_hub, "HfApi", OfflineHfApi)
    code, out, _ = grid_output(capsys, "released", "status", "--results-root", tmp_path)
    assert "could not list jonatasgrosman's exp_w2v2t* models on the Hugging Face hub (OfflineModeIsEnabled" in code
    assert "Offline, pass --checkpoints FILE" in code and not out


def test_released_checkpoints_are_submitted_to_slurm_as_evaluation_arrays(tmp_path, capsys):
    fake_sbatch = write_fake_sbatch(tmp_path, 200)
    root = tmp_path / "results"
    write_prep_report(root, "es", (10.0, 1.0, 2.0))
    write_common_voice_folder(tmp_path / "cv" / "es")
    listing = tmp_path / "released.txt"
    listing.write_text("jonatasgrosman/exp_w2v2t_es_xlsr-53_s1\njonatasgrosman/exp_w2v2t_es_xls-r_s2\n")
    command = [
        "released",
        "run",
        "--executor",
        "slurm",
        "--sbatch",
        fake_sbatch,
        "--results-root",
        root,
        "--checkpoints",
        listing,
        "--data-root",
        tmp_path / "cv",
        "--partition",
        "gpu",
        "--precision",
        "bf16",
        "--gpu-types",
        "v100_16g=16,a100_40g=40",
    ]
    code, out, _ = grid_output(capsys, *command)
    assert code == 0, out
    assert "0 of 2 runs already finished; submitting 2" in out
    assert "submitted prep.sbatch as job 201: ['es']" in out and "submitted eval0.sbatch as job 202: 2 runs" in out
    (submission,) = (root / "grid").glob("slurm-*")
    script = (submission / "eval0.sbatch").read_text()
    # one array: an evaluation fits the 16 GB type (training these encoders asks for 40 GB);
    # 1/3 x (1 + 2) h of audio at ~60 h per GPU-hour + 0.1 h, x 1.5: under the 15-minute minimum
    for directive in ("--array=0-1", "--time=00:15:00", "--gres=gpu:v100_16g:1", "--partition=gpu", "--requeue"):
        assert f"#SBATCH {directive}\n" in script
    assert "crossling_asr.grid.worker" in script and "--task run" in script
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[1].startswith("--parsable --dependency=afterok:201 ") and calls[1].endswith("eval0.sbatch")

    job, runs, languages = read_manifest(submission / "manifest.json")
    assert languages == ["es"] and sorted(run.checkpoint for run in runs) == sorted(listing.read_text().split())
    (xlsr,) = [run for run in runs if run.encoder == "xlsr-53"]
    assert job.recipe_command(xlsr) == [
        sys.executable,
        "-m",
        "crossling_asr.cli.evaluate_checkpoint",
        "jonatasgrosman/exp_w2v2t_es_xlsr-53_s1",
        "--results-root",
        str(root),
        "--precision=bf16",
    ]
    with pytest.raises(GridError, match="one GPU"):
        GridJob(results_root=root, gpus_per_run=2).recipe_command(xlsr)

    for encoder, seed in (("xlsr-53", 1), ("xls-r-300m", 2)):
        folder = released_folder(root, "es", encoder, seed)
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({"status": "finished", "metrics": {}}))
    code, out, _ = grid_output(capsys, *command)
    assert code == 0 and "2 of 2 runs already finished; submitting 0" in out and "submitted" not in out
    assert len((tmp_path / "calls").read_text().splitlines()) == 2


def test_cost_sets_evaluating_beside_retraining(tmp_path, capsys):
    write_prep_report(tmp_path, "es", (10.0, 1.0, 2.0))
    (tmp_path / "hours.yaml").write_text("de: {train: 40, dev: 3, test: 4}\n")
    listing = tmp_path / "released.txt"
    listing.write_text("jonatasgrosman/exp_w2v2t_es_xlsr-53_s1\njonatasgrosman/exp_w2v2t_de_wavlm_s2\n")
    code, out, _ = grid_output(
        capsys,
        "released",
        "cost",
        "--results-root",
        tmp_path,
        "--checkpoints",
        listing,
        "--hours-per-lang",
        tmp_path / "hours.yaml",
        "--audio-hours-per-gpu-hour",
        "50",
        "--overhead-gpu-hours",
        "0.2",
    )
    assert code == 0, code

    epochs = int(re.search(r"^number_of_epochs: (\d+)", (ROOT / "hparams" / "ctc_study.yaml").read_text(), re.M)[1])
    params = {"es": 317.4, "de": 315.5}  # xlsr-53 and wavlm-large in hparams/encoders.yaml
    hours = {"es": (10.0, 1.0, 2.0), "de": (40.0, 3.0, 4.0)}
    evaluate = retrain = 0.0
    for language, (train, dev, test) in hours.items():
        speed = 50 * 317.4 / params[language]  # audio hours per GPU-hour
        evaluate += (dev + test) / 3 / speed + 0.2
        retrain += (epochs * train + (epochs * dev + test) / 3) / speed + 0.2
    assert (
        f"Total: 2 checkpoints: evaluate {evaluate:.2f} GPU-hours; retrain the same 2 runs ({epochs} epochs) "
        f"{retrain:.1f} GPU-hours (evaluating costs {evaluate / retrain:.2%} of retraining)"
    ) in out
    speed = 50 * 317.4 / 315.5
    assert re.search(
        rf"^  wavlm-large +1 +{(7 / 3) / speed + 0.2:.2f} +"
        rf"{(epochs * 40 + (epochs * 3 + 4) / 3) / speed + 0.2:.1f}$",
        out,
        re.M,
    ), out
    assert '"audio_hours_per_gpu_hour": 50.0' in out and '"overhead_gpu_hours": 0.2' in out
    assert "Corpus hours from: de: --hours-per-lang, es: prep_report.json" in out

    code, _, _ = grid_output(
        capsys, "released", "cost", "--results-root", tmp_path, "--checkpoints", listing, "--", "--number_of_epochs=1"
    )
    assert "recipe overrides after -- do not apply" in code
