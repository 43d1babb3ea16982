"""Common Voice preparation: TSVs -> 16 kHz WAV (or FLAC) clips + SpeechBrain CSV manifests.

Every clip is decoded and resampled ONCE, in parallel, instead of decoding MP3
and resampling on every epoch as the stock SpeechBrain recipe does. The
preparation is idempotent and resumable: converted clips are written
atomically, so a re-run after a kill converts only what is missing, and a
finished preparation with the same options is not redone at all.

Rows that cannot be used are skipped and counted by reason in
`prep_report.json` next to the manifests; no row is dropped silently and one
bad clip never stops the corpus.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import logging
import os
import shutil
import signal
import unicodedata
from collections import Counter, defaultdict, namedtuple
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from crossling_asr.atomic import atomic_path, write_json
from crossling_asr.data.text import TextNormalizer

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("path", "sentence")
SPLITS = ("train", "dev", "test")
MANIFEST_FIELDS = ("ID", "duration", "wav", "spk_id", "wrd")
REPORT_FILE = "prep_report.json"
DONE_FILE = "prep_done.json"
# Encoders of the wav2vec2 family emit one frame per 320 samples (20 ms).
FRAMES_PER_SECOND = 50
# Formats of the prepared 16 kHz clips: the soundfile format, and about how
# many times the bytes of a CV MP3 (~64 kbit/s) a clip takes (16-bit WAV is
# 256 kbit/s). WAV reads ~4x faster than FLAC (bench/data_pipeline.py), which
# keeps a few loader workers ahead of an H100; FLAC takes ~0.55x its disk.
AudioFormat = namedtuple("AudioFormat", "soundfile_format size_vs_mp3")
AUDIO_FORMATS = {"wav": AudioFormat("WAV", 4), "flac": AudioFormat("FLAC", 2.2)}
# What mpg123 (libsndfile's MP3 decoder) writes on skipping a damaged frame.
RESYNC_NOTE = "Trying to resync"
# How every note of mpg123 on damaged input starts ("Note: Illegal Audio-MPEG-Header ...", "Note: Skipped ...").
DECODER_NOTE = "Note: "
# Rows the report shows for each skip reason (`skipped_examples`), so a reason can be checked by eye.
MAX_SKIP_EXAMPLES = 5


class CommonVoiceFormatError(ValueError):
    """A Common Voice TSV that cannot be read as one."""


class PreparationInterrupted(KeyboardInterrupt):
    """Preparation stopped by Ctrl-C; the message says what was kept and that a re-run resumes.

    A KeyboardInterrupt still, so that what catches Exception (a failure to record) lets it pass.
    """

    # What a command stopped this way exits with: a shell's status for SIGINT (128 + 2).
    exit_status = 130


def cv_language_folder_entries(splits: tuple[str, ...] = SPLITS) -> tuple[str, ...]:
    """What data preparation reads from a Common Voice language folder: clips/ and a TSV per split."""
    return ("clips", *(f"{split}.tsv" for split in splits))


def missing_cv_entries(folder: str | Path, splits: tuple[str, ...] = SPLITS) -> list[str]:
    """The entries data preparation needs that `folder` lacks (empty: it is a Common Voice language folder)."""
    return [name for name in cv_language_folder_entries(splits) if not (Path(folder) / name).exists()]


def check_cv_language_folder(folder: str | Path, splits: tuple[str, ...] = SPLITS) -> None:
    """Raise FileNotFoundError, saying what is expected, unless `folder` is a Common Voice language folder.

    Cheap, so commands check it before they load a model or create anything.
    A release's root folder (one level too high) is recognised and named.
    """
    folder = Path(folder)
    missing = missing_cv_entries(folder, splits)
    if not missing:
        return
    expected = (
        f"point it at a Common Voice language folder, the one holding {', '.join(cv_language_folder_entries(splits))}"
    )
    if not folder.is_dir():
        raise FileNotFoundError(f"data_folder {folder} does not exist: {expected}")
    languages = sorted(d.name for d in folder.iterdir() if d.is_dir() and not missing_cv_entries(d, splits))
    if languages:
        listed = ", ".join(languages[:5]) + (", ..." if len(languages) > 5 else "")
        expected = f"it holds language folders ({listed}): give one, e.g. {folder / languages[0]}"
    raise FileNotFoundError(f"data_folder {folder} lacks {', '.join(missing)}: {expected}")


def read_cv_tsv(tsv_path: Path) -> tuple[list[dict], list[tuple[int, str]]]:
    """Read a Common Voice TSV without CSV quoting (sentences contain quotes).

    Returns (rows, malformed): rows are dicts with a `line` number added;
    malformed lists the line numbers whose field count differs from the
    header. Extra or renamed columns of later releases are kept as they are;
    a header without the required columns raises CommonVoiceFormatError
    naming the file.
    """
    tsv_path = Path(tsv_path)
    if not tsv_path.is_file():
        raise FileNotFoundError(f"Common Voice TSV not found: {tsv_path}")
    rows, malformed = [], []
    with open(tsv_path, encoding="utf-8-sig", newline="") as f:  # -sig: a BOM left by an editor
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise CommonVoiceFormatError(f"{tsv_path}:1: empty file, expected a header")
        header = [h.strip() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise CommonVoiceFormatError(
                f"{tsv_path}:1: header lacks required column(s) {missing}; "
                f"found {header}. Is this a Common Voice train/dev/test TSV?"
            )
        for fields in reader:
            if not fields or fields == [""]:
                continue
            if len(fields) != len(header):
                malformed.append(reader.line_num)
                continue
            row = dict(zip(header, fields))
            row["line"] = reader.line_num
            rows.append(row)
    return rows, malformed


def safe_clip_path(clips_dir: str | Path, relative: str) -> Path | None:
    """The clip path inside clips_dir, or None if `relative` escapes it."""
    if not relative or os.path.isabs(relative):
        return None
    clips_dir = Path(clips_dir).resolve()
    candidate = (clips_dir / relative).resolve()
    if clips_dir not in candidate.parents:
        return None
    return candidate


def convert_clip(src: Path, dst: Path, sample_rate: int) -> tuple[int | None, str | None, bool]:
    """Decode `src`, mix to mono, resample (crossling_asr.data.audio), write 16-bit audio
    to `dst` atomically (FLAC or WAV, from the suffix of `dst`).

    Returns (number of samples, None, resynced) or (None, reason, resynced)
    for an unusable clip; `resynced`: whether the MP3 decoder skipped damaged
    frames (its notes on stderr are captured, not shown: see
    crossling_asr.data.audio.c_stderr_lines). Out-of-disk errors are raised:
    they are not a property of the clip.
    """
    from crossling_asr.data.audio import EmptyAudioError, UndecodableAudioError, c_stderr_lines, read_resampled

    with c_stderr_lines() as notes:
        try:
            wav, reason = read_resampled(src, sample_rate), None
        except EmptyAudioError as err:
            reason = f"empty_clip: {err}"
        except UndecodableAudioError as err:
            reason = f"undecodable: {err}".splitlines()[0][:200]
    resynced = any(RESYNC_NOTE in line for line in notes)
    if reason:
        return None, reason, resynced
    with atomic_path(dst) as tmp:
        sound_format = AUDIO_FORMATS[Path(dst).suffix[1:]].soundfile_format
        sf.write(str(tmp), wav.numpy(), sample_rate, format=sound_format, subtype="PCM_16")
    return wav.shape[0], None, resynced


def _convert_worker(job):
    """Process-pool entry: convert one clip unless its output already exists."""
    src, dst, sample_rate = job
    if os.path.exists(dst):
        try:
            return src, sf.info(dst).frames, None, False
        except RuntimeError:
            os.unlink(dst)  # not a complete audio file: convert again
    try:
        frames, reason, resynced = convert_clip(src, dst, sample_rate)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise
        frames, reason, resynced = None, f"unreadable: {err}", False
    return src, frames, reason, resynced


def _limit_threads():
    import torch

    torch.set_num_threads(1)


def _init_worker():
    """Conversion processes: one thread each, and Ctrl-C left to the main process, which stops the pool
    (a worker of its own would print a KeyboardInterrupt traceback per process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_threads()


def convert_clips(
    jobs: list[tuple[Path, Path, int]], num_workers: int
) -> dict[Path, tuple[int | None, str | None, bool]]:
    """Convert (src, dst, rate) jobs in parallel with a progress bar.

    The bar says how many outputs already exist (a resumed preparation reads
    only their headers). Returns {src: (frames, reason, resynced)}.
    """
    existing = sum(1 for _, dst, _ in jobs if os.path.exists(dst))
    desc = f"Converting clips ({existing} of {len(jobs)} already converted)" if existing else "Converting clips"
    results = {}
    with tqdm(total=len(jobs), desc=desc, unit="clip") as bar:
        if num_workers <= 1:
            _limit_threads()
            stream = map(_convert_worker, jobs)
            pool = None
        else:
            pool = ProcessPoolExecutor(num_workers, initializer=_init_worker)
            stream = pool.map(_convert_worker, jobs, chunksize=16)
        try:
            for src, *result in stream:
                results[src] = result
                bar.update()
        except BaseException:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)  # clips being written finish whole
            raise
        if pool is not None:
            pool.shutdown()
    return results


