"""Run the study's grid (languages x encoders x seeds) and follow it.

    local/grid.py status  --results-root R [selection]
    local/grid.py plan    --results-root R [selection] [--data-root D ...] [-- recipe overrides]
    local/grid.py prepare --results-root R --data-root D [selection] [-- recipe overrides]
    local/grid.py run     --results-root R --data-root D [selection] [--executor local|slurm ...]
                          [-- recipe overrides]
    local/grid.py cost    --results-root R [selection] [--hours-per-lang FILE] [-- recipe overrides]

    local/grid.py released status|plan|prepare|run|cost --results-root R [--checkpoints FILE] [selection] ...

Selection: --langs es de ... --encoders xlsr-53 ... --seeds 1 2 3 (default:
every language with a recipe, every encoder of hparams/encoders.yaml, seeds
1 2 3). Everything after `--` is passed to every run's recipe
(e.g. -- --number_of_epochs=1 --precision=bf16).

`released` does the same for the study's released checkpoints
(jonatasgrosman/exp_w2v2t_<lang>_<model>_s<seed>): each is evaluated on its
language's prepared dev and test (local/evaluate_checkpoint.py) into
R/<lang>/<encoder>.released/seed_<seed>/, by the same executors; --seeds are
released seeds; the checkpoints are those of --checkpoints FILE (one hub id or
local folder per line), else those the hub lists for the release account.

Examples
  # 4 GPUs of this machine, one run per GPU, Spanish and German, all encoders:
  local/grid.py run --results-root results --data-root /data/cv-corpus-7.0-2021-07-21 --langs es de
  # the same grid on a SLURM cluster, A100s of 40 or 80 GB:
  local/grid.py run --executor slurm --gpu-types a100_40g=40,a100_80g=80 --partition gpu \\
      --results-root results --data-root /data/cv-corpus-7.0-2021-07-21 --langs es de
  # a tiny CPU smoke grid on synthetic data (local/demo.py --out /tmp/demo) and a tiny encoder:
  local/tiny_encoders.py /tmp/tiny --families wav2vec2
  local/grid.py run --results-root /tmp/r --data-root /tmp/demo/data --langs es --encoders wav2vec2-large-lv60 \\
      --seeds 1 --encoder-source wav2vec2-large-lv60=/tmp/tiny/wav2vec2 --gpus-per-run 0 --cpu-tiny \\
      -- --number_of_epochs=1
  # every released Spanish and German checkpoint, evaluated on this machine's GPUs, 4 per GPU:
  local/grid.py released run --results-root results --data-root /data/cv-corpus-7.0-2021-07-21 --langs es de \\
      --runs-per-gpu 4
  # what evaluating them costs, next to retraining them:
  local/grid.py released cost --results-root results --checkpoints released.txt
"""

import argparse
import shlex
import sys
from pathlib import Path

from crossling_asr.cli import non_negative_float, non_negative_int, positive_float, positive_int
from crossling_asr.grid.cost import (
    CostAssumptions,
    epochs_from_overrides,
    estimate,
    format_estimate,
    format_released_estimate,
    load_hours_table,
    measured_throughput,
)
from crossling_asr.grid.job import GridJob
from crossling_asr.grid.launch import ExecutorSettings, launch
from crossling_asr.grid.released import LIST_FORMAT, released_grid, retraining_run
from crossling_asr.grid.runs import (
    STALE_AFTER_SECONDS,
    GridError,
    discover_runs,
    format_other_runs,
    format_status,
    grid_status,
    select_grid,
)
from crossling_asr.grid.slurm import SlurmOptions, parse_gpu_types
from crossling_asr.run_layout import STUDY_PROTOCOL
from crossling_asr.training.quick_run import CPU_TINY_OVERRIDES

