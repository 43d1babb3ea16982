"""results.json: the machine-readable record of one finished run.

Schema (version 1), one JSON object:
  schema_version    1
  status            "finished" (a file is only written once the test is scored)
  run               {language, encoder, encoder_source, encoder_family,
                     random_init, seed, output_folder, finished_at (UTC ISO),
                     device ("cpu", "cuda:0", ...: where rank 0 trained),
                     protocol ("study", "tuned", "stock", "probe": hparams/protocols/)}
  metrics           {primary: "WER"|"CER", wer_meaningful: bool,
                     test: {WER, CER, loss, n_utterances},
                     dev_best: {WER, CER, epoch} (the epoch of lowest dev CER),
                     dev_selected: {WER, CER, epoch, selection} (the checkpoint tested:
                     selection "last" or "best_dev_cer", hparams model_selection)}
                    (error rates in percent)
  data              {release_folder, splits: {train|dev|test: {utterances,
                     hours, speakers, skipped}}   (from prep_report.json: the prepared manifests),
                     train_used: {utterances, hours, budget_hours}   (what training read:
                     the seeded train_hours subset, budget_hours null for the whole manifest)}
  training          {epochs, optimizer_steps, world_size (DDP processes), wall_seconds,
                     skipped_nonfinite_batches, skipped_oom_batches,
                     dev_history: [{epoch, loss, WER, CER, ...}] of every epoch,
                     across resumed attempts}
  layers            {aggregation: "last"|"weighted", encoder_frozen: bool,
                     num_hidden_states, weights: the learned softmax weight of hidden
                     state i at index i (0: feature projection, i: transformer layer i;
                     best checkpoint), null for `last`}
  cost              {encoder_forward_seconds: {train, dev, test} (seconds in the encoder's
                     forward passes on rank 0, across resumed attempts; none where features
                     were read from the cache), feature_cache: null or {mode, folder,
                     key_digest, entries, entries_reused, entries_computed, entries_rebuilt
                     (bad entries found and recomputed), bytes, fill_seconds (this attempt)}}
                    (with run.device and training.wall_seconds: what the run cost)
  parameters        {encoder_total, encoder_trainable, head, layer_weights, vocabulary_size}
  versions          {python, torch, torchaudio, speechbrain, transformers, crossling_asr}
  hparams           every resolved hparam with a plain value (numbers, strings,
                    lists, mappings); objects are left out
  overrides         the language file's keys and command-line overrides applied
The grid runner and the analysis read these files: change the schema only
with a new schema_version. Fields added within version 1 (run.protocol,
data.train_used, layers, cost, parameters.layer_weights, metrics.dev_selected) are absent
from files written before them; in those, dev_best is the checkpoint tested (then always
the best by dev CER). A study run written before the study protocol followed HuggingSound
0.1.6's training loop in full is told apart by study_loop() (its hparams lack some of
HUGGINGSOUND_LOOP_KEYS).

An evaluated checkpoint that was fine-tuned elsewhere (crossling_asr.interop.evaluate_checkpoint:
a released checkpoint of the study, or any other CTC checkpoint) has a results.json of the
same schema, with run.protocol "released" or "external" and these differences:
  run               encoder: the registry entry it fine-tuned; encoder_source and random_init:
                    that entry's; encoder_family: the checkpoint's own encoder class; seed: the
                    released seed (or the one given)
  metrics           {primary, wer_meaningful, test and/or dev: {WER, CER, n_utterances}}
                    (no loss, no dev_best: nothing was selected here)
  data              {release_folder, splits} of the prepared data it was scored on
  checkpoint        {source (as given), hub_id, revision (the commit hash, hub only), released,
                     released_name: {language, model, seed} or null, architecture (*ForCTC),
                     weights_file, card_base_model, card_base_model_from, encoder_mapping
                     (given | card base model [and released name] | released name)}
  vocabulary        the vocabulary against the language (crossling_asr.interop.external_ctc.vocabulary_report:
                     size, blank, word delimiter, case and case mapping, characters kept, mapped,
                     removed and outside the alphabet, alphabet and reference coverage, fits_language)
  decoding          {method, precision, batch_seconds, batch_size, device,
                     hypotheses_changed_by_normalization: {split: count}}
  warnings          what was reported in the log (case mapping, missing characters, ...)
  versions          as above
and no training, layers, cost, parameters, hparams or overrides.
"""

import datetime
import platform

from crossling_asr import __version__
from crossling_asr.atomic import write_json
from crossling_asr.run_layout import STUDY_PROTOCOL

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


def prepared_data(prep_report):
    """{release_folder, splits}: the prepared data a result was scored on (from prep_report.json)."""
    return {
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
    }


