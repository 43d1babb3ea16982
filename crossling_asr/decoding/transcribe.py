"""Transcribe audio with a trained model, in length-sorted batches; decode and score.

The model is a crossling_asr.model.trained_model.TrainedModel (a run's folder or
an export); audio is read by crossling_asr.data.audio and error rates come from
crossling_asr.decoding.metrics. Inputs are audio files, folders (searched
recursively for files soundfile reads) and manifest CSVs (columns ID, wav
and optionally wrd, as written by data preparation; `$data_root` and
relative paths refer to the manifest's folder). Each file is read once,
mixed to mono and resampled to 16 kHz once. Utterances are sorted by
duration and batched by padded seconds, so little compute goes to padding;
the encoder normalises each clip over its own samples and masks padding, as
in training, so a clip is transcribed the same alone or in a batch. A file
that cannot be read gets an error status and the others go on.

Decoding is greedy (best path) or CTC beam search with a word n-gram LM
(crossling_asr.decoding.beam_search). Every transcript carries a confidence:

    the mean, over the frames whose most probable token is not the blank,
    of that token's posterior probability (so long stretches of confident
    blanks do not inflate it); for an empty transcript, the mean blank
    posterior (how sure the model is that nothing was said).

It is computed from the acoustic posteriors alone, whatever the decoder.
With references (a manifest's wrd column, or a references TSV: `ID<TAB>text`
lines or Common Voice's own TSV), WER and CER
are scored (crossling_asr.decoding.metrics) after the language's text
normalisation of the references (the one used in training). Transcripts have
single spaces and no leading or trailing space; CTCBrain scores its raw
best-path strings, so its test CER can differ slightly (WER does not).
"""

import csv
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from crossling_asr.atomic import atomic_path, write_json
from crossling_asr.data.audio import (
    AudioError,
    UndecodableAudioError,
    audio_info,
    audio_suffixes,
    c_stderr_lines,
    read_resampled,
)
from crossling_asr.data.common_voice import DECODER_NOTE, RESYNC_NOTE, read_cv_tsv
from crossling_asr.data.datasets import decode_text
from crossling_asr.decoding.batches import DECODE_BATCH_SECONDS, DECODE_BATCH_SIZE, plan_batches
from crossling_asr.decoding.beam_search import beam_decode, make_beam_searcher, resolve_lm_weights
from crossling_asr.decoding.greedy import greedy_ctc_decode
from crossling_asr.decoding.metrics import error_rate_stats

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# The wav2vec2 feature encoder needs one 25 ms window for a single frame.
MIN_SAMPLES = 400
OK = "ok"


class InputError(ValueError):
    """An input path, manifest or references file that cannot be used."""


# ---- inputs -------------------------------------------------------------------


@dataclass
class AudioItem:
    """One utterance to transcribe."""

    id: str
    path: str
    reference: str | None = None
    duration: float | None = None
    error: str | None = None


def collect_inputs(inputs):
    """AudioItems of files, folders and manifest CSVs, in the order given.

    IDs: a file's stem; a folder's files' paths relative to it without the
    suffix; a manifest's ID column. Duplicate IDs are an error.
    """
    items = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            suffixes = audio_suffixes()
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            if not files:
                raise InputError(f"{path}: no audio files found in this folder")
            items += [AudioItem(str(p.relative_to(path).with_suffix("")), str(p)) for p in files]
        elif path.is_file() and path.suffix.lower() == ".csv":
            items += read_manifest(path)
        elif path.is_file():
            items.append(AudioItem(path.stem, str(path)))
        else:
            raise InputError(f"{path}: no such file or folder")
    seen, duplicates = set(), set()
    for item in items:
        (duplicates if item.id in seen else seen).add(item.id)
    if duplicates:
        raise InputError(
            f"duplicate utterance IDs {sorted(duplicates)[:5]}: give files with distinct names "
            "or one folder containing them"
        )
    return items


def read_manifest(path):
    """AudioItems of a manifest CSV (ID, wav and optionally wrd).

    `$data_root` in wav, and any relative wav path, refer to the manifest's folder.
    """
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"ID", "wav"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"manifest {path} lacks column(s) {sorted(missing)} (needs ID, wav)")
        folder = path.parent.resolve()
        items = []
        for row in reader:
            wav = folder / row["wav"].replace("$data_root", str(folder))  # relative: to the manifest
            items.append(AudioItem(row["ID"], str(wav), reference=row.get("wrd")))
    return items


REFERENCE_FORMATS = (
    "`ID<TAB>transcript` lines (an `ID` header is skipped), or a Common Voice TSV "
    "(header with `path` and `sentence` columns; the ID is the clip's name without its suffix)"
)