# The cost model's assumptions as options: (CostAssumptions field, argument type, help).
COST_OPTIONS = (
    ("audio_hours_per_gpu_hour", positive_float, "training throughput at the reference size (default %(default)s)"),
    ("reference_params_millions", positive_float, "default %(default)s"),
    ("eval_cost_ratio", non_negative_float, "cost of decoding an hour relative to training on it (default 1/3)"),
    ("overhead_gpu_hours", non_negative_float, "fixed GPU-hours per run (default %(default)s)"),
)


def key_value(text):
    """NAME=VALUE -> (NAME, VALUE)."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def executor_arguments():
    """The executor options (a parent parser): local GPUs or CPU slots, or SLURM arrays."""
    executors = argparse.ArgumentParser(add_help=False)
    executors.add_argument(
        "--executor",
        choices=("local", "slurm"),
        default="local",
        help="local: a queue over this machine's GPUs (default); slurm: job arrays",
    )
    local = executors.add_argument_group("local executor")
    local.add_argument("--gpus", help="comma-separated GPU ids to use (default: all visible)")
    local.add_argument(
        "--runs-per-gpu",
        type=positive_int,
        default=1,
        help="concurrent runs per GPU group; on a CPU-only machine, concurrent CPU runs",
    )
    slurm = executors.add_argument_group("slurm executor")
    slurm.add_argument("--partition", help="partition of the training (GPU) arrays")
    slurm.add_argument(
        "--prep-partition", help="partition of the CPU-only preparation array (default: the cluster's default)"
    )
    slurm.add_argument("--account")
    slurm.add_argument("--qos")
    slurm.add_argument("--time", help="time limit of every run (default: cost estimate x --time-safety)")
    slurm.add_argument("--time-safety", type=positive_float, default=1.5)
    slurm.add_argument("--cpus-per-task", type=positive_int, default=8)
    slurm.add_argument("--mem", help="host memory per run, e.g. 64G")
    slurm.add_argument(
        "--gpu-types",
        type=parse_gpu_types,
        default={},
        help="gres GPU types and their memory, e.g. a100_40g=40,a100_80g=80",
    )
    slurm.add_argument("--max-parallel", type=positive_int, help="at most this many array tasks at once")
    slurm.add_argument("--prep-cpus", type=positive_int, default=8)
    slurm.add_argument("--prep-time", default="12:00:00")
    slurm.add_argument("--prep-mem")
    slurm.add_argument(
        "--signal-seconds",
        type=positive_int,
        default=300,
        help="USR1 this long before the time limit triggers a checkpointed requeue",
    )
    slurm.add_argument("--sbatch-arg", action="append", default=[], help="extra sbatch option (repeatable)")
    slurm.add_argument("--sbatch", default="sbatch", help="sbatch executable")
    slurm.add_argument(
        "--squeue", default="squeue", help="squeue executable (asked which runs earlier submissions still hold)"
    )
    return executors


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--results-root", required=True, type=Path, help="results_root of the recipes")
    where.add_argument("--langs", nargs="+", help="Common Voice codes (default: every recipe)")
    where.add_argument("--encoders", nargs="+", help="registry names (default: all 16)")
    where.add_argument(
        "--stale-after",
        type=positive_float,
        default=STALE_AFTER_SECONDS,
        help="seconds without heartbeat after which a lock is dead (default %(default)s)",
    )

    selection = argparse.ArgumentParser(add_help=False, parents=[where])
    selection.add_argument("--seeds", nargs="+", type=int, help="default: 1 2 3")
    selection.add_argument(
        "--protocol",
        default=STUDY_PROTOCOL,
        help="recipe protocol of every run: study (default: HuggingSound 0.1.6's loop, as the released "
        "checkpoints) or a file name of hparams/protocols/ (tuned, stock, probe; docs/protocols.md) "
        "(`-- --protocol=NAME` means the same); part of the runs' folders",
    )
    selection.add_argument(
        "--encoder-source",
        type=key_value,
        action="append",
        default=[],
        metavar="NAME=SOURCE",
        help="hub id or local directory replacing an encoder's weights (repeatable); "
        "such runs have their own folders (NAME~<source>)",
    )

    released_selection = argparse.ArgumentParser(add_help=False, parents=[where])
    released_selection.add_argument("--seeds", nargs="+", type=int, help="released seeds (default: all)")
    released_selection.add_argument(
        "--checkpoints",
        type=Path,
        help=f"the released checkpoints, {LIST_FORMAT}; a relative folder is relative "
        "to the file (default: those the hub lists for the release account)",
    )

    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data-root", type=Path, help="folder holding one Common Voice folder per language")
    data.add_argument(
        "--data-folder",
        type=key_value,
        action="append",
        default=[],
        metavar="LANG=PATH",
        help="a language's Common Voice folder, overriding --data-root (repeatable)",
    )

    launch = argparse.ArgumentParser(add_help=False, parents=[data])
    launch.add_argument(
        "--gpus-per-run",
        type=non_negative_int,
        default=1,
        help="GPUs (processes) per run; >1 launches torchrun (DDP); 0: CPU (default 1)",
    )
    launch.add_argument(
        "--cpu-tiny",
        action="store_true",
        help="every run uses the recipe's settings for tiny encoders on CPU "
        f"({' '.join(CPU_TINY_OVERRIDES)}: hparams/cpu_tiny.yaml)",
    )

    evaluation = argparse.ArgumentParser(add_help=False, parents=[data])
    evaluation.add_argument(
        "--gpus-per-run",
        type=int,
        choices=(0, 1),
        default=1,
        help="1: each evaluation on a GPU (default); 0: on the CPU",
    )
    evaluation.add_argument(
        "--precision", choices=("fp32", "bf16"), help="forward pass precision (default: local/evaluate_checkpoint.py's)"
    )
    evaluation.add_argument(
        "--batch-seconds",
        type=positive_float,
        help="padded audio seconds per batch (default: local/evaluate_checkpoint.py's)",
    )
    evaluation.add_argument(
        "--batch-size", type=positive_int, help="utterances per batch at most (default: local/evaluate_checkpoint.py's)"
    )

    hours = argparse.ArgumentParser(add_help=False)
    hours.add_argument(
        "--hours-per-lang", type=Path, help="YAML {lang: {train: h, dev: h, test: h}} for languages not prepared yet"
    )
    for field, kind, text in COST_OPTIONS:
        option = "--" + field.replace("_", "-")
        hours.add_argument(option, type=kind, default=getattr(CostAssumptions, field), help=text)

    executors = executor_arguments()

    status = commands.add_parser("status", parents=[selection], help="done/running/failed/pending counts")
    status.add_argument("-v", "--verbose", action="store_true", help="list finished runs too")
    commands.add_parser("plan", parents=[selection, launch], help="every run, its state and its command")
    commands.add_parser("prepare", parents=[selection, launch], help="prepare the selected languages' data")
    commands.add_parser("cost", parents=[selection, hours], help="GPU-hours estimate")
    commands.add_parser("run", parents=[selection, launch, hours, executors], help="launch the unfinished runs")

    released = commands.add_parser(
        "released",
        help="the study's released checkpoints, evaluated as a grid",
        description="The study's released checkpoints (jonatasgrosman/exp_w2v2t_<lang>_<model>_s<seed>) as a "
        "grid: each is evaluated on its language's prepared dev and test like local/evaluate_checkpoint.py, into "
        "R/<lang>/<encoder>.released/seed_<seed>/, by the executors of `run`.",
    )
    released_commands = released.add_subparsers(dest="released_command", required=True)
    status = released_commands.add_parser(
        "status", parents=[released_selection], help="done/running/failed/pending counts"
    )
    status.add_argument("-v", "--verbose", action="store_true", help="list finished evaluations too")
    released_commands.add_parser(
        "plan", parents=[released_selection, evaluation], help="every checkpoint, its state and its evaluation command"
    )
    released_commands.add_parser(
        "prepare", parents=[released_selection, evaluation], help="prepare the selected languages' data"
    )
    released_commands.add_parser(
        "cost", parents=[released_selection, hours], help="GPU-hours to evaluate them, beside those to retrain them"
    )
    released_commands.add_parser(
        "run",
        parents=[released_selection, evaluation, hours, executors],
        help="evaluate the checkpoints not evaluated yet",
    )
    return parser


def protocol_of(option, overrides):
    """The grid's protocol and the overrides without it: `-- --protocol=NAME` is taken as --protocol NAME."""
    given = [arg.split("=", 1)[1] for arg in overrides if arg.startswith("--protocol=")]
    if given and option not in (STUDY_PROTOCOL, given[-1]):
        raise GridError(f"--protocol {option} and -- --protocol={given[-1]} disagree")
    rest = [arg for arg in overrides if not arg.startswith("--protocol=")]
    return (given[-1] if given else option), rest


