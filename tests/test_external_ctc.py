"""CTC checkpoints fine-tuned elsewhere: scored like a run trained here, exported to and imported
from transformers, loaded without running anything a pickle holds.

The checkpoints are tiny random *ForCTC models of the five families, saved the way HuggingSound
(the study's released checkpoints) and run_speech_recognition_ctc save theirs; expected
transcripts and error rates are computed here independently, one utterance at a time, with
transformers and a plain edit distance.
"""

import csv
import hashlib
import itertools
import json
import subprocess
import sys

import pytest
import soundfile as sf
import torch
import transformers
from conftest import ROOT

from crossling_asr.cli.evaluate_checkpoint import main as evaluate_command
from crossling_asr.data.preparation import prepare_language
from crossling_asr.data.text import TextNormalizer, language_spec_from_hparams
from crossling_asr.hparams import read_language_data
from crossling_asr.interop.external_ctc import (
    CheckpointFiles,
    ExternalCheckpointError,
    card_base_model,
    checkpoint_language,
    is_release,
    load_ctc_checkpoint,
    registry_encoder,
)
from crossling_asr.interop.released_names import ReleasedName, parse_released_name
from crossling_asr.model.families import FAMILIES
from crossling_asr.model.tiny_encoders import TINY_ARCHITECTURE
from crossling_asr.registry import load_registry
from crossling_asr.run_layout import EVALUATION_PROTOCOLS, evaluation_output_folder

CTC_CLASSES = {
    "wav2vec2": "Wav2Vec2ForCTC",
    "hubert": "HubertForCTC",
    "wavlm": "WavLMForCTC",
    "unispeech": "UniSpeechForCTC",
    "unispeech-sat": "UniSpeechSatForCTC",
}
ENCODER_CLASSES = {
    "wav2vec2": "Wav2Vec2Model",
    "hubert": "HubertModel",
    "wavlm": "WavLMModel",
    "unispeech": "UniSpeechModel",
    "unispeech-sat": "UniSpeechSatModel",
}
# What HuggingSound writes: <pad> (the CTC blank), <s>, </s>, <unk>, | and the training text's characters.
HUGGINGSOUND_SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "|"]
SPANISH_LETTERS = list("abcdefghijklmnopqrstuvwxyzñáéíóúü") + ["'"]
CORPUS = dict(n_train=4, n_dev=4, n_test=8)


def save_checkpoint(folder, family, tokens, pad="<pad>", unk="<unk>", card_base=None, weights="safetensors", seed=0):
    """A tiny random `family` CTC checkpoint with `tokens` as vocab.json, saved as hub checkpoints are."""
    config_class = getattr(transformers, FAMILIES[family].config)
    config = config_class(**TINY_ARCHITECTURE, vocab_size=len(tokens), pad_token_id=tokens.index(pad))
    torch.manual_seed(seed)
    model = getattr(transformers, CTC_CLASSES[family])(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(20)  # decisive argmaxes: float noise between batch layouts never flips one
    folder.mkdir(parents=True)
    model.save_pretrained(folder)
    if weights == "bin":  # the older uploads: a pickled state dict
        (folder / "model.safetensors").unlink()
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False))
    transformers.Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), pad_token=pad, unk_token=unk).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    ).save_pretrained(folder)
    if card_base:
        (folder / "README.md").write_text(
            "---\nlanguage:\n- es\nlicense: apache-2.0\ntags:\n- automatic-speech-recognition\n---\n"
            f"# {folder.name}\nFine-tuned [{card_base}](https://huggingface.co/{card_base}) for speech recognition "
            "using the train split of [Common Voice 7.0 (es)](https://huggingface.co/datasets/x).\n"
        )
    return folder


def manifest_rows(results_root, split, lang="es"):
    prep = results_root / "prepared" / lang
    with open(prep / f"{split}.csv", encoding="utf-8", newline="") as f:
        return [{**row, "wav": row["wav"].replace("$data_root", str(prep))} for row in csv.DictReader(f)]


