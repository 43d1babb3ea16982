"""CTC checkpoints fine-tuned elsewhere, scored like a run trained here: every family against its own
transformers model, vocabularies that do not fit, folders already evaluated, pickles that would run code."""

import hashlib
import subprocess
import sys

import pytest
import soundfile as sf
import torch

from crossling_asr.cli.evaluate_checkpoint import main as evaluate_command
from crossling_asr.data.preparation import prepare_language
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.interop.external_ctc import CheckpointFiles, ExternalCheckpointError, load_ctc_checkpoint
from crossling_asr.model.families import FAMILIES
from crossling_asr.model.tiny_encoders import TINY_ARCHITECTURE
from crossling_asr.registry import load_registry
from tests.helpers.external_checkpoints import (
    CORPUS,
    CTC_CLASSES,
    HUGGINGSOUND_SPECIALS,
    SPANISH_LETTERS,
    check_scored_like_one_at_a_time,
    manifest_rows,
    read_hypotheses,
    save_checkpoint,
)

ENCODER_CLASSES = {
    "wav2vec2": "Wav2Vec2Model",
    "hubert": "HubertModel",
    "wavlm": "WavLMModel",
    "unispeech": "UniSpeechModel",
    "unispeech-sat": "UniSpeechSatModel",
}


@pytest.fixture(scope="module")
def prepared_root(tmp_path_factory, make_corpus):
    """A results root with Spanish prepared by the recipe's own preparation."""
    root = tmp_path_factory.mktemp("external_results")
    prepare_language("es", [f"--results_root={root}", f"--data_folder={make_corpus('es', **CORPUS)}"])
    return root


def test_a_released_checkpoint_is_evaluated_by_the_command(tmp_path, make_corpus):
    """HuggingSound layout and name; the data prepared by the command itself, from --data-folder."""
    checkpoint = save_checkpoint(
        tmp_path / "exp_w2v2t_es_wav2vec2_s250",
        "wav2vec2",
        HUGGINGSOUND_SPECIALS + SPANISH_LETTERS,
        card_base="facebook/wav2vec2-large-lv60",
    )
    root = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "local" / "evaluate_checkpoint.py"),
            str(checkpoint),
            "--results-root",
            str(root),
            "--data-folder",
            str(make_corpus("es", **CORPUS)),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = root / "es" / "wav2vec2-large-lv60.released" / "seed_250"
    assert str(folder) in proc.stdout
    assert (root / "prepared" / "es" / "prep_done.json").is_file()
    results = check_scored_like_one_at_a_time(folder, checkpoint, root, splits=("test", "dev"))

    assert results["status"] == "finished" and results["schema_version"] == 1
    assert {
        k: results["run"][k]
        for k in ("language", "encoder", "encoder_source", "encoder_family", "random_init", "seed", "protocol")
    } == {
        "language": "es",
        "encoder": "wav2vec2-large-lv60",
        "encoder_source": "facebook/wav2vec2-large-lv60",
        "encoder_family": "Wav2Vec2Model",
        "random_init": False,
        "seed": 250,
        "protocol": "released",
    }
    checkpoint_info = results["checkpoint"]
    assert checkpoint_info["released"] and checkpoint_info["released_name"] == {
        "language": "es",
        "model": "wav2vec2",
        "seed": 250,
    }
    assert checkpoint_info["hub_id"] is None and checkpoint_info["revision"] is None  # a local folder
    assert checkpoint_info["card_base_model"] == "facebook/wav2vec2-large-lv60"
    assert checkpoint_info["encoder_mapping"] == "card base model and released name"
    assert (checkpoint_info["architecture"], checkpoint_info["weights_file"]) == ("Wav2Vec2ForCTC", "model.safetensors")
    assert results["metrics"]["primary"] == "WER" and results["data"]["splits"]["test"]["utterances"] == 8

    vocabulary = results["vocabulary"]
    assert (vocabulary["blank"], vocabulary["word_delimiter"], vocabulary["case"]) == ("<pad>", "|", "lower")
    assert vocabulary["special_tokens"] == ["</s>", "<pad>", "<s>", "<unk>"]
    assert vocabulary["removed_by_normalizer"] == ["'"]  # Spanish keeps no apostrophe
    assert vocabulary["alphabet_size"] == vocabulary["alphabet_covered"] == 33 and vocabulary["alphabet_missing"] == []
    assert vocabulary["reference_coverage"] == 1.0 and vocabulary["fits_language"]
    assert any("removes" in w for w in results["warnings"])
    assert "removes" in (folder / "log.txt").read_text()  # reported in the log too
    assert (folder / "wer_test.txt").is_file() and (folder / "dev_hypotheses.tsv").is_file()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_is_scored_like_its_own_transformers_model(family, tmp_path, prepared_root):
    """Batched decoding, each utterance trimmed to its own frames, gives what each clip gives alone."""
    base = {
        "wav2vec2": "facebook/wav2vec2-large-xlsr-53",
        "hubert": "facebook/hubert-large-ll60k",
        "wavlm": "microsoft/wavlm-large",
        "unispeech": "microsoft/unispeech-large-multi-lingual-1500h-cv",
        "unispeech-sat": "microsoft/unispeech-sat-large",
    }[family]
    registry = load_registry()
    encoder = next(name for name, entry in registry.items() if entry["source"] == base)
    seed = 100 + sorted(FAMILIES).index(family)
    weights = "bin" if family == "hubert" else "safetensors"
    checkpoint = save_checkpoint(
        tmp_path / f"exp_w2v2t_es_{registry[encoder]['released_name']}_s{seed}",
        family,
        HUGGINGSOUND_SPECIALS + SPANISH_LETTERS,
        card_base=base,
        weights=weights,
        seed=seed,
    )
    assert (
        evaluate_command(
            [
                str(checkpoint),
                "--results-root",
                str(prepared_root),
                "--splits",
                "test",
                "--device",
                "cpu",
                "--batch-size",
                "4",
            ]
        )
        == 0
    )
    folder = prepared_root / "es" / f"{encoder}.released" / f"seed_{seed}"
    results = check_scored_like_one_at_a_time(folder, checkpoint, prepared_root)
    assert results["run"]["encoder"] == encoder and results["run"]["encoder_family"] == ENCODER_CLASSES[family]
    assert results["checkpoint"]["architecture"] == CTC_CLASSES[family]
    assert results["checkpoint"]["weights_file"] == ("pytorch_model.bin" if weights == "bin" else "model.safetensors")
    assert set(results["metrics"]) == {"primary", "wer_meaningful", "test"}


