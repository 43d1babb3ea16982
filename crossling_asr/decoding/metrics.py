"""Word and character error rates as the study defines them, for every scorer.

Training (CTCBrain), transcription and LM tuning score through here, so their
figures are comparable: SpeechBrain's ErrorRateStats (edit distance,
percent), WER over whitespace-split words, CER over the characters of the
whole string, spaces included (a missing or extra space is one error).
"""

from speechbrain.utils.metric_stats import ErrorRateStats


def error_rate_stats(ids, hypotheses, references):
    """(WER stats, CER stats): ErrorRateStats of parallel lists of ids and strings."""
    wer, cer = ErrorRateStats(), ErrorRateStats()
    wer.append(ids, [h.split() for h in hypotheses], [r.split() for r in references])
    cer.append(ids, [list(h) for h in hypotheses], [list(r) for r in references])
    return wer, cer


def error_rates(hypotheses, references):
    """{"WER": percent, "CER": percent} of parallel lists of strings."""
    ids = [str(i) for i in range(len(references))]
    wer, cer = error_rate_stats(ids, hypotheses, references)
    return {"WER": wer.summarize("error_rate"), "CER": cer.summarize("error_rate")}
