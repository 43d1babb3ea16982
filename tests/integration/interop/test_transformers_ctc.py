"""A finished run exported to transformers and imported back to SpeechBrain: evaluated and transcribed
like the run, by the transformers pipeline too, and uploaded as one commit."""

import csv
import json

import pytest
import soundfile as sf
import transformers

from crossling_asr.cli.evaluate_checkpoint import main as evaluate_command
from tests.helpers.external_checkpoints import read_hypotheses


@pytest.fixture(scope="module")
def usage_export(usage_run, tmp_path_factory):
    """(run folder, its transformers export) of the shared Spanish run."""
    from crossling_asr.interop.transformers_ctc import export_to_transformers

    output_folder, _ = usage_run
    return output_folder, export_to_transformers(output_folder, tmp_path_factory.mktemp("transformers") / "es")


def longest_test_row(output_folder):
    results = json.loads((output_folder / "results.json").read_text())
    prep = results["hparams"]["prep_folder"]
    with open(results["hparams"]["test_csv"], encoding="utf-8", newline="") as f:
        row = max(csv.DictReader(f), key=lambda r: float(r["duration"]))
    return {**row, "wav": row["wav"].replace("$data_root", prep)}


def test_an_exported_run_evaluates_exactly_like_the_run(usage_export, tmp_path):
    """Round trip: run -> transformers folder -> the external-checkpoint evaluation gives the run's own
    test hypotheses, utterance by utterance, and its WER and CER."""
    output_folder, export_dir = usage_export
    files = {p.name for p in export_dir.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "vocab.json",
        "tokenizer_config.json",
        "preprocessor_config.json",
        "README.md",
    } <= files and not [f for f in files if f.endswith((".bin", ".pt", ".ckpt"))]
    vocab = json.loads((export_dir / "vocab.json").read_text())
    labels = (output_folder / "save" / "label_encoder.txt").read_text()
    assert vocab["<pad>"] == 0 and "'<blank>' => 0" in labels
    assert f"' ' => {vocab['|']}" in labels  # the space is the word delimiter
    assert json.loads((export_dir / "config.json").read_text())["architectures"] == ["Wav2Vec2ForCTC"]

    run_results = json.loads((output_folder / "results.json").read_text())
    root = tmp_path / "results"
    (root / "prepared").mkdir(parents=True)
    (root / "prepared" / "es").symlink_to(run_results["hparams"]["prep_folder"])  # the run's prepared data
    assert (
        evaluate_command(
            [
                str(export_dir),
                "--results-root",
                str(root),
                "--lang",
                "es",
                "--seed",
                "1",
                "--encoder",
                "xlsr-53",
                "--splits",
                "test",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    folder = next((root / "es").glob("xlsr-53.external~es-*")) / "seed_1"
    assert read_hypotheses(folder / "test_hypotheses.tsv") == read_hypotheses(output_folder / "test_hypotheses.tsv")
    results = json.loads((folder / "results.json").read_text())
    assert results["metrics"]["test"]["WER"] == pytest.approx(run_results["metrics"]["test"]["WER"])
    assert results["metrics"]["test"]["CER"] == pytest.approx(run_results["metrics"]["test"]["CER"])
    assert results["metrics"]["test"]["n_utterances"] == run_results["metrics"]["test"]["n_utterances"]
    assert results["decoding"]["hypotheses_changed_by_normalization"] == {"test": 0}
    assert results["vocabulary"]["blank"] == "<pad>" and results["vocabulary"]["fits_language"]


def test_the_transformers_pipeline_transcribes_the_export_like_the_project(usage_export):
    output_folder, export_dir = usage_export
    row = longest_test_row(output_folder)
    audio, _ = sf.read(row["wav"], dtype="float32")
    asr = transformers.pipeline("automatic-speech-recognition", model=str(export_dir), device="cpu")
    text = asr({"raw": audio, "sampling_rate": 16000})["text"]
    project = read_hypotheses(output_folder / "test_hypotheses.tsv")[row["ID"]][1]
    # transformers' decoding keeps a doubled space where the best path has two word delimiters with a blank
    # between them; the project collapses spaces. The words are the same.
    assert project.strip() and " ".join(text.split()) == project

    card = (export_dir / "README.md").read_text()
    from huggingface_hub import ModelCard

    loaded = ModelCard.load(export_dir / "README.md")
    test = json.loads((output_folder / "results.json").read_text())["metrics"]["test"]
    assert {r.metric_type: r.metric_value for r in loaded.data.eval_results} == {"wer": test["WER"], "cer": test["CER"]}
    assert loaded.data.library_name == "transformers" and 'pipeline("automatic-speech-recognition"' in card


def test_an_import_loads_in_speechbrain_and_transcribes_like_transformers(usage_export, tmp_path):
    from speechbrain.inference.ASR import EncoderASR

    from crossling_asr.interop.transformers_ctc import import_to_speechbrain
    from crossling_asr.model.trained_model import TrainedModel

    output_folder, export_dir = usage_export
    imported = import_to_speechbrain(export_dir, tmp_path / "sb", language="es")
    assert "crossling_asr" not in (imported / "hyperparams.yaml").read_text()
    assert (imported / "label_encoder.txt").read_text() == (output_folder / "save" / "label_encoder.txt").read_text()
    row = longest_test_row(output_folder)
    asr = EncoderASR.from_hparams(source=str(imported), savedir=str(tmp_path / "sb_cache"))
    audio, _ = sf.read(row["wav"], dtype="float32")
    pipeline = transformers.pipeline("automatic-speech-recognition", model=str(export_dir), device="cpu")
    # The study's loop ends every target with the word delimiter, so transcripts may end with one:
    # SpeechBrain's EncoderASR keeps it as a trailing space, transformers' pipeline drops it (and keeps
    # a doubled space the project's decoding collapses). The words are the same.
    assert asr.transcribe_file(row["wav"]).split() == pipeline({"raw": audio, "sampling_rate": 16000})["text"].split()
    assert TrainedModel.load(imported, "cpu").language_spec.code == "es"  # the project's own loader reads it


def test_upload_of_a_transformers_export_is_one_commit_of_the_folder_as_it_is(usage_export, monkeypatch):
    import huggingface_hub

    from crossling_asr.interop.hub import upload_export

    _, export_dir = usage_export
    calls = []

    class RecordingHfApi:
        def create_repo(self, repo_id, private, exist_ok):
            calls.append(("create_repo", repo_id, private, exist_ok))
            return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

        def create_commit(self, repo_id, operations, commit_message):
            calls.append(("create_commit", repo_id, list(operations)))

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHfApi)
    assert upload_export(export_dir, "someone/asr-es") == "https://huggingface.co/someone/asr-es"
    assert [call[0] for call in calls] == ["create_repo", "create_commit"]  # one commit
    files = sorted(p.relative_to(export_dir).as_posix() for p in export_dir.rglob("*") if p.is_file())
    assert sorted(op.path_in_repo for op in calls[1][2]) == files
    assert all(op.path_or_fileobj == str(export_dir / op.path_in_repo) for op in calls[1][2])  # sent as they are
