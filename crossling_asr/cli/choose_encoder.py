"""Which encoder for my language? Probe every candidate on a Common Voice folder and answer, with
intervals, flags and cost.

    local/choose_encoder.py --lang vi --data-folder /data/cv/vi --results-root results
        [--encoders NAME ...] [--encoder-source NAME=SOURCE ...] [--seeds 1 ...]
        [--epochs N] [--train-hours H] [--probe-head bilstm|linear] [--feature-cache auto|none|run|language]
        [--confirm-top K [--confirm-epochs E]] [--cpu-tiny] [--gpus-per-run N]
        [--executor local|slurm ...] [--answer-only] [-- recipe overrides]

1. Probes (hparams/protocols/probe.yaml: the encoder frozen, a learned weighted sum of its
   layers, a small CTC head) of every candidate (default: the 16 encoders of
   hparams/encoders.yaml) x seed, run by the grid's executors: the language is prepared once
   under the results root, finished probes are never redone, and a killed command resumes
   where it stopped when run again. The feature cache is used when it pays (auto: more than
   one epoch or seed).
2. Optionally (--confirm-top K, default 0: off) successive halving: the K best probes are
   fine-tuned for --confirm-epochs epochs (default 1), then the best of them with the study's
   settings; each stage is ranked and costed.
3. The answer, in <results root>/choose/<lang>/: choice.md (printed), choice.png and
   choice.json: each encoder's error (the language's primary metric) with a 95% paired-
   bootstrap interval over test utterances (and seeds), the group that cannot be told apart
   from the best, one sentence (a recommendation, or "no clear winner among ..."), degenerate
   runs flagged and never recommended, what the probe ranking is worth (its agreement with
   fine-tuning on the results root's other languages) and what it cost against fine-tuning
   every candidate.

With --executor slurm the runs are submitted and the command returns; run it again once they
have finished (or with --answer-only at any time) to get the answer. Exit status: 0 when an
answer was written (whatever it says), 1 when runs failed, 130 when interrupted.
"""

import argparse
import sys
from pathlib import Path

