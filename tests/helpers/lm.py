"""Random sentences over a small vocabulary, for LM and LM-tuning tests."""

import random


def random_sentences(n=300, seed=0):
    rng = random.Random(seed)
    words = "casa perro gato agua sol luna niño río".split()
    return [" ".join(rng.choice(words[: rng.randint(2, 8)]) for _ in range(rng.randint(1, 6))) for _ in range(n)]
