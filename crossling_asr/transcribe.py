"""Transcribe audio with a trained run or an exported model, in length-sorted batches.

Inputs are audio files, folders (searched recursively for files soundfile
reads) and manifest CSVs (columns ID, wav and optionally wrd, as written by
data preparation; `$data_root` and relative paths refer to the manifest's
folder). Each file is read
once, mixed to mono and resampled to 16 kHz once. Utterances are sorted by
duration and batched by padded seconds, so little compute goes to padding;
the encoder normalises each clip over its own samples and masks padding, as
in training, so a clip is transcribed the same alone or in a batch. A file
that cannot be read gets an error status and the others go on.

Decoding is greedy (best path) or CTC beam search with a word n-gram LM
(crossling_asr.lm). Every transcript carries a confidence:

    the mean, over the frames whose most probable token is not the blank,
    of that token's posterior probability (so long stretches of confident
    blanks do not inflate it); for an empty transcript, the mean blank
    posterior (how sure the model is that nothing was said).

It is computed from the acoustic posteriors alone, whatever the decoder.
With references (a manifest's wrd column or a references TSV), WER and CER
are scored with SpeechBrain's ErrorRateStats after the language's text
normalisation of the references (the one used in training). Transcripts have
single spaces and no leading or trailing space; CTCBrain scores its raw
best-path strings, so its test CER can differ slightly (WER does not).
"""

import csv
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import soundfile as sf
import torch
import torchaudio
from speechbrain.utils.metric_stats import ErrorRateStats
from tqdm import tqdm

from crossling_asr.atomic import atomic_path, write_json
from crossling_asr.brain import greedy_ctc_decode
from crossling_asr.data import decode_text
from crossling_asr.encoders import SSLEncoder
from crossling_asr.export import (
    HEAD_FILE,
    LM_FILE,
    MODEL_INFO_FILE,
    RESULTS_FILE,
    TOKENIZER_FILE,
    ExportError,
    build_run_modules,
    head_state_from_export,
    load_finished_run,
    load_tokenizer,
    load_weights,
)
from crossling_asr.lm import beam_decode, make_beam_searcher
from crossling_asr.model import CTCHead
from crossling_asr.text import LanguageSpec, TextNormalizer

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# The wav2vec2 feature encoder needs one 25 ms window for a single frame.
MIN_SAMPLES = 400
OK = "ok"


class InputError(ValueError):
    """An input path, manifest or references file that cannot be used."""


# ---- inputs -------------------------------------------------------------------


def audio_suffixes():
    """File name suffixes of the formats this soundfile build reads."""
    suffixes = {f".{fmt.lower()}" for fmt in sf.available_formats()}
    return suffixes | {".opus", ".aif", ".oga"}


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


def read_references(path):
    """{ID: transcript} of a TSV with lines `ID<TAB>transcript` (an `ID` header is skipped)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"references file {path} not found")
    references = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line.strip() or (number == 1 and line.split("\t")[0] == "ID"):
                continue
            if "\t" not in line:
                raise InputError(f"{path}:{number}: expected `ID<TAB>transcript`, got {line[:60]!r}")
            utt_id, text = line.split("\t", 1)
            references[utt_id] = text
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


class AudioError(ValueError):
    """A file that is not usable audio."""


class AudioReader:
    """Reads any soundfile format as 16 kHz mono float32, resampling once per file."""

    def __init__(self):
        self._resamplers = {}

    def __call__(self, path):
        try:
            audio, rate = sf.read(path, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as err:
            raise AudioError(f"unreadable audio: {err}") from err
        signal = torch.from_numpy(audio).mean(dim=1)
        if rate != SAMPLE_RATE:
            if rate not in self._resamplers:
                self._resamplers[rate] = torchaudio.transforms.Resample(rate, SAMPLE_RATE)
            signal = self._resamplers[rate](signal)
        if signal.numel() < MIN_SAMPLES:
            raise AudioError(f"too short: {signal.numel() / SAMPLE_RATE:.3f} s (at least 0.025 s)")
        if not torch.isfinite(signal).all():
            raise AudioError("audio contains NaN or infinite samples")
        return signal


def probe_durations(items):
    """Fill each item's duration from its header (or an error status when unreadable)."""
    for item in items:
        try:
            info = sf.info(item.path)
        except (sf.LibsndfileError, RuntimeError, OSError) as err:
            item.error = f"unreadable audio: {err}"
            continue
        # Some MP3 headers give no length: order such files as long (read later anyway).
        item.duration = info.frames / info.samplerate if info.frames > 0 else float("inf")


def plan_batches(items, max_batch_seconds, max_batch_size):
    """Index lists of batches, longest first, bounded by padded seconds and size."""
    order = sorted(range(len(items)), key=lambda i: items[i].duration, reverse=True)
    batches, current = [], []
    for index in order:
        longest = items[current[0]].duration if current else items[index].duration
        if current and (
            len(current) >= max_batch_size or (len(current) + 1) * longest > max_batch_seconds
        ):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


class _AudioDataset(torch.utils.data.Dataset):
    """Loads items' audio for a DataLoader; a failure becomes a message, not an exception."""

    def __init__(self, items):
        self.items = items
        self.reader = AudioReader()

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        try:
            return index, self.reader(self.items[index].path), None
        except AudioError as err:
            return index, None, str(err)