def _kept_clips(audio_folder, audio_format):
    """How many converted clips `audio_folder` holds (temporary .part files of unfinished ones excluded)."""
    if not audio_folder.is_dir():
        return 0
    return sum(1 for clip in audio_folder.glob(f"*.{audio_format}") if not clip.name.startswith("."))


def _check_free_space(prep_folder, sources, audio_format):
    """Fail before converting if the disk obviously cannot hold the converted clips."""
    needed = AUDIO_FORMATS[audio_format].size_vs_mp3 * sum(os.path.getsize(s) for s in sources if os.path.exists(s))
    free = shutil.disk_usage(prep_folder).free
    if needed > free:
        raise OSError(
            errno.ENOSPC,
            f"Preparing needs about {needed / 1e9:.2f} GB in {prep_folder} "
            f"but only {free / 1e9:.2f} GB are free; set prep_folder to a larger disk",
        )


def _options_fingerprint(options, tsvs):
    """A hash of the prep options and the TSVs' sizes and times."""
    stamp = {"options": options, "tsvs": {str(t): [t.stat().st_size, t.stat().st_mtime_ns] for t in tsvs}}
    return hashlib.sha256(json.dumps(stamp, sort_keys=True, default=str).encode()).hexdigest()


def prepare_common_voice(
    data_folder: str | Path,
    prep_folder: str | Path,
    normalizer: TextNormalizer,
    splits: tuple[str, ...] = SPLITS,
    sample_rate: int = 16000,
    max_duration: float = 20.0,
    min_duration: float = 0.3,
    num_workers: int | None = None,
    audio_format: str = "wav",
) -> dict:
    """Prepare one Common Voice language folder for training.

    Arguments
    ---------
    data_folder : the language folder of a Common Voice release (clips/ and TSVs).
    prep_folder : where 16 kHz clips (`wav16k/`), manifests (`<split>.csv`) and
        `prep_report.json` are written; shared by every run of the language.
    normalizer : the language's TextNormalizer.
    max_duration, min_duration : training clips outside these bounds (seconds)
        are skipped; dev and test are never filtered by duration, so scores
        stay comparable with other work on the same release.
    num_workers : processes for conversion (default: all cores).
    audio_format : "wav" (16-bit PCM, fastest to read in training) or
        "flac" (~0.55x the disk, ~4x slower to read).

    Returns the report dict (also written to prep_report.json).
    """
    data_folder, prep_folder = Path(data_folder), Path(prep_folder)
    check_cv_language_folder(data_folder, splits)
    clips_dir = data_folder / "clips"
    tsvs = [data_folder / f"{split}.tsv" for split in splits]
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(f"audio_format must be one of {sorted(AUDIO_FORMATS)}, not {audio_format!r}")
    prep_folder.mkdir(parents=True, exist_ok=True)

    options = {
        "audio_format": audio_format,
        "spec": normalizer.spec.__dict__,
        "sample_rate": sample_rate,
        "max_duration": max_duration,
        "min_duration": min_duration,
        "data_folder": str(data_folder.resolve()),
    }
    fingerprint = _options_fingerprint(options, tsvs)
    done_file = prep_folder / DONE_FILE
    if done_file.is_file() and json.loads(done_file.read_text()).get("fingerprint") == fingerprint:
        logger.info("Data in %s already prepared with these options; skipping", prep_folder)
        return read_prep_report(prep_folder)

    try:
        plans, converted = _plan_and_convert(
            splits, tsvs, clips_dir, normalizer, sample_rate, prep_folder, audio_format, num_workers
        )
    except KeyboardInterrupt:
        audio_folder = prep_folder / "wav16k"
        raise PreparationInterrupted(
            f"Preparation interrupted: the {_kept_clips(audio_folder, audio_format)} clips converted so far are "
            f"kept in {audio_folder} (each written whole, atomically); run the same command again to resume "
            "with the rest."
        ) from None

    report = {"data_folder": str(data_folder), "splits": {}}
    train_sentences, damaged = set(), []
    for split in splits:
        entries, skipped, resynced = _finish_split(
            split, plans[split], converted, sample_rate, max_duration, min_duration
        )
        damaged += resynced
        _write_manifest(prep_folder / f"{split}.csv", entries)
        if split == "train":
            train_sentences = {e["wrd"] for e in entries}
        report["splits"][split] = {
            "rows_read": plans[split]["rows_read"],
            "kept": len(entries),
            "hours": round(sum(e["duration"] for e in entries) / 3600, 4),
            "speakers": len({e["spk_id"] for e in entries}),
            "skipped": dict(sorted(skipped.items())),
            "malformed_lines": plans[split]["malformed_lines"],
            "skipped_examples": plans[split]["examples"],
            "digits": dict(plans[split]["digits"].most_common(50)),
            "out_of_alphabet_characters": dict(plans[split]["foreign"].most_common(50)),
            "folded_letters": dict(plans[split]["folded"].most_common(50)),
        }
        if split != "train" and train_sentences:
            shared = [e for e in entries if e["wrd"] in train_sentences]
            report["splits"][split]["sentences_also_in_train"] = len(shared)
            if shared:
                report["splits"][split]["sentence_also_in_train_example"] = {
                    "ID": shared[0]["ID"],
                    "sentence": shared[0]["wrd"],
                }
    report["total_skipped"] = sum(sum(s["skipped"].values()) for s in report["splits"].values())
    # Known only for the clips this run decoded (a resumed run reads the others' headers only).
    report["damaged_mp3_clips_converted_in_this_run"] = len(damaged)
    report["damaged_mp3_clip_examples"] = damaged[:MAX_SKIP_EXAMPLES]
    write_json(prep_folder / REPORT_FILE, report)
    write_json(done_file, {"fingerprint": fingerprint, "options": options})
    _log_report(report)
    return report