def build_results(
    hparams, overrides, brain, prep_report, parameters, selected_meta, training, train_used, feature_cache=None
):
    """The results.json object of a finished run (`selected_meta`: the tested checkpoint's meta,
    `training`: CTCBrain.training_summary() taken when training ended, `train_used`: the
    training set's {utterances, hours}, `feature_cache`: the probe feature cache's stats)."""
    spec = hparams["encoder_spec"]
    layer_weights = brain.layer_weights.as_list() if brain.layer_weights is not None else None
    training = dict(training)
    encoder_seconds = training.pop("encoder_forward_seconds")
    encoder_seconds["test"] = round(brain.run_state.encoder_seconds.get("test", 0.0), 3)
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
            "protocol": hparams["protocol"],
        },
        "metrics": {
            "primary": hparams["primary_metric"],
            "wer_meaningful": bool(hparams["text"]["word_delimiter"]),
            "test": brain.test_stats,
            "dev_best": best_dev_epoch(training["dev_history"]),
            "dev_selected": {
                **{k: selected_meta.get(k) for k in ("WER", "CER", "epoch")},
                "selection": hparams["model_selection"],
            },
        },
        "data": {**prepared_data(prep_report), "train_used": {**train_used, "budget_hours": hparams["train_hours"]}},
        "training": training,
        "layers": {
            "aggregation": hparams["layer_aggregation"],
            "encoder_frozen": bool(brain.encoder_module.freeze),
            "num_hidden_states": brain.encoder_module.num_hidden_states,
            "weights": layer_weights,
        },
        "cost": {"encoder_forward_seconds": encoder_seconds, "feature_cache": feature_cache},
        "parameters": parameters,
        "versions": library_versions(),
        "hparams": plain_hparams(hparams),
        "overrides": overrides,
    }


def best_dev_epoch(dev_history):
    """{WER, CER, epoch} of the epoch with the lowest dev CER (the first of ties); Nones without any."""
    best = min(dev_history, key=lambda entry: entry["CER"], default={})
    return {k: best.get(k) for k in ("WER", "CER", "epoch")}


def tested_dev_scores(results):
    """{WER, CER, epoch, ...} on dev of the checkpoint a run tested: metrics.dev_selected, or in files
    written before it, dev_best (then the checkpoint tested)."""
    metrics = results.get("metrics") or {}
    return metrics.get("dev_selected") or metrics.get("dev_best") or {}


def tested_checkpoint_key(results):
    """The checkpoint meta key the tested checkpoint was chosen by: "CER" (lowest dev CER; every file
    written before dev_selected), or None for the last epoch's (the most recent checkpoint)."""
    return None if tested_dev_scores(results).get("selection") == "last" else "CER"


# Keys of the training loop the study protocol took from HuggingSound 0.1.6 (hparams/ctc_study.yaml).
# A study run's results.json records them all since the protocol matched HuggingSound's loop in full;
# runs of the earlier study settings recorded warmup_ratio and none of them (the tuned protocol's loop),
# runs of a first, partial match recorded all but grad_clipping and head_init_std (SpeechBrain's
# per-optimizer clipping, torch's head initialisation), and runs of a second all but ctc_input_lengths
# (each utterance's own frames, also where the encoder takes no attention mask).
HUGGINGSOUND_LOOP_KEYS = (
    "lr_warmup_steps",
    "lr_decay_steps",
    "final_dropout",
    "group_by_length",
    "model_selection",
    "append_word_delimiter",
    "ctc_zero_infinity",
    "grad_clipping",
    "head_init_std",
    "ctc_input_lengths",
)
PRE_FAITHFUL_MARKER_KEY = "warmup_ratio"  # declared by the study file in every version
FAITHFUL_STUDY = "huggingsound-0.1.6"
PRE_FAITHFUL_STUDY = "pre-faithful"


def study_loop(results):
    """Which training loop a study run's results.json was trained with, from its recorded hparams.

    FAITHFUL_STUDY: HuggingSound 0.1.6's (constant rate, no layerdrop, final dropout, 8-utterance
    length-grouped batches, last checkpoint, targets ending with the delimiter, gradient
    checkpointing, infinite losses not zeroed, one clipping norm over the whole model, the CTC
    layer initialised as transformers does, CTC input frames counted as transformers counts them);
    its hparams hold every HUGGINGSOUND_LOOP_KEYS.
    PRE_FAITHFUL_STUDY: an earlier version of the study settings; its hparams hold warmup_ratio
    but not every one of those keys. None: another protocol's run, or a record without the
    training settings (nothing to tell them by).
    """
    hparams = results.get("hparams") or {}
    protocol = hparams.get("protocol") or (results.get("run") or {}).get("protocol") or STUDY_PROTOCOL
    if protocol != STUDY_PROTOCOL:
        return None
    if all(key in hparams for key in HUGGINGSOUND_LOOP_KEYS):
        return FAITHFUL_STUDY
    if PRE_FAITHFUL_MARKER_KEY in hparams:
        return PRE_FAITHFUL_STUDY
    return None


def write_results(path, results):
    """Write results.json atomically (a reader never sees half a file)."""
    write_json(path, results)


def build_evaluation_results(run, metrics, prep_report, checkpoint, vocabulary, decoding, warnings):
    """The results.json object of an evaluated checkpoint (see the module docstring): `run`
    without finished_at, which is set here."""
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "finished",
        "run": {**run, "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        "metrics": metrics,
        "data": prepared_data(prep_report),
        "checkpoint": checkpoint,
        "vocabulary": vocabulary,
        "decoding": decoding,
        "warnings": list(warnings),
        "versions": library_versions(),
    }