def make_job(args, overrides):
    return GridJob(
        results_root=args.results_root,
        data_root=args.data_root,
        data_folders=dict(args.data_folder),
        recipe_overrides=[*(CPU_TINY_OVERRIDES if args.cpu_tiny else []), *overrides],
        gpus_per_run=args.gpus_per_run,
        stale_after=args.stale_after,
        protocol=args.protocol,
    )


def make_released_job(args):
    """The GridJob evaluating released checkpoints: no recipe overrides, the evaluation's options."""
    options = {"--precision": args.precision, "--batch-seconds": args.batch_seconds, "--batch-size": args.batch_size}
    return GridJob(
        results_root=args.results_root,
        data_root=args.data_root,
        data_folders=dict(args.data_folder),
        gpus_per_run=args.gpus_per_run,
        stale_after=args.stale_after,
        evaluation_args=[f"{option}={value}" for option, value in options.items() if value is not None],
    )


def cost_assumptions(args, overrides):
    """The cost model's assumptions: the options' values, the epochs from the recipe overrides."""
    return CostAssumptions(
        epochs=epochs_from_overrides(overrides), **{field: getattr(args, field) for field, _, _ in COST_OPTIONS}
    )


def print_plan(job, statuses):
    """Every run with its state, then the command of each run a launch would start."""
    print(format_status(statuses, verbose=True))
    print("\nCommands of the runs to launch:")
    for status in statuses:
        if status.state in ("pending", "failed"):
            print(shlex.join(job.recipe_command(status.run)))


