"""Best-path CTC decoding, and the per-utterance hypotheses file every scorer writes.

Training (CTCBrain's dev and test scoring), transcription and the evaluation of external
checkpoints decode greedily through here, so their hypotheses agree.
"""

import csv

import torch

from crossling_asr.atomic import atomic_path


def greedy_ctc_decode(log_probs, wav_lens, blank_index=0):
    """Best-path CTC decoding of a whole batch with tensor ops (no per-frame loop)."""
    ids = log_probs.argmax(dim=-1)
    frames = ids.shape[1]
    lengths = torch.round(wav_lens * frames).long()
    keep = ids != blank_index
    keep[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    keep &= torch.arange(frames, device=ids.device)[None, :] < lengths[:, None]
    ids, keep = ids.cpu(), keep.cpu()
    return [row[mask].tolist() for row, mask in zip(ids, keep)]


def write_hypotheses_tsv(path, rows):
    """test_hypotheses.tsv: a header, then one (ID, reference, hypothesis) row per utterance
    (also written for checkpoints evaluated by crossling_asr.interop.evaluate_checkpoint)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter="\t")
            writer.writerow(["ID", "reference", "hypothesis"])
            writer.writerows(rows)
