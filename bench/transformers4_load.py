#!/usr/bin/env python3
"""The transformers 4.x side of bench/transformers4_compat.py: run by a Python that has transformers 4.x.

    <python with transformers 4.x> bench/transformers4_load.py REQUEST.json RESULT.json

Imports nothing of this project (its environment is another one). For each export folder of the
request it loads the *ForCTC as transformers 4.x does (AutoModelForCTC.from_pretrained), reports what
that load left out (missing and unexpected weights: a missing weight stays at random initialisation)
and whether every weight it holds equals the file's, then transcribes every clip alone (the
waveforms the project read, from REQUEST's .npz) with the folder's Wav2Vec2Processor: best path,
processor.batch_decode. With `huggingsound` set and HuggingSound installed, also
huggingsound.SpeechRecognitionModel(folder).transcribe(paths): HuggingSound's own loading and audio path.
"""

import importlib.metadata
import json
import sys

import numpy as np
import torch
import transformers
from safetensors.torch import load_file


def load_report(folder):
    """(model, {missing, unexpected, differing}) of a folder loaded by this transformers."""
    model, info = transformers.AutoModelForCTC.from_pretrained(folder, output_loading_info=True)
    saved = load_file(f"{folder}/model.safetensors")
    state = model.state_dict()
    differing = sorted(name for name in saved if name in state and not torch.equal(saved[name], state[name]))
    return model.eval(), {
        "missing": sorted(info["missing_keys"]),
        "unexpected": sorted(info["unexpected_keys"]),
        "differing": differing,
    }


def transcribe(model, processor, waveforms):
    texts = []
    for audio in waveforms:
        inputs = processor(audio, sampling_rate=16000, return_tensors="pt")
        with torch.no_grad():
            logits = model(inputs.input_values, attention_mask=inputs.get("attention_mask")).logits
        texts.append(processor.batch_decode(logits.argmax(-1))[0])
    return texts


def main(request_path, result_path):
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    clips = np.load(request["waveforms"])
    waveforms = [clips[name] for name in request["ids"]]
    result = {"transformers": transformers.__version__, "torch": torch.__version__, "folders": {}}
    for name, folder in request["folders"].items():
        model, report = load_report(folder)
        processor = transformers.Wav2Vec2Processor.from_pretrained(folder)
        report["hypotheses"] = transcribe(model, processor, waveforms)
        if request.get("huggingsound"):
            import huggingsound

            hs_model = huggingsound.SpeechRecognitionModel(folder, device="cpu")
            out = hs_model.transcribe(request["paths"], batch_size=1)
            report["huggingsound"] = [item["transcription"] for item in out]
            result["huggingsound"] = importlib.metadata.version("huggingsound")
        result["folders"][name] = report
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