def prepare_languages(job, runs):
    """Prepare the languages of `runs` once each, as the grid does before launching them."""
    languages = list(dict.fromkeys(run.language for run in runs))
    for language in languages:
        job.check_data_folder(language)
    from crossling_asr.data.common_voice import PreparationInterrupted
    from crossling_asr.data.preparation import PREPARATION_ERRORS  # imports torch
    from crossling_asr.grid.prep import prepare_for_grid

    for language in languages:
        try:
            report = prepare_for_grid(job, language, executor="prepare")
        except PREPARATION_ERRORS as err:
            sys.exit(f"error: preparing {language} failed: {err}")
        except PreparationInterrupted as err:
            print(f"{language}: {err}", file=sys.stderr)
            sys.exit(err.exit_status)
        print(
            f"{language}: "
            + ", ".join(f"{split} {s['kept']} utterances ({s['hours']:.2f} h)" for split, s in report["splits"].items())
        )


def executor_settings(args):
    """The ExecutorSettings of the executor options (add_executor_arguments) of `args`."""
    return ExecutorSettings(
        executor=args.executor,
        gpus=args.gpus.split(",") if args.gpus else None,
        runs_per_gpu=args.runs_per_gpu,
        slurm=SlurmOptions(
            partition=args.partition,
            prep_partition=args.prep_partition,
            account=args.account,
            qos=args.qos,
            time=args.time,
            time_safety=args.time_safety,
            cpus_per_task=args.cpus_per_task,
            mem=args.mem,
            gpu_types=args.gpu_types,
            max_parallel=args.max_parallel,
            prep_cpus=args.prep_cpus,
            prep_time=args.prep_time,
            prep_mem=args.prep_mem,
            signal_seconds=args.signal_seconds,
            sbatch_args=args.sbatch_arg,
        ),
        sbatch=args.sbatch,
        squeue=args.squeue,
    )