def test_batched_frames_are_each_utterances_own(tmp_path, prepared_root):
    checkpoint = save_checkpoint(tmp_path / "ckpt", "wavlm", HUGGINGSOUND_SPECIALS + SPANISH_LETTERS)
    model = load_ctc_checkpoint(CheckpointFiles(checkpoint, str(checkpoint)))
    rows = manifest_rows(prepared_root, "test")
    signals = [torch.from_numpy(sf.read(row["wav"], dtype="float32")[0]) for row in rows]
    assert len({len(s) for s in signals}) == len(signals)  # every clip of another length

    log_probs, frames = model.log_probs(signals)
    expected = []
    for signal in signals:  # the conv stack's output length, layer by layer
        n = len(signal)
        for kernel, stride in zip(TINY_ARCHITECTURE["conv_kernel"], TINY_ARCHITECTURE["conv_stride"]):
            n = (n - kernel) // stride + 1
        expected.append(n)
    assert frames.tolist() == expected
    batched = model.decode(log_probs, frames)
    alone = [model.decode(*model.log_probs([signal]))[0] for signal in signals]
    assert batched == alone
    untrimmed = model.decode(log_probs, torch.full_like(frames, log_probs.shape[1]))
    assert untrimmed != batched  # the padding frames would have added characters

    half = load_ctc_checkpoint(CheckpointFiles(checkpoint, str(checkpoint)), precision="bf16")
    bf16_log_probs, bf16_frames = half.log_probs(signals)
    assert bf16_log_probs.dtype == torch.float32 and torch.equal(bf16_frames, frames)
    assert not torch.equal(bf16_log_probs, log_probs)  # the forward pass ran under bf16 autocast
    assert torch.allclose(bf16_log_probs.exp(), log_probs.exp(), atol=0.1)