def one_at_a_time(folder, rows, normalizer):
    """{ID: hypothesis}: each clip alone through transformers, best path decoded by hand, then normalised."""
    model = transformers.AutoModelForCTC.from_pretrained(folder).eval()
    extractor = transformers.Wav2Vec2FeatureExtractor.from_pretrained(folder)
    tokenizer = transformers.Wav2Vec2CTCTokenizer.from_pretrained(folder)
    names = {i: t for t, i in tokenizer.get_vocab().items()}
    special = {tokenizer.pad_token, tokenizer.unk_token, tokenizer.bos_token, tokenizer.eos_token}
    out = {}
    for row in rows:
        audio, _ = sf.read(row["wav"], dtype="float32")
        inputs = extractor(audio, sampling_rate=16000, return_tensors="pt")
        with torch.no_grad():
            ids = model(inputs["input_values"]).logits[0].argmax(-1).tolist()
        tokens = [names[i] for i, _ in itertools.groupby(ids) if i != model.config.pad_token_id]
        text = "".join(" " if t == "|" else t for t in tokens if t not in special)
        out[row["ID"]] = normalizer(text, out_of_alphabet="keep").text
    return out


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def error_rates(pairs):
    """(WER, CER) in percent of (reference, hypothesis) pairs: words split on spaces, characters with spaces."""
    words = sum(edit_distance(r.split(), h.split()) for r, h in pairs) / sum(len(r.split()) for r, _ in pairs)
    chars = sum(edit_distance(list(r), list(h)) for r, h in pairs) / sum(len(r) for r, _ in pairs)
    return 100 * words, 100 * chars


def read_hypotheses(path):
    with open(path, encoding="utf-8", newline="") as f:
        return {row["ID"]: (row["reference"], row["hypothesis"]) for row in csv.DictReader(f, delimiter="\t")}


def spanish_normalizer():
    return TextNormalizer(language_spec_from_hparams({"language": "es", **read_language_data("es")}))


def check_scored_like_one_at_a_time(folder, checkpoint, results_root, splits=("test",)):
    """The evaluation's hypotheses and error rates equal those computed here clip by clip."""
    results = json.loads((folder / "results.json").read_text())
    for split in splits:
        rows = manifest_rows(results_root, split)
        expected = one_at_a_time(checkpoint, rows, spanish_normalizer())
        written = read_hypotheses(folder / f"{split}_hypotheses.tsv")
        assert {k: h for k, (_, h) in written.items()} == expected
        assert {k: r for k, (r, _) in written.items()} == {row["ID"]: row["wrd"] for row in rows}
        wer, cer = error_rates([(row["wrd"], expected[row["ID"]]) for row in rows])
        assert results["metrics"][split]["WER"] == pytest.approx(wer)
        assert results["metrics"][split]["CER"] == pytest.approx(cer)
        assert results["metrics"][split]["n_utterances"] == len(rows)
    return results


@pytest.fixture(scope="module")
def prepared_root(tmp_path_factory, make_corpus):
    """A results root with Spanish prepared by the recipe's own preparation."""
    root = tmp_path_factory.mktemp("external_results")
    prepare_language("es", [f"--results_root={root}", f"--data_folder={make_corpus('es', **CORPUS)}"])
    return root


# ---- evaluation ------------------------------------------------------------------------------


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


def test_unprepared_data_is_an_error_naming_the_folder(tmp_path):
    checkpoint = save_checkpoint(tmp_path / "exp_w2v2t_es_wavlm_s1", "wavlm", HUGGINGSOUND_SPECIALS + SPANISH_LETTERS)
    with pytest.raises(SystemExit, match=r"prepared.es is not prepared .*--data-folder"):
        evaluate_command([str(checkpoint), "--results-root", str(tmp_path / "empty")])