def read_references(path):
    """{ID: transcript} of a references TSV in either of REFERENCE_FORMATS.

    Common Voice's own train/dev/test TSVs are taken as they are, so that
    clips transcribed by file name are scored against the release's sentences.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"references file {path} not found")
    with open(path, encoding="utf-8-sig") as f:
        header = f.readline().rstrip("\r\n").split("\t")
    if {"path", "sentence"} <= {h.strip() for h in header}:
        return _read_cv_references(path)
    if len(header) > 2 and {"path", "sentence"} & {h.strip() for h in header}:
        raise InputError(
            f"{path}:1: header {header} looks like a Common Voice TSV but lacks "
            f"`path` or `sentence`; references must be {REFERENCE_FORMATS}"
        )
    references = {}
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or (number == 1 and line.split("\t")[0] == "ID"):
                continue
            if "\t" not in line:
                raise InputError(f"{path}:{number}: expected {REFERENCE_FORMATS}; got {line[:60]!r}")
            utt_id, text = line.split("\t", 1)
            references[utt_id] = text
    return references


def _read_cv_references(path):
    """{clip name without its audio suffix: sentence} of a Common Voice TSV."""
    rows, malformed = read_cv_tsv(path)
    if malformed:
        raise InputError(f"{path}:{malformed[0]}: field count differs from the header ({len(malformed)} such line(s))")
    suffixes = audio_suffixes()
    references = {}
    for row in rows:
        clip = Path(row["path"].strip())
        references[clip.stem if clip.suffix.lower() in suffixes else clip.name] = row["sentence"]
    return references


def attach_references(items, references):
    """Set each item's reference from `references` (they win over a manifest's); returns count."""
    attached = 0
    for item in items:
        if item.id in references:
            item.reference = references[item.id]
            attached += 1
    return attached


# ---- audio ----------------------------------------------------------------------


def model_input(path):
    """A file as the model's input: 16 kHz mono float32, at least one frame, finite.

    Raises AudioError (crossling_asr.data.audio) saying what is wrong with the file.
    """
    notes = []
    try:
        with c_stderr_lines() as notes:
            signal = read_resampled(path, SAMPLE_RATE)
    except (UndecodableAudioError, OSError) as err:
        raise AudioError(f"unreadable audio: {err}") from err
    finally:
        report_decoder_notes(path, notes)
    if signal.numel() < MIN_SAMPLES:
        raise AudioError(f"too short: {signal.numel() / SAMPLE_RATE:.3f} s (at least 0.025 s)")
    if not torch.isfinite(signal).all():
        raise AudioError("audio contains NaN or infinite samples")
    return signal


def report_decoder_notes(path, notes):
    """One warning for a file whose MP3 frames were damaged, instead of mpg123's note per skipped frame;
    any other line the decoder wrote to stderr is passed on as it was."""
    damaged = [line for line in notes if line.startswith(DECODER_NOTE)]
    if damaged:
        logger.warning(
            "%s: damaged MP3 frames were skipped (the decoder resynchronised %d time(s)); the rest is transcribed",
            path,
            sum(RESYNC_NOTE in line for line in damaged),
        )
    for line in notes:
        if line not in damaged:
            print(line, file=sys.stderr)


def probe_durations(items):
    """Fill each item's duration from its header (or an error status when unreadable)."""
    for item in items:
        try:
            info = audio_info(item.path)
        except (UndecodableAudioError, OSError) as err:
            item.error = f"unreadable audio: {err}"
            continue
        # Some MP3 headers give no length: order such files as long (read later anyway).
        item.duration = info.frames / info.samplerate if info.frames > 0 else float("inf")


class _AudioDataset(torch.utils.data.Dataset):
    """Loads items' audio for a DataLoader; a failure becomes a message, not an exception."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        try:
            return index, model_input(self.items[index].path), None
        except AudioError as err:
            return index, None, str(err)


def _collate(samples):
    return samples


# ---- decoding ----------------------------------------------------------------------


def ctc_confidence(log_probs, frames, blank_index):
    """Mean posterior of the best-path non-blank frames; for no such frame, the mean blank posterior."""
    posteriors = log_probs[:frames].exp()
    best, ids = posteriors.max(dim=-1)
    emitting = ids != blank_index
    if emitting.any():
        return float(best[emitting].mean())
    return float(posteriors[:, blank_index].mean())


class Decoder:
    """Greedy decoding as in training, or CTC beam search with a word LM when `lm` is given.

    With an LM, the settings not given (alpha, beta, beam_size, the pruning thresholds) are those
    the LM was tuned with, or the defaults (crossling_asr.decoding.beam_search.resolve_lm_weights).
    """

    def __init__(
        self, model, lm=None, alpha=None, beta=None, beam_size=None, beam_prune_logp=None, token_prune_min_logp=None
    ):
        self.model = model
        self.searcher = None
        self.settings = {"method": "greedy"}
        if lm is not None:
            beam = resolve_lm_weights(lm, alpha, beta, beam_size, beam_prune_logp, token_prune_min_logp)
            self.searcher = make_beam_searcher(model.tokenizer, lm, **beam)
            self.settings = {"method": "beam_lm", "lm": str(lm), **beam}

    def __call__(self, log_probs, frames):
        """Transcripts of a batch of (batch, frames, vocab) log-posteriors with frame counts."""
        if self.searcher is None:
            wav_lens = frames.float() / log_probs.shape[1]
            ids = greedy_ctc_decode(log_probs, wav_lens, self.model.blank_index)
            return [decode_text(self.model.tokenizer, row) for row in ids]
        return [beam_decode(self.searcher, lp, int(n)) for lp, n in zip(log_probs, frames)]


@dataclass
class Transcript:
    """One utterance's result."""

    id: str
    path: str
    status: str
    duration: float | None = None
    hypothesis: str = ""
    confidence: float | None = None
    reference: str | None = None


