"""Decoding batches: longest first, within the padded seconds and batch size."""


def test_decode_batches_are_longest_first_within_padded_seconds_and_size():
    from types import SimpleNamespace

    from crossling_asr.decoding.batches import plan_batches

    clips = [SimpleNamespace(duration=d) for d in (1.0, 5.0, 2.0, 4.0, 3.0)]
    # Longest first: 5 s alone (2 x 5 s > 9 s padded), 4 s + 3 s (8 s), then the size bound of 2 cuts: 2 s + 1 s.
    assert plan_batches(clips, max_batch_seconds=9.0, max_batch_size=2) == [[1], [3, 4], [2, 0]]
    # A clip longer than the bound still gets a batch of its own.
    assert plan_batches([SimpleNamespace(duration=12.0)], max_batch_seconds=9.0, max_batch_size=2) == [[0]]
