"""Training: the CTC Brain, learning-rate schedules, atomic checkpoints, feature caches, quick CPU runs."""
