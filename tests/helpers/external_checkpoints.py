"""CTC checkpoints fine-tuned elsewhere, and their expected scores computed independently.

The checkpoints are tiny random *ForCTC models of the five families, saved the way HuggingSound
(the study's released checkpoints) and run_speech_recognition_ctc save theirs; expected
transcripts and error rates are computed here one utterance at a time, with transformers and a
plain edit distance."""

import csv
import itertools
import json

import pytest
import soundfile as sf
import torch
import transformers

from crossling_asr.data.text import TextNormalizer, language_spec_from_hparams
from crossling_asr.hparams import read_language_data
from crossling_asr.model.families import FAMILIES
from crossling_asr.model.tiny_encoders import TINY_ARCHITECTURE

CTC_CLASSES = {
    "wav2vec2": "Wav2Vec2ForCTC",
    "hubert": "HubertForCTC",
    "wavlm": "WavLMForCTC",
    "unispeech": "UniSpeechForCTC",
    "unispeech-sat": "UniSpeechSatForCTC",
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
