"""The encoder registry as the tests read it, and the transformers model type of each family."""

from crossling_asr.model.encoders import load_registry

REGISTRY = load_registry()


MODEL_TYPE_OF_FAMILY = {
    "Wav2Vec2Model": "wav2vec2",
    "HubertModel": "hubert",
    "WavLMModel": "wavlm",
    "UniSpeechModel": "unispeech",
    "UniSpeechSatModel": "unispeech-sat",
}
