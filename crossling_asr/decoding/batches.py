"""Length-sorted batches for decoding (transcription and the evaluation of checkpoints).

Kept free of torch, so that the commands can show these defaults in --help at once.
Sorting by duration keeps the padding small; the bound on padded seconds keeps a
batch of long clips within memory, the bound on size a batch of short ones.
"""

# Padded audio seconds and utterances per batch at most, unless a command is told otherwise.
DECODE_BATCH_SECONDS = 60.0
DECODE_BATCH_SIZE = 16


def plan_batches(items, max_batch_seconds, max_batch_size):
    """Index lists of batches of `items` (each with a `duration` in seconds), longest first,
    bounded by padded seconds (batch size x its longest clip) and by size."""
    order = sorted(range(len(items)), key=lambda i: items[i].duration, reverse=True)
    batches, current = [], []
    for index in order:
        longest = items[current[0]].duration if current else items[index].duration
        if current and (len(current) >= max_batch_size or (len(current) + 1) * longest > max_batch_seconds):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
