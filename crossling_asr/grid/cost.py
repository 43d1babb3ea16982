"""GPU-hours a grid will take, from the encoders' sizes and the corpora's hours.

Model (every number is a parameter, printed with the estimate):
- training processes `audio_hours_per_gpu_hour` hours of audio per GPU-hour
  for an encoder of `reference_params_millions` parameters, and
  proportionally fewer for a larger one (compute per frame grows with the
  parameters; all 16 encoders here are ~315M, so they cost about the same);
- each epoch trains once on train and decodes dev once, and the test set is
  decoded once; decoding costs `eval_cost_ratio` of training per audio hour
  (a forward pass without backward);
- each run adds `overhead_gpu_hours` (loading the model, checkpoints);
- evaluating a released checkpoint (a Run with a `checkpoint`) decodes dev and
  test once: eval_cost_ratio x (dev + test) hours at the same throughput, plus
  the same overhead (fetching and loading it). `released cost` sets that
  beside what training the same runs would cost.

Default throughput: 60 h of audio per GPU-hour for a 317M-parameter encoder.
It is an assumption, not a measurement: it is what reports of fine-tuning
wav2vec2-large / XLSR on Common Voice on one A100-class GPU in fp32/TF32 with
batches of ~8 utterances suggest (one epoch of ~300 h of Spanish taking
several hours); mixed precision, larger batches or an H100 run faster.
`cost` prints the throughput measured on the finished runs under the results
root (results.json training.wall_seconds) so the default can be replaced by
a real figure once a few real runs have finished; runs on CPU or on another
encoder than the registry's (tiny test encoders) are left out of it.

Corpus hours come from each language's prep_report.json when it is prepared
(the hours actually kept), else from a table given with --hours-per-lang
(YAML: `de: {train: 500, dev: 27, test: 27}`, or `de: 500` for training hours
alone). No built-in Common Voice 7.0 table is shipped: the per-split hours of
that release could not be checked offline, and a wrong table would silently
skew every estimate.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import ruamel.yaml
import yaml

from crossling_asr.data.common_voice import REPORT_FILE
from crossling_asr.grid.runs import GridError, read_json
from crossling_asr.hparams import REPO_ROOT
from crossling_asr.registry import load_registry

SPLITS = ("train", "dev", "test")


def study_epochs():
    """number_of_epochs of the shared experiment file (hparams/ctc_study.yaml)."""
    tree = ruamel.yaml.YAML(typ="rt").load((REPO_ROOT / "hparams" / "ctc_study.yaml").read_text(encoding="utf-8"))
    return int(tree["number_of_epochs"])


def epochs_from_overrides(recipe_overrides):
    """The epochs a run trains for: --number_of_epochs=N among the overrides, else the study's."""
    for arg in recipe_overrides:
        if arg.startswith("--number_of_epochs="):
            return int(arg.split("=", 1)[1])
    return study_epochs()


@dataclass
class CostAssumptions:
    """The parameters of the cost model (see the module docstring)."""

    epochs: int
    audio_hours_per_gpu_hour: float = 60.0
    reference_params_millions: float = 317.4
    eval_cost_ratio: float = 1 / 3
    overhead_gpu_hours: float = 0.1

    def throughput(self, params_millions):
        """Hours of audio trained on per GPU-hour by an encoder of `params_millions`."""
        return self.audio_hours_per_gpu_hour * self.reference_params_millions / params_millions

    def run_gpu_hours(self, params_millions, hours):
        """GPU-hours of one run of an encoder of `params_millions` on splits of `hours` {split: h}."""
        processed = self.epochs * hours["train"] + self.eval_cost_ratio * (self.epochs * hours["dev"] + hours["test"])
        return processed / self.throughput(params_millions) + self.overhead_gpu_hours

    def evaluation_gpu_hours(self, params_millions, hours):
        """GPU-hours of evaluating one fine-tuned checkpoint on dev and test."""
        processed = self.eval_cost_ratio * (hours["dev"] + hours["test"])
        return processed / self.throughput(params_millions) + self.overhead_gpu_hours


