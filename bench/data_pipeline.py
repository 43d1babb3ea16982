#!/usr/bin/env python3
"""Data pipeline benchmarks: preparation across cores, and utterances/second
delivered into a training batch.

Preparation: clips/second converting MP3 to 16 kHz WAV with 1 process and
with all cores, on the same clips (fresh output folders).

Compares, in one run on the same synthetic clips:
  (a) this project: 16 kHz audio written once by data prep, read with
      soundfile, as 16-bit WAV (the default) and as FLAC
      (prep_audio_format: flac);
  (b) the stock SpeechBrain CommonVoice CTC pipeline: MP3 decoded and a
      Resample transform built and applied per item, every epoch;
with 0 and 2 DataLoader workers, after one untimed warm-up epoch, and prints
the ratios (a)/(b). Ratios, not absolute times, are the result: machines are
noisy.

Usage: python bench/data_pipeline.py [--clips 200] [--epochs 5] [--batch-size 8]
(--batch-size 40 is about what the default dynamic batches of 200 s hold on
Common Voice, whose clips average ~5 s.)
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import soundfile as sf
import speechbrain as sb
import torchaudio

from crossling_asr.data.common_voice import prepare_common_voice
from crossling_asr.data.datasets import read_audio
from crossling_asr.data.synthetic import synthesize_corpus
from crossling_asr.data.text import LanguageSpec, TextNormalizer
from crossling_asr.hparams import read_language_data


def project_dataset(prep):
    data = sb.dataio.dataset.DynamicItemDataset.from_csv(prep / "train.csv", replacements={"data_root": str(prep)})
    sb.dataio.dataset.add_dynamic_item([data], read_audio, takes="wav", provides="sig")
    sb.dataio.dataset.set_output_keys([data], ["id", "sig"])
    return data


def stock_audio_pipeline(mp3):
    """What the stock recipe does per item: decode MP3, build a resampler, resample."""
    rate = sf.info(mp3).samplerate
    sig = sb.dataio.dataio.read_audio(mp3)
    return torchaudio.transforms.Resample(rate, 16000)(sig)


def stock_dataset(prep, clips):
    data = sb.dataio.dataset.DynamicItemDataset.from_csv(prep / "train.csv", replacements={"data_root": str(prep)})
    sb.dataio.dataset.add_dynamic_item(
        [data], lambda ID: stock_audio_pipeline(str(clips / f"{ID}.mp3")), takes="id", provides="sig"
    )
    sb.dataio.dataset.set_output_keys([data], ["id", "sig"])
    return data


def utterances_per_second(dataset, workers, epochs, batch_size):
    """Steady-state rate: a first, untimed epoch starts the persistent workers
    and warms the page cache, as in any run longer than one epoch."""
    loader = sb.dataio.dataloader.make_dataloader(
        dataset, batch_size=batch_size, num_workers=workers, persistent_workers=workers > 0
    )
    for _ in loader:
        pass
    count, start = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            count += len(batch.id)
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    words = read_language_data("es")["synthetic"]["words"]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "es"
        synthesize_corpus(corpus, "es", "es", words, n_train=args.clips, n_dev=2, n_test=2)
        normalizer = TextNormalizer(LanguageSpec("es", "a-zñáéíóúü"))
        rates = {}
        for workers in (1, os.cpu_count()):
            start = time.perf_counter()
            prepare_common_voice(corpus, Path(tmp) / f"prep{workers}", normalizer, num_workers=workers)
            rates[workers] = (args.clips + 4) / (time.perf_counter() - start)
        print(
            f"preparation: {rates[1]:.1f} clips/s with 1 process, {rates[os.cpu_count()]:.1f} with "
            f"{os.cpu_count()}: x{rates[os.cpu_count()] / rates[1]:.2f}"
        )
        preps = {"wav": Path(tmp) / f"prep{os.cpu_count()}", "flac": Path(tmp) / "prep_flac"}
        prepare_common_voice(corpus, preps["flac"], normalizer, audio_format="flac")
        print(f"{'workers':>8} {'stock utt/s':>12} {'wav utt/s':>10} {'ratio':>6} {'flac utt/s':>11} {'ratio':>6}")
        for workers in (0, 2):
            stock = utterances_per_second(
                stock_dataset(preps["wav"], corpus / "clips"), workers, args.epochs, args.batch_size
            )
            ours = {
                fmt: utterances_per_second(project_dataset(prep), workers, args.epochs, args.batch_size)
                for fmt, prep in preps.items()
            }
            print(
                f"{workers:>8} {stock:>12.1f} {ours['wav']:>10.1f} {ours['wav'] / stock:>5.1f}x "
                f"{ours['flac']:>11.1f} {ours['flac'] / stock:>5.1f}x"
            )


if __name__ == "__main__":
    main()