def test_an_upper_case_vocabulary_is_lower_cased_and_reported(tmp_path, prepared_root):
    """run_speech_recognition_ctc's layout: [PAD] and [UNK], upper-case letters, no card, any name."""
    tokens = ["[PAD]", "[UNK]", "|"] + [ch.upper() for ch in SPANISH_LETTERS if ch != "'"]
    checkpoint = save_checkpoint(tmp_path / "wav2vec2-es-cv", "wav2vec2", tokens, pad="[PAD]", unk="[UNK]")
    with pytest.raises(SystemExit, match="say which with local/evaluate_checkpoint.py --encoder"):
        evaluate_command([str(checkpoint), "--results-root", str(prepared_root), "--lang", "es", "--seed", "7"])
    with pytest.raises(SystemExit, match="--seed"):
        evaluate_command([str(checkpoint), "--results-root", str(prepared_root), "--lang", "es"])
    assert (
        evaluate_command(
            [
                str(checkpoint),
                "--results-root",
                str(prepared_root),
                "--lang",
                "es",
                "--seed",
                "7",
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
    digest = hashlib.sha1(str(checkpoint.resolve()).encode()).hexdigest()[:6]
    folder = prepared_root / "es" / f"xlsr-53.external~wav2vec2-es-cv-{digest}" / "seed_7"
    results = check_scored_like_one_at_a_time(folder, checkpoint, prepared_root)

    assert results["run"]["protocol"] == "external" and results["checkpoint"]["released"] is False
    assert results["checkpoint"]["encoder_mapping"] == "given"
    vocabulary = results["vocabulary"]
    assert (vocabulary["blank"], vocabulary["case"], vocabulary["case_mapped_to_lower"]) == ("[PAD]", "upper", True)
    assert vocabulary["special_tokens"] == ["[PAD]", "[UNK]"]
    assert vocabulary["mapped_by_normalizer"]["Ñ"] == "ñ" and vocabulary["fits_language"]
    hypotheses = [h for _, h in read_hypotheses(folder / "test_hypotheses.tsv").values()]
    assert any(hypotheses) and all(h == h.lower() for h in hypotheses)
    assert any("upper-case" in w and "lower-cased" in w for w in results["warnings"])
    assert "lower-cased" in (folder / "log.txt").read_text()


def test_a_vocabulary_of_another_language_is_reported_as_not_fitting(tmp_path, prepared_root):
    tokens = HUGGINGSOUND_SPECIALS + list("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
    checkpoint = save_checkpoint(tmp_path / "exp_w2v2t_ru_wavlm_s5", "wavlm", tokens)
    with pytest.raises(SystemExit, match="fine-tuned on ru, not es"):
        evaluate_command([str(checkpoint), "--results-root", str(prepared_root), "--lang", "es"])
    renamed = checkpoint.rename(tmp_path / "cyrillic")
    assert (
        evaluate_command(
            [
                str(renamed),
                "--results-root",
                str(prepared_root),
                "--lang",
                "es",
                "--seed",
                "5",
                "--encoder",
                "wavlm-large",
                "--splits",
                "test",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    folder = next((prepared_root / "es").glob("wavlm-large.external~cyrillic-*")) / "seed_5"
    results = check_scored_like_one_at_a_time(folder, renamed, prepared_root)  # scored all the same
    vocabulary = results["vocabulary"]
    assert not vocabulary["fits_language"] and vocabulary["reference_coverage"] == 0.0
    assert vocabulary["alphabet_covered"] == 0 and len(vocabulary["outside_alphabet"]) == 33
    references = [r for r, _ in read_hypotheses(folder / "test_hypotheses.tsv").values()]
    assert vocabulary["reference_characters"] == sum(len(r.replace(" ", "")) for r in references)
    assert any("does not fit es" in w for w in results["warnings"])


def test_a_folder_already_evaluated_is_left_alone(tmp_path, prepared_root):
    checkpoint = save_checkpoint(
        tmp_path / "exp_w2v2t_es_hubert_s9",
        "hubert",
        HUGGINGSOUND_SPECIALS + SPANISH_LETTERS,
        card_base="facebook/hubert-large-ll60k",
    )
    args = [str(checkpoint), "--results-root", str(prepared_root), "--splits", "test", "--device", "cpu"]
    assert evaluate_command(args) == 0
    results_file = prepared_root / "es" / "hubert-large-ll60k.released" / "seed_9" / "results.json"
    first = results_file.stat().st_mtime_ns
    assert evaluate_command(args) == 0 and results_file.stat().st_mtime_ns == first
    assert evaluate_command(args + ["--force"]) == 0 and results_file.stat().st_mtime_ns != first


class RunsCodeWhenUnpickled:
    """Unpickling this calls open(marker, "w"): a stand-in for any code a pickle may run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_pickle_that_would_run_code_is_refused_before_anything_runs(tmp_path, prepared_root):
    checkpoint = save_checkpoint(
        tmp_path / "exp_w2v2t_es_wav2vec2_s3", "wav2vec2", HUGGINGSOUND_SPECIALS + SPANISH_LETTERS, weights="bin"
    )
    marker = tmp_path / "code_ran"
    torch.save(
        {"wav2vec2.feature_projection.projection.weight": RunsCodeWhenUnpickled(marker)},
        checkpoint / "pytorch_model.bin",
    )
    with pytest.raises(SystemExit) as stop:
        evaluate_command([str(checkpoint), "--results-root", str(prepared_root), "--device", "cpu"])
    assert str(checkpoint / "pytorch_model.bin") in str(stop.value) and "weights_only" in str(stop.value)
    assert not marker.exists()
    assert not (prepared_root / "es" / "wav2vec2-large-lv60.released" / "seed_3" / "results.json").exists()
    with pytest.raises(ExternalCheckpointError, match="holding more than tensors"):
        load_ctc_checkpoint(CheckpointFiles(checkpoint, str(checkpoint)))
    assert not marker.exists()