from crossling_asr.cli import positive_float, positive_int
from crossling_asr.cli.grid import executor_arguments, executor_settings, key_value
from crossling_asr.grid.choose import (
    FEATURE_CACHE_CHOICES,
    PROBE_PROTOCOL,
    ChooseSettings,
    fine_tuning_estimate,
    finished_runs,
    full_stage,
    label,
    probe_stage,
    short_stage,
    spent_hours,
)
from crossling_asr.grid.cost import CostAssumptions, assumptions_line, epochs_from_overrides
from crossling_asr.grid.launch import launch
from crossling_asr.grid.runs import GridError, check_selection, format_status, grid_status
from crossling_asr.run_layout import STUDY_PROTOCOL


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[executor_arguments()]
    )
    parser.add_argument("--lang", required=True, help="Common Voice code of a language with a recipe")
    parser.add_argument("--data-folder", required=True, type=Path, help="its Common Voice folder (clips/, *.tsv)")
    parser.add_argument("--results-root", required=True, type=Path, help="where the runs and the answer go")
    parser.add_argument("--encoders", nargs="+", help="candidate registry names (default: all 16)")
    parser.add_argument(
        "--encoder-source",
        type=key_value,
        action="append",
        default=[],
        metavar="NAME=SOURCE",
        help="hub id or local directory replacing a candidate's weights (repeatable)",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[1], help="probe seeds (default: 1)")
    parser.add_argument("--epochs", type=positive_int, help="probe epochs (default: the study's number_of_epochs)")
    parser.add_argument("--train-hours", type=positive_float, help="training audio per probe (default: all)")
    parser.add_argument(
        "--probe-head",
        choices=("bilstm", "linear"),
        help="probe head (default: the probe protocol's, bilstm; linear with --cpu-tiny)",
    )
    parser.add_argument(
        "--feature-cache",
        choices=FEATURE_CACHE_CHOICES,
        default="auto",
        help="probe_feature_cache of the probes; auto (default): language when an utterance's features "
        "are used more than once (several epochs or seeds), else none",
    )
    parser.add_argument(
        "--confirm-top",
        type=int,
        default=0,
        metavar="K",
        help="successive halving: fine-tune the K best probes briefly, then the best fully (default 0: off)",
    )
    parser.add_argument("--confirm-epochs", type=positive_int, default=1, help="epochs of the brief fine-tunes")
    parser.add_argument("--cpu-tiny", action="store_true", help="hparams/cpu_tiny.yaml (tiny encoders on a CPU)")
    parser.add_argument(
        "--gpus-per-run", type=int, default=1, help="GPUs per run; 0: CPU (default 1; >1: DDP through torchrun)"
    )
    parser.add_argument("--bootstrap", type=positive_int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument(
        "--answer-only", action="store_true", help="launch nothing: answer from the runs finished so far"
    )
    return parser


def settings_from(args, overrides):
    return ChooseSettings(
        language=args.lang,
        data_folder=str(args.data_folder),
        results_root=str(args.results_root),
        encoders=args.encoders,
        encoder_sources=dict(args.encoder_source),
        seeds=args.seeds,
        epochs=args.epochs,
        train_hours=args.train_hours,
        probe_head=args.probe_head,
        feature_cache=args.feature_cache,
        cpu_tiny=args.cpu_tiny,
        gpus_per_run=args.gpus_per_run,
        extra_overrides=overrides,
        confirm_top=args.confirm_top,
        confirm_epochs=args.confirm_epochs,
    )


class Stages:
    """Launches each stage's runs (unless answering only) and ranks the finished ones."""

    def __init__(self, args):
        self.args = args
        self.executor = executor_settings(args)
        self.failed = False
        self.interrupted = False
        self.waiting = []  # stages submitted to SLURM and not finished

    def run(self, name, job, runs):
        """(finished [(run, folder, results)], unfinished RunStatus) of a stage after launching it."""
        if not self.args.answer_only:
            running = [s for s in grid_status(runs, job.results_root, job.stale_after) if s.state == "running"]
            if running and self.executor.executor == "slurm":
                print(f"{name}: {len(running)} runs are running; not submitting again", flush=True)
            else:
                print(f"== {name}: {len(runs)} runs", flush=True)
                done = launch(
                    job, runs, self.executor, CostAssumptions(epochs=epochs_from_overrides(job.recipe_overrides))
                )
                self.failed |= bool(done.failed)
                self.interrupted |= done.interrupted
        finished, unfinished = finished_runs(job, runs)
        if unfinished:
            self.waiting.append(name)
            print(format_status(grid_status(runs, job.results_root, job.stale_after)), flush=True)
        return finished, unfinished


def rank(finished, unfinished, n_resamples):
    """The analysis.choice.Choice of a stage's finished runs (each labelled by its encoder and source);
    while some of its runs are unfinished, the answer is provisional and recommends nothing."""
    from crossling_asr.analysis.choice import (
        load_run,
        rank_encoders,  # imports speechbrain
    )

    if not finished:
        choice = rank_encoders([], "error")
    else:
        metric = finished[0][2]["metrics"]["primary"]
        scores = [load_run(label(run), run.seed, folder, results, metric) for run, folder, results in finished]
        choice = rank_encoders(scores, metric, n_resamples=n_resamples)
    if unfinished:
        total = len(finished) + len(unfinished)
        choice.recommendation = (
            f"Provisional, {len(unfinished)} of {total} runs not finished (nothing is recommended until every "
            f"candidate is in): {choice.recommendation}"
        )
        choice.recommended = None
    return choice


def answer(args, overrides):
    from crossling_asr.analysis import choice_answer  # imports matplotlib and pandas

    settings = settings_from(args, overrides)
    check_selection([settings.language], settings.encoders)
    stages = Stages(args)
    job, runs = probe_stage(settings)
    job.check_data_folder(settings.language)  # fail now, not inside a worker
    finished, unfinished = stages.run("probe", job, runs)
    choice = rank(finished, unfinished, args.bootstrap)
    all_finished = list(finished)
    records = [choice_answer.stage_record("probe", PROBE_PROTOCOL, choice, unfinished)]
    markdown = [choice_answer.stage_markdown("Probes", choice, unfinished)]
    folder = settings.answer_folder
    figures = []
    if not choice.ranking.empty:
        png = choice_answer.choice_figure(choice, folder / "choice", f"{settings.language}: probes")
        figures.append((png, "Probe error per candidate, with 95% intervals"))
    final = choice
    if settings.confirm_top > 0 and not choice.all_degenerate and not choice.ranking.empty:
        eligible = choice.ranking[~choice.ranking["degenerate"]]
        by_label = {label(run): run.encoder for run, _, _ in finished}
        top = [by_label[name] for name in eligible["encoder"].head(settings.confirm_top)]
        job, runs = short_stage(settings, top)
        short, unfinished = stages.run("short fine-tune", job, runs)
        short_choice = rank(short, unfinished, args.bootstrap)
        all_finished += short
        records.append(choice_answer.stage_record("short fine-tune", STUDY_PROTOCOL, short_choice, unfinished))
        markdown.append(
            choice_answer.stage_markdown(
                f"Short fine-tunes of the {len(top)} best probes ({settings.confirm_epochs} epoch(s))",
                short_choice,
                unfinished,
            )
        )
        final = short_choice
        best = short_choice.recommended or (short_choice.best_group[0] if short_choice.best_group else None)
        if best is not None and not unfinished:
            by_label = {label(run): run.encoder for run, _, _ in short}
            job, runs = full_stage(settings, by_label[best])
            full, unfinished = stages.run("fine-tune", job, runs)
            full_choice = rank(full, unfinished, args.bootstrap)
            all_finished += full
            records.append(choice_answer.stage_record("fine-tune", STUDY_PROTOCOL, full_choice, unfinished))
            final = full_choice
            markdown.append(choice_answer.stage_markdown(f"Fine-tune of {best}", full_choice, unfinished))
    if stages.waiting:
        print(
            f"Not finished yet: {', '.join(stages.waiting)}. The answer below covers the finished runs; "
            "run this command again (it redoes nothing finished) to complete it.",
            flush=True,
        )
    cost = {"spent_hours": spent_hours(all_finished), "fine_tuning_estimate_gpu_hours": None, "ratio": None}
    try:
        estimate, assumptions = fine_tuning_estimate(settings)
        cost.update(fine_tuning_estimate_gpu_hours=estimate, assumptions=assumptions_line(assumptions))
        devices = set(cost["spent_hours"])
        if devices == {"cuda"} and not settings.encoder_sources:
            cost["ratio"] = cost["spent_hours"]["cuda"] / estimate
    except GridError as err:
        cost["assumptions"] = f"no estimate: {err}"
    result = {
        "choice_version": choice_answer.CHOICE_VERSION,
        "language": settings.language,
        "metric": choice.metric,
        "level": choice.level,
        "recommendation": (
            choice.recommendation
            if final is choice
            else f"{final.recommendation} (the last stage's; probes: {choice.recommendation})"
        ),
        "recommended": final.recommended,
        "complete": not stages.waiting,
        "best_group": list(final.best_group),
        "all_degenerate": choice.all_degenerate,
        "cautions": list(choice.cautions),
        "stages": records,
        "validation": choice_answer.probe_validation(settings.results_root, settings.language, args.bootstrap),
        "cost": cost,
    }
    text = choice_answer.write_answer(folder, result, markdown, figures)
    print(text)
    print(f"Answer written to {folder}/choice.md, choice.json" + (", choice.png" if figures else ""))
    if stages.interrupted:
        return 130
    return 1 if stages.failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = build_parser().parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        return answer(args, overrides)
    except GridError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    sys.exit(main())