def test_a_checkpoint_without_its_ctc_head_is_refused_not_completed_at_random(tmp_path):
    from safetensors.torch import load_file, save_file

    checkpoint = save_checkpoint(tmp_path / "ckpt", "wav2vec2", HUGGINGSOUND_SPECIALS + SPANISH_LETTERS)
    weights = load_file(checkpoint / "model.safetensors")
    assert "wav2vec2.masked_spec_embed" in weights  # the config asks for time masking
    save_file({k: v for k, v in weights.items() if k != "wav2vec2.masked_spec_embed"}, checkpoint / "model.safetensors")
    load_ctc_checkpoint(CheckpointFiles(checkpoint, str(checkpoint)))  # used in training only: not needed here
    save_file({k: v for k, v in weights.items() if not k.startswith("lm_head")}, checkpoint / "model.safetensors")
    with pytest.raises(ExternalCheckpointError, match="lm_head.bias, lm_head.weight.*not a fine-tuned CTC"):
        load_ctc_checkpoint(CheckpointFiles(checkpoint, str(checkpoint)))


# ---- names and the registry -------------------------------------------------------------------


def test_released_names_and_cards_map_to_the_registry(tmp_path):
    registry = load_registry()
    assert parse_released_name("jonatasgrosman/exp_w2v2t_zh-cn_xls-r_s108") == ReleasedName("zh-cn", "xls-r", 108)
    assert parse_released_name("jonatasgrosman/wav2vec2-large-xlsr-53-english") is None
    assert is_release("jonatasgrosman/exp_w2v2t_pt_vp-sv_s563") and not is_release("someone/exp_w2v2t_pt_vp-sv_s563")
    assert is_release(tmp_path / "exp_w2v2t_pt_vp-sv_s563")  # a downloaded copy
    assert checkpoint_language("jonatasgrosman/exp_w2v2t_zh-cn_xls-r_s108") == "zh-CN"
    assert checkpoint_language("jonatasgrosman/exp_w2v2t_sv-se_vp-fr_s387") == "sv-SE"

    released = [entry["released_name"] for entry in registry.values()]
    assert len(set(released)) == len(registry)  # every encoder has one, and no two share it
    for name, short in [
        ("xlsr-53", "xlsr-53"),
        ("xls-r-300m", "xls-r"),
        ("voxpopuli-sv", "vp-sv"),
        ("unispeech-large-multi-lingual-1500h-cv", "unispeech-ml"),
        ("no-pretraining", "no-pretraining"),
    ]:
        assert registry_encoder(registry, released_model=short) == (name, "released name")
    # The baseline shares the LV-60 hub id; a card naming that id is the pre-trained model.
    assert registry_encoder(registry, card_base="facebook/wav2vec2-large-lv60") == (
        "wav2vec2-large-lv60",
        "card base model",
    )
    with pytest.raises(ExternalCheckpointError, match="unknown released model name 'w2v-bert'.*xls-r"):
        registry_encoder(registry, released_model="w2v-bert")
    with pytest.raises(ExternalCheckpointError, match="is encoder hubert-large-ll60k.*'wavlm' is wavlm-large"):
        registry_encoder(registry, card_base="facebook/hubert-large-ll60k", released_model="wavlm")
    with pytest.raises(ExternalCheckpointError, match="facebook/wav2vec2-base.*not the source"):
        registry_encoder(registry, card_base="facebook/wav2vec2-base")
    with pytest.raises(ExternalCheckpointError, match="say which with local/evaluate_checkpoint.py --encoder"):
        registry_encoder(registry)
    assert registry_encoder(registry, card_base="facebook/wav2vec2-base", given="xlsr-53") == ("xlsr-53", "given")

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "README.md").write_text("# exp\nFine-tuned microsoft/wavlm-large for speech recognition on English.\n")
    assert card_base_model(plain) == ("microsoft/wavlm-large", "card text")
    (plain / "README.md").write_text("---\nbase_model: facebook/wav2vec2-xls-r-300m\n---\n# a model\n")
    assert card_base_model(plain) == ("facebook/wav2vec2-xls-r-300m", "card metadata base_model")
    (plain / "README.md").write_text("# exp\nFine-tuned randomly initialized wav2vec2 model for speech recognition.\n")
    assert card_base_model(plain) == (None, None)


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


