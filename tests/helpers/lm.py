"""Random sentences over a small vocabulary, a character tokenizer for them, and an LM tuned as tune_lm.py
records it, for LM, LM-tuning and LM-decoding tests."""

import json
import random

from crossling_asr.decoding.beam_search import lm_sha256, tuning_file
from crossling_asr.decoding.ngram_lm import KneserNeyLM


def random_sentences(n=300, seed=0):
    rng = random.Random(seed)
    words = "casa perro gato agua sol luna niño río".split()
    return [" ".join(rng.choice(words[: rng.randint(2, 8)]) for _ in range(rng.randint(1, 6))) for _ in range(n)]


def char_tokenizer(sentences):
    """A CTC character tokenizer (blank first) for the characters of `sentences`."""
    from speechbrain.dataio.encoder import CTCTextEncoder

    tokenizer = CTCTextEncoder()
    tokenizer.insert_blank(index=0)
    for char in sorted(set("".join(sentences))):
        tokenizer.add_label(char)
    tokenizer.ignore_len()
    return tokenizer


TUNED_WEIGHTS = {"alpha": 1.25, "beta": 2.0}


def tuned_lm(folder, **recorded):
    """A bigram ARPA of random_sentences in `folder` with its <lm>.tuning.json as tune_lm.py writes it:
    the best pair TUNED_WEIGHTS, the LM's SHA-256, and `recorded` (beam_size, pruning, ...)."""
    arpa = KneserNeyLM(random_sentences(), 2).write_arpa(folder / "lm.arpa")
    tuning = {"best": {**TUNED_WEIGHTS, "WER": 9.0}, "lm_sha256": lm_sha256(arpa), **recorded}
    tuning_file(arpa).write_text(json.dumps(tuning), encoding="utf-8")
    return arpa
