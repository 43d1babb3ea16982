"""Decoding and scoring: greedy CTC, WER/CER, decoding batches, transcription, n-gram LMs and beam search."""
