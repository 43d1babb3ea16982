"""Models: the encoder registry's SSL encoders, CTC heads, layer weights, model families, tiny test encoders, trained models."""
