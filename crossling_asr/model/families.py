"""The five transformers model families the study's encoders belong to, and their class names.

One table for every place that maps a checkpoint's `model_type` to a class: tiny random
encoders are built from the config class, CTC checkpoints are loaded and exported with the
*ForCTC class, and the registry's `family` is the encoder class. Names, not classes, so that
reading the table imports no transformers.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A model family's transformers class names."""

    config: str
    encoder: str
    ctc: str


# transformers model_type -> its classes
FAMILIES = {
    "wav2vec2": Family("Wav2Vec2Config", "Wav2Vec2Model", "Wav2Vec2ForCTC"),
    "hubert": Family("HubertConfig", "HubertModel", "HubertForCTC"),
    "wavlm": Family("WavLMConfig", "WavLMModel", "WavLMForCTC"),
    "unispeech": Family("UniSpeechConfig", "UniSpeechModel", "UniSpeechForCTC"),
    "unispeech-sat": Family("UniSpeechSatConfig", "UniSpeechSatModel", "UniSpeechSatForCTC"),
}