def iter_batches(model, items, max_batch_seconds=DECODE_BATCH_SECONDS, max_batch_size=DECODE_BATCH_SIZE, num_workers=0):
    """Yield (items, log_probs, frames, failures) per length-sorted batch.

    `failures`: [(item, message)] of the batch's files that could not be
    read. Items whose header could not be read come first, as a batch with
    no audio.
    """
    probe_durations(items)
    unreadable = [item for item in items if item.error]
    if unreadable:
        yield [], None, None, [(item, item.error) for item in unreadable]
    usable = [item for item in items if not item.error]
    if not usable:
        return
    loader = torch.utils.data.DataLoader(
        _AudioDataset(usable),
        batch_sampler=plan_batches(usable, max_batch_seconds, max_batch_size),
        collate_fn=_collate,
        num_workers=num_workers,
    )
    for samples in loader:
        good = [(usable[i], signal) for i, signal, err in samples if err is None]
        failures = [(usable[i], err) for i, _, err in samples if err is not None]
        if not good:
            yield [], None, None, failures
            continue
        log_probs, frames = model.log_probs([signal for _, signal in good])
        for item, signal in good:
            item.duration = len(signal) / SAMPLE_RATE
        yield [item for item, _ in good], log_probs, frames, failures


def transcribe(
    model,
    items,
    decoder,
    max_batch_seconds=DECODE_BATCH_SECONDS,
    max_batch_size=DECODE_BATCH_SIZE,
    num_workers=0,
    progress=True,
):
    """Transcripts of `items`, in their order (see iter_batches for the batching)."""
    results = {}
    with tqdm(total=len(items), unit="utt", disable=not progress, desc="transcribing") as bar:
        for batch_items, log_probs, frames, failures in iter_batches(
            model, items, max_batch_seconds, max_batch_size, num_workers
        ):
            for item, message in failures:
                results[item.id] = Transcript(item.id, item.path, f"error: {message}", reference=item.reference)
            if batch_items:
                texts = decoder(log_probs, frames)
                for row, (item, text) in enumerate(zip(batch_items, texts)):
                    results[item.id] = Transcript(
                        item.id,
                        item.path,
                        OK,
                        round(item.duration, 3),
                        text,
                        round(ctc_confidence(log_probs[row], int(frames[row]), model.blank_index), 4),
                        item.reference,
                    )
            bar.update(len(batch_items) + len(failures))
    return [results[item.id] for item in items]


# ---- scoring and output ------------------------------------------------------------------


def score(transcripts, normalizer):
    """WER and CER (percent) over transcribed utterances that have a reference.

    References are normalised with the model's language rules, keeping
    characters outside its alphabet (they count as errors).
    """
    scored = [t for t in transcripts if t.status == OK and t.reference is not None]
    references = [normalizer(t.reference, out_of_alphabet="keep").text for t in scored]
    wer, cer = error_rate_stats([t.id for t in scored], [t.hypothesis for t in scored], references)
    summary = {
        "n_scored": len(scored),
        "n_failed": sum(1 for t in transcripts if t.status != OK),
        "n_without_reference": sum(1 for t in transcripts if t.status == OK and t.reference is None),
    }
    if scored:
        summary.update(WER=wer.summarize("error_rate"), CER=cer.summarize("error_rate"))
    return summary


def write_tsv(path, transcripts):
    """One row per utterance: ID, path, status, duration, confidence, hypothesis[, reference]."""
    with_reference = any(t.reference is not None for t in transcripts)
    columns = ["ID", "path", "status", "duration", "confidence", "hypothesis"] + (
        ["reference"] if with_reference else []
    )
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(columns)
        for t in transcripts:
            row = [t.id, t.path, " ".join(t.status.split()), t.duration, t.confidence, t.hypothesis]
            if with_reference:
                row.append(t.reference if t.reference is not None else "")
            writer.writerow(["" if v is None else v for v in row])


def write_json_report(path, transcripts, model, decoder, scores):
    """Everything in one JSON file: model, decoding settings, scores, transcripts."""
    write_json(
        path,
        {
            "model": model.source,
            "language": model.language_spec.code,
            "decoding": decoder.settings,
            "confidence": "mean best-path posterior of non-blank frames (empty: mean blank posterior)",
            "scores": scores,
            "utterances": [asdict(t) for t in transcripts],
        },
    )