def load_hours_table(path):
    """{language: {train, dev, test}} from a YAML file (a bare number is training hours)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    table = {}
    for language, value in data.items():
        if isinstance(value, (int, float)):
            value = {"train": value}
        if not isinstance(value, dict) or "train" not in value:
            raise GridError(f"{path}: {language} needs training hours (a number or {{train: h, dev: h, test: h}})")
        table[str(language)] = {split: float(value.get(split, 0.0)) for split in SPLITS}
    return table


def corpus_hours(language, results_root, hours_table):
    """({split: hours}, where they come from) for a language; GridError if unknown."""
    report = read_json(Path(results_root) / "prepared" / language / REPORT_FILE)
    if report and "splits" in report:
        return {split: float(report["splits"][split]["hours"]) for split in SPLITS}, "prep_report.json"
    if language in (hours_table or {}):
        return hours_table[language], "--hours-per-lang"
    raise GridError(
        f"No corpus hours for {language}: it is not prepared under {results_root} and --hours-per-lang does not list it"
    )


def estimate(runs, results_root, assumptions, hours_table=None):
    """One row per run: its encoder size, corpus hours and estimated GPU-hours (of training it,
    or of evaluating it for a run of a released checkpoint)."""
    registry = load_registry()
    rows = []
    for run in runs:
        hours, source = corpus_hours(run.language, results_root, hours_table)
        params = float(registry[run.encoder]["params_millions"])
        cost = assumptions.evaluation_gpu_hours if run.checkpoint else assumptions.run_gpu_hours
        rows.append(
            {
                **run.to_dict(),
                "params_millions": params,
                **{f"{split}_hours": hours[split] for split in SPLITS},
                "hours_from": source,
                "gpu_hours": cost(params, hours),
            }
        )
    return pd.DataFrame(rows)


@dataclass
class MeasuredThroughput:
    """Throughput measured on finished runs, and the finished runs that do not measure it, by reason."""

    audio_hours_per_gpu_hour: float = None  # scaled to the reference size; None: no run measures it
    runs: int = 0
    left_out: dict = field(default_factory=dict)


def not_a_study_measurement(results, registry):
    """Why a finished run's time says nothing about the study's throughput, or None when it does.

    Only a run of the registry's own encoder on a GPU measures it: a replaced
    encoder_source (a tiny test encoder, another checkpoint) or a CPU run does not.
    """
    run = results.get("run", {})
    entry = registry.get(run.get("encoder"))
    if entry is None:
        return "encoder not in hparams/encoders.yaml"
    if run.get("encoder_source") != entry["source"]:
        return "encoder_source replaced"
    device = run.get("device")
    if device is None:
        return "device not recorded"
    if not str(device).startswith("cuda"):
        return f"ran on {device}"
    return None


def measured_throughput(results_root, assumptions):
    """The MeasuredThroughput of the finished runs under `results_root` (their results.json).

    A run's GPU time is its wall-clock time in fit() (results.json
    training.wall_seconds) times its DDP processes; in that time it trained
    `epochs` times on train and decoded dev as often, which the cost model
    counts as epochs x (train + eval_cost_ratio x dev) hours of audio. The
    throughput is scaled to `reference_params_millions` like the model's.
    """
    registry = load_registry()
    measured = MeasuredThroughput()
    audio = gpu_hours = 0.0
    for path in Path(results_root).glob("*/*/seed_*/results.json"):
        results = read_json(path) or {}
        training = results.get("training", {})
        seconds = training.get("wall_seconds")
        if results.get("status") != "finished" or not seconds:
            continue
        reason = not_a_study_measurement(results, registry)
        if reason:
            measured.left_out[reason] = measured.left_out.get(reason, 0) + 1
            continue
        splits = results["data"]["splits"]
        hours = splits["train"]["hours"] + assumptions.eval_cost_ratio * splits["dev"]["hours"]
        params = results["parameters"]["encoder_total"] / 1e6
        audio += training["epochs"] * hours * params / assumptions.reference_params_millions
        gpu_hours += seconds / 3600 * training.get("world_size", 1)
        measured.runs += 1
    if audio > 0:
        measured.audio_hours_per_gpu_hour = audio / gpu_hours
    return measured


def assumptions_line(assumptions):
    """The cost model's parameters on one line."""
    return "Assumptions: " + json.dumps(
        {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(assumptions).items()}
    )


