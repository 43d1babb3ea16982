"""CTC beam search with a word n-gram LM, and the settings it decodes with.

Decoding is SpeechBrain's CTCBeamSearcher with the ARPA through KenLM; `alpha` weighs the LM
and `beta` is a per-word insertion bonus, both tuned on dev (crossling_asr.decoding.lm_tuning)
with that same decoder. resolve_lm_weights gives every consumer the tuned weights with the beam
size and pruning they were tuned under, so the tuned weights mean the same when transcribing.
"""

import hashlib
import json
import logging
from pathlib import Path

from crossling_asr.decoding.ngram_lm import LMTextError

logger = logging.getLogger(__name__)

# Beam search settings before tuning: those of SpeechBrain's CTCBeamSearcher
# (tests/unit/decoding/test_beam_search.py checks they still are). Written out so that the command
# lines can show them without importing SpeechBrain.
LM_DEFAULTS = {"alpha": 0.5, "beta": 1.5, "beam_size": 100}


# CTCBeamSearcher's pruning, which bounds the work per frame: a hypothesis scoring more than
# `beam_prune_logp` below the best is dropped, and at each frame only the tokens whose
# log-probability exceeds `token_prune_min_logp` (and the best one) extend the beam. Flat posteriors
# (an under-trained model) leave many tokens above the default -5.0 (ln(1/30) is -3.4) and make every
# frame cost up to beam_size x tokens LM-scored hypotheses. None keeps SpeechBrain's default.
PRUNING_OPTIONS = ("beam_prune_logp", "token_prune_min_logp")


def tuning_file(lm_path):
    """Where tune_lm.py records the weights it chose for an LM, and the decoder it chose them with: <lm>.tuning.json."""
    return Path(f"{lm_path}.tuning.json")


def lm_sha256(lm_path):
    """SHA-256 of an LM file's bytes: a tuning file records it, so that weights tuned for an
    LM are never applied to another one rebuilt at the same path."""
    digest = hashlib.sha256()
    with open(lm_path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_lm_weights(
    lm_path, alpha=None, beta=None, beam_size=None, beam_prune_logp=None, token_prune_min_logp=None
) -> dict:
    """The settings to decode with the LM at `lm_path`, as make_beam_searcher takes them: {alpha,
    beta, beam_size} and the pruning thresholds (PRUNING_OPTIONS) that are set.

    The weights are chosen under one decoder, so by default the others decode with that decoder.
    Each given value wins; the others are those tune_lm.py tuned with on dev for this LM
    (<lm>.tuning.json: the alpha and beta it chose, its beam size and its pruning), else LM_DEFAULTS
    (with a warning) and SpeechBrain's pruning. A tuning file written before the pruning was
    recorded (no "pruning" key) was tuned without any.
    """
    settings = dict(LM_DEFAULTS)
    path = tuning_file(lm_path)
    source = "defaults"
    if path.is_file():
        tuning = json.loads(path.read_text(encoding="utf-8"))
        if tuning.get("lm_sha256") == lm_sha256(lm_path):
            settings.update(
                alpha=tuning["best"]["alpha"],
                beta=tuning["best"]["beta"],
                beam_size=tuning.get("beam_size", LM_DEFAULTS["beam_size"]),
                **tuning.get("pruning", {}),
            )
            source = f"tuned on dev, {path}"
        elif alpha is None or beta is None:
            logger.warning(
                "%s was tuned for another LM than %s (the file changed since, or the tuning file "
                "does not record it): its weights are not used; run local/tune_lm.py again. Using "
                "alpha %.2f, beta %.2f unless given",
                path,
                lm_path,
                LM_DEFAULTS["alpha"],
                LM_DEFAULTS["beta"],
            )
    elif alpha is None or beta is None:
        logger.warning(
            "%s not found (run local/tune_lm.py): using alpha %.2f, beta %.2f unless given",
            path,
            LM_DEFAULTS["alpha"],
            LM_DEFAULTS["beta"],
        )
    given = {
        "alpha": alpha,
        "beta": beta,
        "beam_size": beam_size,
        "beam_prune_logp": beam_prune_logp,
        "token_prune_min_logp": token_prune_min_logp,
    }
    settings.update({key: value for key, value in given.items() if value is not None})
    pruning = {name: settings[name] for name in PRUNING_OPTIONS if name in settings}
    logger.info(
        "LM %s: alpha %s, beta %s, beam %s, pruning %s (%s%s)",
        lm_path,
        settings["alpha"],
        settings["beta"],
        settings["beam_size"],
        pruning or "SpeechBrain's",
        source,
        "; given values win" if any(v is not None for v in given.values()) else "",
    )
    return settings


def make_beam_searcher(tokenizer, arpa_path, alpha, beta, beam_size, beam_prune_logp=None, token_prune_min_logp=None):
    """SpeechBrain's CTC beam search with the ARPA word LM (through KenLM).

    `alpha` weighs the LM log-probability, `beta` is added per word; the pruning
    thresholds (PRUNING_OPTIONS) not given are SpeechBrain's.
    """
    from speechbrain.decoders.ctc import CTCBeamSearcher

    vocab = [tokenizer.ind2lab[i] for i in range(len(tokenizer))]
    if " " not in vocab:
        raise LMTextError("the model's vocabulary has no space: a word LM cannot be used with it")
    pruning = {"beam_prune_logp": beam_prune_logp, "token_prune_min_logp": token_prune_min_logp}
    return CTCBeamSearcher(
        blank_index=tokenizer.get_blank_index(),
        vocab_list=vocab,
        space_token=" ",
        kenlm_model_path=str(arpa_path),
        alpha=alpha,
        beta=beta,
        beam_size=beam_size,
        **{name: value for name, value in pruning.items() if value is not None},
    )


def set_lm_weights(searcher, alpha, beta):
    """Change a beam searcher's LM weight and word bonus without reloading the LM."""
    searcher.alpha, searcher.beta = alpha, beta
    searcher.lm.alpha, searcher.lm.beta = alpha, beta


def beam_decode(searcher, log_probs, frames):
    """Beam-search one utterance's (frames, vocab) log-probabilities; returns text."""
    hyps = searcher.decode_log_probs(log_probs[:frames].cpu().numpy(), frames)
    return hyps[0].text if hyps else ""