# ---- safety --------------------------------------------------------------------------------


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


# ---- export to transformers, and back to SpeechBrain ---------------------------------------------


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
    assert project.strip() and text == project

    card = (export_dir / "README.md").read_text()
    from huggingface_hub import ModelCard

    loaded = ModelCard.load(export_dir / "README.md")
    test = json.loads((output_folder / "results.json").read_text())["metrics"]["test"]
    assert {r.metric_type: r.metric_value for r in loaded.data.eval_results} == {"wer": test["WER"], "cer": test["CER"]}
    assert loaded.data.library_name == "transformers" and 'pipeline("automatic-speech-recognition"' in card


def test_other_heads_and_layer_weights_are_refused():
    from crossling_asr.interop.transformers_ctc import ConversionError, linear_head
    from crossling_asr.model.heads import CTCHead

    head = CTCHead(8, 5, dropout=0.1)
    assert linear_head(head) == (head[1], 0.1)  # dropout before the linear layer: the ForCTC's final_dropout
    with pytest.raises(ConversionError, match="Linear -> LeakyReLU -> Linear.*hidden_layers: \\[\\]"):
        linear_head(CTCHead(8, 5, hidden_layers=[16]))


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
    assert asr.transcribe_file(row["wav"]) == pipeline({"raw": audio, "sampling_rate": 16000})["text"]
    assert TrainedModel.load(imported, "cpu").language_spec.code == "es"  # the project's own loader reads it


def test_a_released_checkpoint_imports_with_its_vocabulary_id_for_id(tmp_path):
    from speechbrain.dataio.encoder import CTCTextEncoder
    from speechbrain.inference.ASR import EncoderASR

    from crossling_asr.interop.transformers_ctc import import_to_speechbrain

    tokens = HUGGINGSOUND_SPECIALS + SPANISH_LETTERS
    checkpoint = save_checkpoint(
        tmp_path / "exp_w2v2t_es_unispeech-sat_s77",
        "unispeech-sat",
        tokens,
        card_base="microsoft/unispeech-sat-large",
        weights="bin",
    )
    imported = import_to_speechbrain(checkpoint, tmp_path / "sb")
    labels = CTCTextEncoder()
    labels.load(imported / "label_encoder.txt")
    assert labels.get_blank_index() == 0
    assert [labels.ind2lab[i] for i in range(len(tokens))] == ["<blank>", "<s>", "</s>", "<unk>", " "] + SPANISH_LETTERS
    info = json.loads((imported / "model_info.json").read_text())
    assert info["checkpoint"]["weights_file"] == "pytorch_model.bin" and info["seed"] == 77
    assert info["encoder"]["family"] == "UniSpeechSatModel"
    asr = EncoderASR.from_hparams(source=str(imported), savedir=str(tmp_path / "cache"))
    clip = tmp_path / "clip.wav"
    sf.write(clip, torch.randn(16000).numpy() * 0.1, 16000)
    assert isinstance(asr.transcribe_file(str(clip)), str)


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


def test_the_import_command_refuses_to_replace_an_import_without_overwrite(tmp_path, capsys):
    from crossling_asr.cli.import_transformers import main

    checkpoint = save_checkpoint(
        tmp_path / "exp_w2v2t_es_wav2vec2_s3", "wav2vec2", HUGGINGSOUND_SPECIALS + SPANISH_LETTERS
    )
    destination = tmp_path / "sb"
    assert main([str(checkpoint), str(destination)]) == 0
    assert f"Imported to {destination}" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="error: .*overwrite"):
        main([str(checkpoint), str(destination)])
    assert main([str(checkpoint), str(destination), "--overwrite"]) == 0
    assert (destination / "model_info.json").is_file()
