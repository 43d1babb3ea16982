"""results.json: the machine-readable record of one finished run.

Schema (version 1), one JSON object:
  schema_version    1
  status            "finished" (a file is only written once the test is scored)
  run               {language, encoder, encoder_source, encoder_family,
                     random_init, seed, output_folder, finished_at (UTC ISO),
                     device ("cpu", "cuda:0", ...: where rank 0 trained)}
  metrics           {primary: "WER"|"CER", wer_meaningful: bool,
                     test: {WER, CER, loss, n_utterances},
                     dev_best: {WER, CER, epoch}}   (error rates in percent)
  data              {release_folder, splits: {train|dev|test: {utterances,
                     hours, speakers, skipped}}}   (from prep_report.json)
  training          {epochs, optimizer_steps, world_size (DDP processes), wall_seconds,
                     skipped_nonfinite_batches, skipped_oom_batches,
                     dev_history: [{epoch, loss, WER, CER, ...}] of every epoch,
                     across resumed attempts}
  parameters        {encoder_total, encoder_trainable, head, vocabulary_size}
  versions          {python, torch, torchaudio, speechbrain, transformers, crossling_asr}
  hparams           every resolved hparam with a plain value (numbers, strings,
                    lists, mappings); objects are left out
  overrides         the language file's keys and command-line overrides applied
The grid runner and the analysis read these files: change the schema only
with a new schema_version.
"""

import datetime
import platform

from crossling_asr import __version__
from crossling_asr.atomic import write_json

SCHEMA_VERSION = 1


def library_versions():
    """Versions of the libraries a result depends on."""
    import speechbrain
    import torch
    import torchaudio
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "speechbrain": speechbrain.__version__,
        "transformers": transformers.__version__,
        "crossling_asr": __version__,
    }


def plain_hparams(hparams):
    """The hparams whose values are plain data (JSON-serialisable)."""

    def plain(value):
        if isinstance(value, (str, int, float, bool)) or value is None:
            return True
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return False

    return {k: v for k, v in hparams.items() if not k.startswith("__") and plain(v)}


def build_results(hparams, overrides, brain, prep_report, parameters, best_meta, training):
    """The results.json object of a finished run (`best_meta`: the best checkpoint's meta,
    `training`: CTCBrain.training_summary() taken when training ended)."""
    spec = hparams["encoder_spec"]
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "finished",
        "run": {
            "language": hparams["language"],
            "encoder": hparams["encoder"],
            "encoder_source": spec["source"],
            "encoder_family": spec.get("family"),
            "random_init": spec.get("random_init", False),
            "seed": hparams["seed"],
            "output_folder": str(hparams["output_folder"]),
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": str(brain.device),
        },
        "metrics": {
            "primary": hparams["primary_metric"],
            "wer_meaningful": bool(hparams["text"]["word_delimiter"]),
            "test": brain.test_stats,
            "dev_best": {k: best_meta.get(k) for k in ("WER", "CER", "epoch")},
        },
        "data": {
            "release_folder": prep_report.get("data_folder"),
            "splits": {
                split: {
                    "utterances": stats["kept"],
                    "hours": stats["hours"],
                    "speakers": stats["speakers"],
                    "skipped": stats["skipped"],
                }
                for split, stats in prep_report["splits"].items()
            },
        },
        "training": training,
        "parameters": parameters,
        "versions": library_versions(),
        "hparams": plain_hparams(hparams),
        "overrides": overrides,
    }


def write_results(path, results):
    """Write results.json atomically (a reader never sees half a file)."""
    write_json(path, results)
