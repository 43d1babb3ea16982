"""Export: a finished run becomes a folder plain SpeechBrain loads and transcribes with; its model card,
the export command, refused folders and the upload."""

import csv
import json
import re
import shutil
import subprocess
import sys

import pytest
import torch

from crossling_asr.data.datasets import build_tokenizer, decode_text, read_audio
from crossling_asr.decoding.greedy import greedy_ctc_decode
from crossling_asr.decoding.ngram_lm import build_run_lm
from crossling_asr.decoding.transcribe import Decoder
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.interop.encoder_asr import export_model
from crossling_asr.interop.hub import upload_export
from crossling_asr.interop.staging import ExportTargetError
from crossling_asr.model.encoders import build_encoder, resolve_encoder
from crossling_asr.model.heads import CTCHead
from crossling_asr.model.trained_model import TrainedModel, TrainedModelError, head_kwargs, load_finished_run


def longest_test_clip(output_folder):
    """The longest test utterance's 16 kHz audio written by data preparation."""
    results = json.loads((output_folder / "results.json").read_text())
    with open(results["hparams"]["test_csv"], encoding="utf-8", newline="") as f:
        row = max(csv.DictReader(f), key=lambda r: float(r["duration"]))
    return row["wav"].replace("$data_root", results["hparams"]["prep_folder"])


def project_transcript(output_folder, encoder_dir, clip, scratch):
    """The clip decoded the way CTCBrain decodes: SSLEncoder + CTCHead (the run's own head options) of the
    checkpoint the run tested."""
    run = load_finished_run(output_folder)
    results = run.results
    encoder = build_encoder(
        resolve_encoder(results["run"]["encoder"], encoder_dir),
        scratch,
        config_overrides=results["hparams"]["encoder_config"],
    )
    tokenizer = build_tokenizer(results["hparams"]["train_csv"], output_folder / "save" / "label_encoder.txt")
    head = CTCHead(input_size=encoder.output_size, n_tokens=len(tokenizer), **head_kwargs(run))
    encoder.load_state_dict(torch.load(run.checkpoint / "encoder.ckpt", weights_only=True))
    head.load_state_dict(torch.load(run.checkpoint / "head.ckpt", weights_only=True))
    encoder.eval(), head.eval()
    wavs, wav_lens = read_audio(clip)[None], torch.ones(1)
    with torch.no_grad():
        log_probs = head(encoder(wavs, wav_lens)).float().log_softmax(dim=-1)
    return decode_text(tokenizer, greedy_ctc_decode(log_probs, wav_lens, tokenizer.get_blank_index())[0])


# Runs in a fresh interpreter, from a folder outside the repository, and
# fails if anything imports the project's package.
PLAIN_SPEECHBRAIN = r"""
import json, sys

class RefuseProjectCode:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "crossling_asr":
            raise ImportError("the exported model imported project code: " + name)
        return None

sys.meta_path.insert(0, RefuseProjectCode())
from speechbrain.inference.ASR import EncoderASR

jobs = json.loads(sys.argv[1])
out = {}
for name, job in jobs.items():
    asr = EncoderASR.from_hparams(source=job["source"], savedir=job["savedir"], overrides=job.get("overrides", {}))
    out[name] = asr.transcribe_file(job["clip"])
print("RESULT " + json.dumps(out))
"""


