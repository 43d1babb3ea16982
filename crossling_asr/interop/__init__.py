"""Interoperability: EncoderASR and transformers exports, model cards, hub uploads, external CTC checkpoints."""