def read_prep_report(prep_folder: str | Path) -> dict:
    """The report (prep_report.json) of the preparation written in `prep_folder`."""
    return json.loads((Path(prep_folder) / REPORT_FILE).read_text(encoding="utf-8"))


def _plan_and_convert(splits, tsvs, clips_dir, normalizer, sample_rate, prep_folder, audio_format, num_workers):
    """Read and plan every split, then convert the clips they keep; returns (plans, conversion results)."""
    plans = {}
    for split, tsv in zip(splits, tsvs):
        rows, malformed = read_cv_tsv(tsv)
        plans[split] = _plan_split(
            split, rows, clips_dir, normalizer, sample_rate, prep_folder / "wav16k", audio_format
        )
        plans[split]["rows_read"] = len(rows) + len(malformed)
        if malformed:
            plans[split]["skipped"]["malformed_row"] += len(malformed)
        plans[split]["malformed_lines"] = malformed[:50]
    jobs = [job for split in splits for job in plans[split]["jobs"]]
    for stale in (prep_folder / "wav16k").glob(".*.part"):
        stale.unlink()  # left by a killed conversion
    _check_free_space(prep_folder, [src for src, dst, _ in jobs if not os.path.exists(dst)], audio_format)
    return plans, convert_clips(jobs, num_workers or os.cpu_count() or 1)