def test_exported_model_transcribes_like_the_project_in_plain_speechbrain(usage_run, tmp_path):
    output_folder, encoder_dir = usage_run
    clip = longest_test_clip(output_folder)
    greedy_dir = export_model(output_folder, tmp_path / "export")
    arpa = tmp_path / "lm.arpa"
    build_run_lm(load_finished_run(output_folder), arpa)
    beam = {"alpha": 1.0, "beta": 1.0, "beam_size": 16, "token_prune_min_logp": -4.0}
    lm_dir = export_model(output_folder, tmp_path / "export_lm", arpa, beam)
    moved = shutil.copytree(greedy_dir, tmp_path / "moved" / "export")

    files = {p.name for p in greedy_dir.iterdir()}
    assert {
        "hyperparams.yaml",
        "model.safetensors",
        "config.json",
        "preprocessor_config.json",
        "ctc_head.pt",
        "label_encoder.txt",
        "README.md",
        "model_info.json",
    } <= files
    assert not [f for f in files if f.endswith((".ckpt", ".bin", ".pkl"))]
    torch.load(greedy_dir / "ctc_head.pt", weights_only=True)
    assert "crossling_asr" not in (greedy_dir / "hyperparams.yaml").read_text()

    shutil.rmtree(greedy_dir)  # the moved copy must not need the original
    jobs = {
        "greedy_moved": {
            "source": str(moved),
            "savedir": str(tmp_path / "sb_greedy"),
            "clip": clip,
            "overrides": {"model_dir": str(moved)},
        },
        "lm_in_place": {"source": str(lm_dir), "savedir": str(tmp_path / "sb_lm"), "clip": clip},
    }
    proc = subprocess.run(
        [sys.executable, "-c", PLAIN_SPEECHBRAIN, json.dumps(jobs)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    plain = json.loads(proc.stdout.split("RESULT ", 1)[1])

    expected = project_transcript(output_folder, encoder_dir, clip, tmp_path / "scratch")
    assert expected.strip(), "the shared model should not be blank-collapsed"
    # Plain EncoderASR joins characters as decoded; the project also collapses and
    # trims spaces (as in references). The characters and words must be the same.
    assert plain["greedy_moved"].split() == expected.split()

    # The export's own decoder, pruning included, in plain SpeechBrain and in transcribe.py alike.
    lm_model = TrainedModel.load(lm_dir, "cpu")
    assert lm_model.exported_lm == {"lm": lm_dir / "lm.arpa", **beam}
    log_probs, frames = lm_model.log_probs([read_audio(clip)])
    assert plain["lm_in_place"] == Decoder(lm_model, **lm_model.exported_lm)(log_probs, frames)[0]


def test_a_moved_export_loads_with_the_helper_or_the_documented_override(usage_run, tmp_path):
    from speechbrain.inference.ASR import EncoderASR

    from crossling_asr.interop.encoder_asr import ExportError, load_encoder_asr

    output_folder, _ = usage_run
    clip = longest_test_clip(output_folder)
    original = export_model(output_folder, tmp_path / "export")
    moved = tmp_path / "elsewhere" / "export"
    moved.parent.mkdir()
    original.rename(moved)

    with_override = EncoderASR.from_hparams(
        source=str(moved), savedir=str(tmp_path / "sb1"), overrides={"model_dir": str(moved)}
    )
    with_helper = load_encoder_asr(moved, tmp_path / "sb2")
    assert with_helper.transcribe_file(clip) == with_override.transcribe_file(clip)
    assert TrainedModel.load(moved, "cpu").source == str(moved)  # the package's own loader reads the folder given

    # Plain SpeechBrain without the override: the YAML's old path, taken for a hub id (as the card says).
    with pytest.raises((OSError, ValueError), match=rf"Repo id must be in the form.*'{re.escape(str(original))}'"):
        EncoderASR.from_hparams(source=str(moved), savedir=str(tmp_path / "sb3"))
    with pytest.raises(
        ExportError, match=rf"model_dir '{re.escape(str(original))}' is not a folder .*load_encoder_asr"
    ):
        load_encoder_asr(moved, tmp_path / "sb4", overrides={"model_dir": str(original)})
    card = (moved / "README.md").read_text()
    assert 'overrides={"model_dir": "path/to/this/folder"}' in card and "load_encoder_asr(" in card


def test_model_card_states_language_encoder_data_scores_and_citation(usage_run, tmp_path):
    from huggingface_hub import ModelCard

    output_folder, _ = usage_run
    readme = export_model(output_folder, tmp_path / "export") / "README.md"
    card = readme.read_text()
    results = json.loads((output_folder / "results.json").read_text())
    test = results["metrics"]["test"]
    for fact in (
        "language: es",
        "xlsr-53",
        "MLS, CommonVoice, BABEL",
        "56000 hours",
        "Seed 1",
        f"{test['WER']:.2f}",
        f"{test['CER']:.2f}",
        "2511.21704",
        "EncoderASR.from_hparams",
        "## Limitations",
        "| train | 200 |",
    ):
        assert fact in card, fact

    loaded = ModelCard.load(readme)  # huggingface_hub parses and checks the metadata
    scores = {r.metric_type: r.metric_value for r in loaded.data.eval_results}
    assert scores == {"wer": test["WER"], "cer": test["CER"]}
    for result in loaded.data.eval_results:
        assert result.task_type == "automatic-speech-recognition"
        assert (result.dataset_config, result.dataset_split) == ("es", "test")
        # The synthetic corpus is not in a cv-corpus-<version>-<date> folder: no release is claimed.
        assert result.dataset_type == "common_voice" and "release unknown" in result.dataset_name
    assert loaded.data.base_model is None  # the run's encoder is a local folder, not a hub model
    assert loaded.data.language == "es" and loaded.data.library_name == "speechbrain"


def test_model_card_names_a_replaced_encoder_source_with_the_registry_name(usage_run, tmp_path):
    from huggingface_hub import ModelCard

    from crossling_asr.interop.model_card import model_card
    from crossling_asr.registry import load_registry

    output_folder, encoder_dir = usage_run
    export_dir = export_model(output_folder, tmp_path / "export")
    card = (export_dir / "README.md").read_text()
    source = json.loads((output_folder / "results.json").read_text())["run"]["encoder_source"]
    assert source == str(encoder_dir)  # the shared run's encoder is a tiny local one
    title = f"xlsr-53 (weights from {source}) fine-tuned with CTC on Common Voice es"
    assert f"\n# {title}\n" in card and ModelCard.load(export_dir / "README.md").data.model_name == title
    assert "xlsr-53 fine-tuned" not in card
    registry_source = load_registry()["xlsr-53"]["source"]
    assert (
        f"source: `{source}` (replacing the registry's `{registry_source}`: not the study's xlsr-53 weights)"
    ) in card

    info = json.loads((export_dir / "model_info.json").read_text())  # the same run, as if on the registry's weights
    own = model_card(
        load_finished_run(output_folder), {**info, "encoder": {**info["encoder"], "source": registry_source}}
    )
    assert "\n# xlsr-53 fine-tuned with CTC on Common Voice es\n" in str(own)
    assert "weights from" not in str(own) and "replacing the registry" not in str(own)


def test_export_refuses_unfinished_runs_and_foreign_folders(usage_run, tmp_path):
    output_folder, _ = usage_run
    with pytest.raises(TrainedModelError, match="results.json"):
        export_model(tmp_path, tmp_path / "export")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ExportTargetError, match="not an exported model"):
        export_model(output_folder, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    export_model(output_folder, tmp_path / "again")
    with pytest.raises(ExportTargetError, match="--overwrite"):
        export_model(output_folder, tmp_path / "again")
    export_model(output_folder, tmp_path / "again", overwrite=True)


def test_export_cli(usage_run, tmp_path):
    output_folder, _ = usage_run
    proc = subprocess.run(
        [sys.executable, str(ROOT / "local" / "export_model.py"), str(output_folder), str(tmp_path / "cli")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Exported to" in proc.stdout and (tmp_path / "cli" / "hyperparams.yaml").is_file()


def test_upload_is_one_commit_of_the_folder_as_it_is_plus_the_hub_yaml(usage_run, tmp_path, monkeypatch):
    """--upload without a network: the hub client is replaced by one recording what it gets."""
    import huggingface_hub

    output_folder, _ = usage_run
    export_dir = export_model(output_folder, tmp_path / "export")
    calls = []

    class RecordingHfApi:
        def create_repo(self, repo_id, private, exist_ok):
            calls.append(("create_repo", repo_id, private, exist_ok))
            return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

        def create_commit(self, repo_id, operations, commit_message):
            calls.append(("create_commit", repo_id, list(operations)))

    def no_copies(*args, **kwargs):
        raise AssertionError("the export was copied")

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHfApi)
    for name in ("copytree", "copyfile", "copy", "copy2"):
        monkeypatch.setattr(shutil, name, no_copies)
    url = upload_export(export_dir, "someone/asr-es")

    assert url == "https://huggingface.co/someone/asr-es"
    assert [call[0] for call in calls] == ["create_repo", "create_commit"]  # ONE commit
    assert calls[0][1:] == ("someone/asr-es", True, True)
    operations = calls[1][2]
    names = [op.path_in_repo for op in operations]
    assert sorted(names) == sorted(p.name for p in export_dir.iterdir()) and len(set(names)) == len(names)
    by_name = {op.path_in_repo: op for op in operations}
    assert by_name["model.safetensors"].path_or_fileobj == str(export_dir / "model.safetensors")
    assert all(
        op.path_or_fileobj == str(export_dir / name) for name, op in by_name.items() if name != "hyperparams.yaml"
    )
    with by_name["hyperparams.yaml"].as_file() as f:
        hub_yaml = f.read().decode("utf-8")
    assert 'model_dir: "someone/asr-es"' in hub_yaml and str(export_dir) not in hub_yaml
    local_yaml = (export_dir / "hyperparams.yaml").read_text()
    assert str(export_dir) in local_yaml  # the local copy is unchanged
    assert hub_yaml == local_yaml.replace(f'model_dir: "{export_dir}"', 'model_dir: "someone/asr-es"')