def run_grid(args, runs, job, assumptions):
    """Launch the unfinished `runs` with the executor of `args`; the exit status of `run`."""
    for language in dict.fromkeys(run.language for run in runs):
        job.check_data_folder(language)  # fail now, not inside a worker, when a folder is wrong
    hours_table = load_hours_table(args.hours_per_lang) if args.hours_per_lang else None
    done = launch(job, runs, executor_settings(args), assumptions, hours_table)
    if args.executor == "slurm":
        return 0
    print(format_status(grid_status(runs, job.results_root, job.stale_after)))
    if done.interrupted:
        return 130
    return 1 if done.failed else 0


def training_command(args, overrides):
    """status, plan, prepare, cost or run of the training grid."""
    args.protocol, overrides = protocol_of(args.protocol, overrides)
    runs = select_grid(args.langs, args.encoders, args.seeds, args.protocol, dict(args.encoder_source))
    if args.command == "status":
        print(format_status(grid_status(runs, args.results_root, args.stale_after), args.verbose))
        others = other_runs(args, runs)
        if others:
            print(others)
    elif args.command == "plan":
        job = make_job(args, overrides)
        statuses = grid_status(runs, job.results_root, job.stale_after)
        if args.data_root or args.data_folder:
            print_plan(job, statuses)
        else:
            print(format_status(statuses, verbose=True))
    elif args.command == "prepare":
        prepare_languages(make_job(args, overrides), runs)
    elif args.command == "cost":
        assumptions = cost_assumptions(args, overrides)
        hours_table = load_hours_table(args.hours_per_lang) if args.hours_per_lang else None
        table = estimate(runs, args.results_root, assumptions, hours_table)
        measured = measured_throughput(args.results_root, assumptions)
        print(format_estimate(table, assumptions, measured))
    elif args.command == "run":
        return run_grid(args, runs, make_job(args, overrides), cost_assumptions(args, overrides))
    return 0


def other_runs(args, runs):
    """The runs under the results root that the selection's protocol and sources leave out (its
    languages, encoders and seeds still apply), with their state and the options selecting them."""
    found, unresolved = discover_runs(args.results_root, args.langs, args.encoders, args.seeds)
    selected = {run.name for run in runs}
    others = [run for run in found if run.name not in selected]
    return format_other_runs(grid_status(others, args.results_root, args.stale_after), unresolved)


def released_command(args, overrides):
    """status, plan, prepare, cost or run of the released checkpoints' grid."""
    if overrides:
        raise GridError(
            "released checkpoints are evaluated, not trained: recipe overrides after -- do not "
            "apply (the evaluation takes --precision, --batch-seconds and --batch-size)"
        )
    runs = released_grid(
        args.checkpoints, args.langs, args.encoders, args.seeds, report=lambda line: print(line, file=sys.stderr)
    )
    if args.released_command == "status":
        print(format_status(grid_status(runs, args.results_root, args.stale_after), args.verbose))
    elif args.released_command == "plan":
        job = make_released_job(args)
        print_plan(job, grid_status(runs, job.results_root, job.stale_after))
    elif args.released_command == "prepare":
        prepare_languages(make_released_job(args), runs)
    elif args.released_command == "cost":
        assumptions = cost_assumptions(args, [])
        hours_table = load_hours_table(args.hours_per_lang) if args.hours_per_lang else None
        evaluation = estimate(runs, args.results_root, assumptions, hours_table)
        training = estimate([retraining_run(run) for run in runs], args.results_root, assumptions, hours_table)
        print(format_released_estimate(evaluation, training, assumptions))
    elif args.released_command == "run":
        return run_grid(args, runs, make_released_job(args), cost_assumptions(args, []))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = build_parser().parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        if args.command == "released":
            return released_command(args, overrides)
        return training_command(args, overrides)
    except GridError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    sys.exit(main())
