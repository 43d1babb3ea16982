"""Models: SSL encoders of the registry, CTC heads, layer weights, model families, tiny test encoders,
trained models."""