def hours_sources_line(table):
    """Where each language's corpus hours came from, on one line."""
    sources = ", ".join(f"{lang}: {src}" for lang, src in table.groupby("language")["hours_from"].first().items())
    return f"Corpus hours from: {sources}"


def format_estimate(table, assumptions, measured=None):
    """The estimate as text: assumptions, totals per language and per encoder, grand total."""
    lines = [assumptions_line(assumptions)]
    if measured and measured.audio_hours_per_gpu_hour:
        lines.append(
            f"Measured on {measured.runs} finished GPU run(s) under this results root: "
            f"{measured.audio_hours_per_gpu_hour:.1f} audio-hours per GPU-hour (scaled to "
            f"{assumptions.reference_params_millions}M parameters); pass it as "
            "--audio-hours-per-gpu-hour if those runs are representative"
        )
    if measured and measured.left_out:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(measured.left_out.items()))
        lines.append(f"Finished runs that do not measure the study's throughput: {reasons}")
    lines.append(hours_sources_line(table))
    for key in ("language", "encoder"):
        grouped = table.groupby(key).agg(runs=("gpu_hours", "size"), gpu_hours=("gpu_hours", "sum"))
        lines.append(f"\nGPU-hours per {key}:")
        lines += [f"  {row.Index:<40} {row.runs:>4} runs {row.gpu_hours:>10.1f}" for row in grouped.itertuples()]
    lines.append(f"\nTotal: {len(table)} runs, {table['gpu_hours'].sum():.1f} GPU-hours")
    return "\n".join(lines)


def format_released_estimate(evaluation, training, assumptions):
    """Evaluating released checkpoints (`evaluation`, an estimate of their runs) beside training
    the same (language, encoder, seed) runs (`training`), per language and encoder, and in total."""
    lines = [
        assumptions_line(assumptions),
        "Evaluate: eval_cost_ratio x (dev + test hours) / throughput + overhead per checkpoint; retrain: "
        "(epochs x train hours + eval_cost_ratio x (epochs x dev hours + test hours)) / throughput + overhead "
        "per run; throughput = audio_hours_per_gpu_hour x reference_params_millions / the encoder's params_millions",
        hours_sources_line(evaluation),
    ]
    both = evaluation.assign(retrain_gpu_hours=training["gpu_hours"].to_numpy())
    for key in ("language", "encoder"):
        grouped = both.groupby(key).agg(
            checkpoints=("gpu_hours", "size"), evaluate=("gpu_hours", "sum"), retrain=("retrain_gpu_hours", "sum")
        )
        lines += [f"\nGPU-hours per {key}:", f"  {'':<40} {'checkpoints':>11} {'evaluate':>10} {'retrain':>10}"]
        lines += [
            f"  {row.Index:<40} {row.checkpoints:>11} {row.evaluate:>10.2f} {row.retrain:>10.1f}"
            for row in grouped.itertuples()
        ]
    evaluate, retrain = evaluation["gpu_hours"].sum(), training["gpu_hours"].sum()
    share = f" (evaluating costs {evaluate / retrain:.2%} of retraining)" if retrain > 0 else ""
    lines.append(
        f"\nTotal: {len(evaluation)} checkpoints: evaluate {evaluate:.2f} GPU-hours; retrain the same "
        f"{len(training)} runs ({assumptions.epochs} epochs) {retrain:.1f} GPU-hours{share}"
    )
    return "\n".join(lines)