def _collate(samples):
    return samples


# ---- model -----------------------------------------------------------------------


class AcousticModel:
    """A fine-tuned encoder and CTC head with the vocabulary and text rules of its language.

    Loads a finished run's output folder (best checkpoint by dev CER) or an
    exported folder (crossling_asr.export); either way the encoder is the
    training one (SSLEncoder), so audio is normalised as in training.
    """

    def __init__(self, encoder, head, tokenizer, language_spec, source, exported_lm=None, device="cpu"):
        self.device = torch.device(device)
        self.encoder = encoder.to(self.device).eval()
        self.head = head.to(self.device).eval()
        self.tokenizer = tokenizer
        self.blank_index = tokenizer.get_blank_index()
        self.language_spec = language_spec
        self.normalizer = TextNormalizer(language_spec)
        self.source = str(source)
        self.exported_lm = exported_lm

    @classmethod
    def load(cls, path, device=None):
        """From a run's output folder (has results.json) or an export (has model_info.json)."""
        path = Path(path)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if (path / MODEL_INFO_FILE).is_file():
            return cls._from_export(path, device)
        if (path / RESULTS_FILE).is_file():
            run = load_finished_run(path)
            encoder, head, _ = build_run_modules(run)
            tokenizer = load_tokenizer(run.tokenizer_file, head[-1].out_features)
            return cls(encoder, head, tokenizer, run.language_spec, path, device=device)
        raise ExportError(
            f"{path} is neither a finished run (no {RESULTS_FILE}) nor an exported model "
            f"(no {MODEL_INFO_FILE})"
        )

    @classmethod
    def _from_export(cls, path, device):
        info = json.loads((path / MODEL_INFO_FILE).read_text(encoding="utf-8"))
        encoder = SSLEncoder(
            source=str(path), save_path=str(path), family=info["encoder"]["family"],
            freeze=True, apply_spec_augment=False,
        )
        head = CTCHead(**info["head"])
        head.load_state_dict(head_state_from_export(load_weights(path / HEAD_FILE)))
        spec = LanguageSpec(code=info["language"], **info["text"])
        decoding = info.get("decoding", {})
        exported_lm = None
        if decoding.get("method") == "beam_lm":
            exported_lm = {"lm": path / LM_FILE, "alpha": decoding["alpha"], "beta": decoding["beta"],
                           "beam_size": decoding["beam_size"]}
        tokenizer = load_tokenizer(path / TOKENIZER_FILE, head[-1].out_features)
        return cls(encoder, head, tokenizer, spec, path, exported_lm, device)

    @torch.no_grad()
    def log_probs(self, signals):
        """CTC log-posteriors (batch, frames, vocab) on the CPU and each signal's frame count."""
        lengths = torch.tensor([len(s) for s in signals])
        wavs = torch.zeros(len(signals), int(lengths.max()))
        for row, signal in enumerate(signals):
            wavs[row, : len(signal)] = signal
        wav_lens = (lengths / lengths.max()).to(self.device)
        features = self.encoder(wavs.to(self.device), wav_lens)
        log_probs = self.head(features).float().log_softmax(dim=-1).cpu()
        frames = torch.round(wav_lens.cpu() * log_probs.shape[1]).long()
        return log_probs, frames

    def greedy_texts(self, log_probs, frames):
        """Best-path transcripts of a batch, decoded as in training."""
        wav_lens = frames.float() / log_probs.shape[1]
        ids = greedy_ctc_decode(log_probs, wav_lens, self.blank_index)
        return [decode_text(self.tokenizer, row) for row in ids]


def ctc_confidence(log_probs, frames, blank_index):
    """Mean posterior of the best-path non-blank frames; for no such frame, the mean blank posterior."""
    posteriors = log_probs[:frames].exp()
    best, ids = posteriors.max(dim=-1)
    emitting = ids != blank_index
    if emitting.any():
        return float(best[emitting].mean())
    return float(posteriors[:, blank_index].mean())


# ---- decoding ----------------------------------------------------------------------


class Decoder:
    """Greedy decoding, or CTC beam search with a word LM when `lm` is given."""

    def __init__(self, model, lm=None, alpha=0.5, beta=1.5, beam_size=100):
        self.model = model
        self.searcher = None
        self.settings = {"method": "greedy"}
        if lm is not None:
            self.searcher = make_beam_searcher(model.tokenizer, lm, alpha, beta, beam_size)
            self.settings = {"method": "beam_lm", "lm": str(lm), "alpha": alpha, "beta": beta,
                             "beam_size": beam_size}

    def __call__(self, log_probs, frames):
        if self.searcher is None:
            return self.model.greedy_texts(log_probs, frames)
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


def iter_batches(model, items, max_batch_seconds=60.0, max_batch_size=16, num_workers=0):
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


def transcribe(model, items, decoder, max_batch_seconds=60.0, max_batch_size=16, num_workers=0, progress=True):
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
                        item.id, item.path, OK, round(item.duration, 3), text,
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
    wer, cer = ErrorRateStats(), ErrorRateStats()
    scored = [t for t in transcripts if t.status == OK and t.reference is not None]
    for t in scored:
        reference = normalizer(t.reference, out_of_alphabet="keep").text
        wer.append([t.id], [t.hypothesis.split()], [reference.split()])
        cer.append([t.id], [list(t.hypothesis)], [list(reference)])
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