def _plan_split(split, rows, clips_dir, normalizer, sample_rate, audio_folder, audio_format):
    """Normalise text and list the clips to convert for one split."""
    skipped, examples = Counter(), defaultdict(list)
    digits, foreign, folded = Counter(), Counter(), Counter()
    seen, planned, jobs = set(), [], []
    # Dev/test references keep out-of-alphabet characters: scoring stays honest.
    policy = None if split == "train" else "keep"

    def skip(reason, row):
        skipped[reason] += 1
        if len(examples[reason]) < MAX_SKIP_EXAMPLES:
            examples[reason].append({"line": row["line"], "path": row.get("path", "")})

    for row in rows:
        clip = safe_clip_path(clips_dir, row["path"].strip())
        if clip is None:
            skip("unsafe_path", row)
            continue
        if clip in seen:
            skip("duplicate_clip", row)
            continue
        seen.add(clip)
        result = normalizer(row["sentence"], out_of_alphabet=policy)
        digits.update(result.digits)
        foreign.update(result.foreign)
        folded.update(result.folded)
        reason = normalizer.reject_reason(result) if split == "train" else (None if result.text else "empty_text")
        if reason:
            skip(reason, row)
            continue
        if not clip.is_file() and not clip.suffix and clip.with_name(clip.name + ".mp3").is_file():
            clip = clip.with_name(clip.name + ".mp3")  # early releases list paths without ".mp3"
        if not clip.is_file():
            skip("missing_clip", row)
            continue
        dst = audio_folder / f"{clip.stem}.{audio_format}"
        jobs.append((str(clip), str(dst), sample_rate))
        planned.append((row, str(clip), dst, result.text))
    return {
        "jobs": jobs,
        "planned": planned,
        "skipped": skipped,
        "examples": examples,
        "digits": digits,
        "foreign": foreign,
        "folded": folded,
    }


