"""Data: audio reading, text normalisation, Common Voice preparation, datasets and batching, synthetic corpora."""