def _finish_split(split, plan, converted, sample_rate, max_duration, min_duration):
    """Turn conversion results into manifest entries, counting what is skipped."""
    skipped, examples = plan["skipped"], plan["examples"]
    entries = []

    def skip(reason, row, **details):
        skipped[reason] += 1
        if len(examples[reason]) < MAX_SKIP_EXAMPLES:
            examples[reason].append({"line": row["line"], "path": row["path"], **details})

    resynced = []
    for row, src, dst, text in plan["planned"]:
        frames, error, damaged = converted[src]
        if damaged:
            resynced.append(row["path"])
        if frames is None:
            skip(error.split(":")[0], row, error=error)
            continue
        duration = frames / sample_rate
        if split == "train":
            seconds = round(duration, 3)
            if duration > max_duration:
                skip("too_long", row, duration=seconds, max_duration=max_duration)
                continue
            if duration < min_duration:
                skip("too_short", row, duration=seconds, min_duration=min_duration)
                continue
            if duration * FRAMES_PER_SECOND < len(text):
                frames = int(duration * FRAMES_PER_SECOND)
                skip("too_short_for_transcript", row, duration=seconds, encoder_frames=frames, characters=len(text))
                continue
        entries.append(
            {
                "ID": Path(src).stem,
                "duration": round(duration, 4),
                "wav": "$data_root/wav16k/" + Path(dst).name,
                "spk_id": row.get("client_id", "") or "unknown",
                "wrd": text,
            }
        )
    return entries, skipped, resynced


def _write_manifest(path, entries):
    """Write a SpeechBrain CSV manifest atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            writer.writerows(entries)


# A share of the training rows skipped for one reason above which the log
# warns: a letter missing from the alphabet or a typing habit the text rules
# do not know costs a language more than this, and should show on the first run.
SKIP_WARNING_SHARE = 0.02
# The report's counts of the characters behind each text skip reason.
SKIP_REASON_CHARACTERS = {"digits": "digits", "out_of_alphabet": "out_of_alphabet_characters"}


def _describe_characters(counts, n=10):
    """The `n` most frequent characters of a report count, with code point and name (marks are invisible)."""
    return ", ".join(
        f"{ch!r} U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')} ({count})"
        for ch, count in sorted(counts.items(), key=lambda item: -item[1])[:n]
    )


def _log_report(report):
    """Log rows kept and skipped per split; warn about each training skip
    reason above SKIP_WARNING_SHARE of the rows, with the characters behind it."""
    for split, stats in report["splits"].items():
        logger.info(
            "%s: %d of %d rows kept (%.2f h); skipped: %s",
            split,
            stats["kept"],
            stats["rows_read"],
            stats["hours"],
            stats["skipped"] or "none",
        )
        if stats.get("folded_letters"):
            logger.info(
                "%s: letters written as their base letter: %s", split, _describe_characters(stats["folded_letters"])
            )
        if stats.get("sentences_also_in_train"):
            example = stats["sentence_also_in_train_example"]
            logger.warning(
                "%s: %d of %d utterances have a sentence that is also in train (e.g. %s: %r): "
                "their scores measure recall of seen text as well as recognition",
                split,
                stats["sentences_also_in_train"],
                stats["kept"],
                example["ID"],
                example["sentence"],
            )
    damaged = report.get("damaged_mp3_clips_converted_in_this_run", 0)
    if damaged:
        logger.info(
            "%d of the clips converted in this run have damaged MP3 frames, which the decoder skipped (mpg123's "
            "'Trying to resync' notes, not shown); the rest of each clip is kept. Examples: "
            "damaged_mp3_clip_examples in %s",
            damaged,
            REPORT_FILE,
        )
    train = report["splits"].get("train")
    if not train or not train["rows_read"]:
        return
    for reason, count in train["skipped"].items():
        share = count / train["rows_read"]
        if share <= SKIP_WARNING_SHARE:
            continue
        characters = train.get(SKIP_REASON_CHARACTERS.get(reason), {})
        logger.warning(
            "train: %d of %d rows (%.1f%%, above %.0f%%) skipped for %s%s",
            count,
            train["rows_read"],
            100 * share,
            100 * SKIP_WARNING_SHARE,
            reason,
            f"; most frequent characters: {_describe_characters(characters)}" if characters else "",
        )
