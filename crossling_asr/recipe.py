"""The body of every recipe's train.py: prepare, train, test, record.

    python train.py hparams/<lang>.yaml [--key=value ...] [SpeechBrain run options]
    python train.py [hparams/<lang>.yaml] --help     the recipe's keys, defaults and meanings

Multi-GPU: torchrun --nproc_per_node=N train.py hparams/<lang>.yaml

torch, SpeechBrain and the modules that load them are imported inside the
functions that use them, so that --help and the checks of the command line
answer at once.
"""

import json
import logging
import os
import sys
import textwrap
from pathlib import Path

from crossling_asr.atomic import write_text
from crossling_asr.data.common_voice import CommonVoiceFormatError, PreparationInterrupted, check_cv_language_folder
from crossling_asr.hparams import (
    CPU_TINY_FILE,
    REPO_ROOT,
    HparamsError,
    command_line_value,
    flatten_keys,
    key_docs,
    load_recipe_hparams,
    plain_yaml_file,
    resolved_yaml,
)

logger = logging.getLogger(__name__)


def train_and_test(hparams, run_opts, overrides, report):
    """Fit on train, keep the last or the best dev CER checkpoint (model_selection), score test,
    write results.json."""
    import speechbrain as sb
    from speechbrain.utils.distributed import if_main_process, run_on_main

    from crossling_asr.data.datasets import (
        build_tokenizer,
        make_datasets,
        split_summary,
        train_loader_kwargs,
        use_cached_features,
    )
    from crossling_asr.model.encoders import count_parameters
    from crossling_asr.model.layer_weights import LayerWeights
    from crossling_asr.results import build_results, write_results
    from crossling_asr.training.brain import CTCBrain, RunState
    from crossling_asr.training.curves import with_training_curves
    from crossling_asr.training.feature_cache import FeatureCacheError, open_feature_cache

    hparams["train_logger"] = with_training_curves(
        hparams["train_logger"], hparams["training_curves"], hparams["output_folder"]
    )
    tokenizer_args = [hparams["train_csv"], hparams["tokenizer_file"], hparams["append_word_delimiter"]]
    run_on_main(build_tokenizer, args=tokenizer_args)
    tokenizer = build_tokenizer(*tokenizer_args)
    datasets = make_datasets(hparams, tokenizer)

    encoder = hparams["encoder_module"]
    head = hparams["ctc_head"](input_size=encoder.output_size, n_tokens=len(tokenizer), **head_init(hparams, encoder))
    hparams["checkpointer"].add_recoverable("head", head)
    modules = {"encoder": encoder, "head": head}
    if hparams["layer_aggregation"] == "weighted":
        modules["layer_weights"] = LayerWeights(encoder.num_hidden_states)
        hparams["checkpointer"].add_recoverable("layer_weights", modules["layer_weights"])
    brain = CTCBrain(
        modules=modules,
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
        tokenizer=tokenizer,
        run_state=RunState(),
    )
    if getattr(encoder.model.config, "layerdrop", 0.0) > 0:
        # LayerDrop skips transformer layers at random: under DDP their parameters then get
        # no gradient in that step, which DDP rejects unless it looks for unused ones.
        brain.find_unused_parameters = True
    feature_cache = None
    if hparams["probe_feature_cache"] != "none":
        try:
            brain.feature_cache, feature_cache = open_feature_cache(hparams, brain, datasets)
        except FeatureCacheError as err:
            sys.exit(f"error: {err}")
        use_cached_features(datasets, brain.feature_cache.load)
    train_loader = brain.make_dataloader(
        datasets["train"], stage=sb.Stage.TRAIN, **train_loader_kwargs(hparams, datasets["train"])
    )
    if brain.train_sampler is None and train_loader.batch_sampler is not None:
        # Brain only tracks samplers it made itself; the dynamic batch sampler
        # must also get set_epoch() to reshuffle (and resume) epoch by epoch.
        brain.train_sampler = train_loader.batch_sampler
    # An epoch steps the optimizers once per full group of grad_accumulation_factor batches
    # (a last partial group is dropped), so the decay reaches zero at the run's last step.
    brain.total_optimizer_steps = max(
        1, hparams["number_of_epochs"] * (len(train_loader) // brain.grad_accumulation_factor)
    )
    brain.fit(
        hparams["epoch_counter"], train_loader, datasets["dev"], valid_loader_kwargs=hparams["eval_dataloader_options"]
    )
    training = brain.training_summary()
    selected = brain.selected_checkpoint()
    brain.evaluate(
        datasets["test"], min_key=brain.selection_key(), test_loader_kwargs=hparams["eval_dataloader_options"]
    )

    if if_main_process():
        encoder_total, encoder_trainable = count_parameters(encoder)
        parameters = {
            "encoder_total": encoder_total,
            "encoder_trainable": encoder_trainable,
            "head": count_parameters(head)[0],
            "layer_weights": count_parameters(brain.layer_weights)[0] if brain.layer_weights is not None else 0,
            "vocabulary_size": len(tokenizer),
        }
        results = build_results(
            hparams,
            overrides,
            brain,
            report,
            parameters,
            selected.meta if selected else {},
            training,
            train_used=split_summary(datasets["train"]),
            feature_cache=feature_cache,
        )
        write_results(hparams["results_file"], results)
        test = results["metrics"]["test"]
        logger.info("Test WER %.2f CER %.2f -> %s", test["WER"], test["CER"], hparams["results_file"])
    return brain


def head_init(hparams, encoder):
    """Keyword arguments setting how the CTC head is initialised (`head_init_std`): under
    "encoder_config" its weights are drawn from N(0, initializer_range^2) of the encoder's config, as
    transformers draws the lm_head AutoModelForCTC adds to a checkpoint; a number is that std; null
    leaves the head's own initialisation."""
    choice = hparams["head_init_std"]
    if choice is None:
        return {}
    if choice == "encoder_config":
        return {"init_std": encoder.model.config.initializer_range}
    return {"init_std": float(choice)}


def check_loop_choices(hparams):
    """Refuse at start-up a model_selection, grad_clipping or ctc_input_lengths the Brain would only
    reject (or misread) later."""
    from crossling_asr.training.brain import CTC_INPUT_LENGTHS, GRAD_CLIPPINGS, MODEL_SELECTIONS

    choices_of = {
        "model_selection": MODEL_SELECTIONS,
        "grad_clipping": GRAD_CLIPPINGS,
        "ctc_input_lengths": CTC_INPUT_LENGTHS,
    }
    for key, choices in choices_of.items():
        if hparams[key] not in choices:
            raise ValueError(f"{key}: {hparams[key]!r}: expected one of {', '.join(choices)}")


def check_run_options(run_opts):
    """Refuse, before anything runs, SpeechBrain run options that CTCBrain would ignore.

    --nonfinite_patience is read by sb.Brain's own training step, which
    CTCBrain replaces with one that skips non-finite batches and stops on a
    run of them (hparams key max_consecutive_nonfinite).
    """
    if "nonfinite_patience" in run_opts.overridden_args:
        sys.exit(
            "error: --nonfinite_patience would have no effect here (CTCBrain replaces the SpeechBrain "
            "training step that reads it). Batches with a non-finite loss are skipped, and training "
            "stops when more than max_consecutive_nonfinite of them come in a row: set that hparams "
            "key instead, e.g. --max_consecutive_nonfinite=3."
        )


PRECISIONS = ("fp32", "fp16", "bf16")  # SpeechBrain's --precision / --eval_precision values


def check_device_and_precision(hparams, run_opts):
    """Refuse, before data preparation, a device or precision this machine cannot run.

    sb.Brain checks them only when it is built, after the data are prepared:
    hours in for a large language. The values are taken as sb.Brain takes
    them: a command-line run option wins over the hparams key of that name.
    bf16 works on CPU (slowly); fp16 does not.
    """
    import torch
    from speechbrain.utils.distributed import infer_device

    def option(key):
        return run_opts[key] if key in run_opts.overridden_args or key not in hparams else hparams[key]

    precisions = {key: option(key) for key in ("precision", "eval_precision")}
    for key, value in precisions.items():
        if value not in PRECISIONS:
            sys.exit(f"error: --{key}={value}: expected one of {', '.join(PRECISIONS)}")
    device = option("device") or infer_device()
    device_type = str(device).split(":")[0]
    if device_type == "cuda" and not torch.cuda.is_available():
        sys.exit(
            f"error: --device={device}, but no CUDA GPU is visible here "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}): run it on a GPU "
            "machine, or give --device=cpu"
        )
    half = [f"--{key}=fp16" for key, value in precisions.items() if value == "fp16"]
    if device_type == "cpu" and half:
        sys.exit(
            f"error: {' and '.join(half)} needs a CUDA GPU, and this run would train on the CPU"
            f"{'' if torch.cuda.is_available() else ' (no GPU is visible here)'}: give bf16 or fp32, "
            "or run it on a GPU machine"
        )
    bfloat = [f"--{key}=bf16" for key, value in precisions.items() if value == "bf16"]
    if device_type == "cuda" and bfloat and not torch.cuda.is_bf16_supported():
        sys.exit(f"error: {' and '.join(bfloat)}, but {torch.cuda.get_device_name()} has no bf16: give fp16 or fp32")


HELP_FLAGS = ("-h", "--help")
RUN_OPTIONS_FLAG = "--help-run-options"
SHARED_HPARAMS = REPO_ROOT / "hparams" / "ctc_study.yaml"
HELP_WIDTH = 110


def _leading_sentence(path):
    """The first sentence of the comment block a YAML file starts with."""
    block = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        block.append(line.lstrip("# ").strip())
    return " ".join(block).split(". ")[0].split(":")[0]


def recipe_help(hparams_file=None):
    """The recipe's --help: usage, then every key a command line can set, by block, with its
    default and its meaning (the comments of the shared experiment file), the protocols and the
    CPU settings, and where SpeechBrain's run options are listed.

    With a language's hparams file, its values are the defaults shown (marked *).
    """
    language_values, base_file = {}, SHARED_HPARAMS
    if hparams_file and Path(hparams_file).is_file():
        try:
            language = plain_yaml_file(hparams_file)
        except HparamsError:
            language = {}
        if language.get("base_hparams") and (Path(hparams_file).parent / language["base_hparams"]).is_file():
            base_file = (Path(hparams_file).parent / language.pop("base_hparams")).resolve()
        language_values = flatten_keys(language)
    shown_base = base_file.relative_to(REPO_ROOT) if base_file.is_relative_to(REPO_ROOT) else base_file
    lines = [
        "usage: python train.py hparams/<lang>.yaml [--key=value ...] [SpeechBrain run options]",
        "",
        "Fine-tune a self-supervised encoder with a CTC head on one Common Voice language: prepare the",
        "data (once per language), train, select by dev CER, score test, write results.json.",
        "",
        f"Keys and their defaults ({shown_base}{f'; * set by {hparams_file}' if language_values else ''}).",
        "Set one with --key=value, a nested one with --parent={key: value} (--encoder_config={layerdrop: 0.05}).",
    ]
    section = None
    for doc in key_docs(base_file):
        if doc.section != section:
            section = doc.section
            lines += ["", f"{section}:"]
        default = doc.default
        if doc.key in language_values:
            value = json.dumps(language_values[doc.key], ensure_ascii=False)
            default = f"{value if len(value) < 40 else value[:36] + ' ...'}*"
        head = f"  {doc.key}={default}" if default else f"  {doc.key}:"
        meaning = doc.meaning
        if len(head) < 44 and meaning:
            lines += textwrap.wrap(meaning, HELP_WIDTH, initial_indent=head.ljust(44) + " ", subsequent_indent=" " * 45)
        else:
            lines.append(head)
            lines += textwrap.wrap(meaning, HELP_WIDTH, initial_indent=" " * 45, subsequent_indent=" " * 45)
    protocols = sorted((base_file.parent / "protocols").glob("*.yaml"))
    lines += ["", "Protocols (--protocol=NAME replaces some of the keys above):"]
    lines += [f"  {p.stem:<12} {_leading_sentence(p)}" for p in protocols]
    cpu_tiny = base_file.parent / CPU_TINY_FILE
    if cpu_tiny.is_file():
        lines += ["", f"--cpu_tiny=True: {_leading_sentence(cpu_tiny)} ({cpu_tiny.name})"]
    lines += [
        "",
        "SpeechBrain's run options (--device, --precision, --eval_precision, --debug, --compile, ...) are",
        f"also accepted: python train.py {RUN_OPTIONS_FLAG} lists them.",
    ]
    return "\n".join(lines)


def log_resume(hparams):
    """Say when the run continues from a checkpoint of an earlier attempt (fit() recovers the latest)."""
    checkpoint = hparams["checkpointer"].find_checkpoint()
    if checkpoint is None:
        return
    counter = checkpoint.paramfiles.get("counter")  # the epoch counter's value when it was saved
    epoch = Path(counter).read_text().strip() if counter else "?"
    when = f"after epoch {epoch}" if checkpoint.meta.get("end-of-epoch", True) else f"during epoch {epoch}"
    logger.info("Resuming %s from checkpoint %s (%s)", hparams["output_folder"], checkpoint.path.name, when)


def main(argv=None):
    """Entry point used by recipes/<lang>/train.py."""
    argv = sys.argv[1:] if argv is None else argv
    if any(arg in HELP_FLAGS for arg in argv):
        print(recipe_help(next((arg for arg in argv if not arg.startswith("-")), None)))
        return 0
    import speechbrain as sb
    from speechbrain.utils.distributed import if_main_process

    from crossling_asr.data.datasets import check_train_hours
    from crossling_asr.data.preparation import prepare
    from crossling_asr.training.curves import curve_logger_names
    from crossling_asr.training.feature_cache import check_cache_settings

    if RUN_OPTIONS_FLAG in argv:
        sb.parse_arguments(["--help"])  # SpeechBrain's own options; argparse exits after printing them
    hparams_file, run_opts, cli_overrides = sb.parse_arguments(argv)
    check_run_options(run_opts)
    try:
        # Before the encoder is loaded or any folder is created: a wrong --data_folder fails at once.
        data_folder = command_line_value(cli_overrides, "data_folder")
        if data_folder is not None:
            check_cv_language_folder(data_folder)
        hparams, experiment_yaml, overrides = load_recipe_hparams(hparams_file, cli_overrides)
        check_cache_settings(hparams)
        curve_logger_names(hparams["training_curves"])  # a missing tensorboard or wandb, before anything runs
        check_train_hours(hparams["train_hours"])
        check_loop_choices(hparams)
    except (HparamsError, FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    check_device_and_precision(hparams, run_opts)
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"])
    if run_opts.get("compile"):
        logger.warning(
            "--compile: dynamic batches give torch.compile a new shape almost every step; "
            "bench/torch_compile.py measured training 18-23x slower on CPU (recompiles) and a crash "
            "with --compile_using_dynamic_shape_tracing (torch 2.11). Measure it before a long run."
        )
    if if_main_process():
        write_text(Path(hparams["output_folder"]) / "hyperparams.yaml", resolved_yaml(experiment_yaml, overrides))
        log_resume(hparams)
    try:
        report = prepare(hparams)
    except (OSError, CommonVoiceFormatError) as err:  # missing files, bad TSV, full disk
        sys.exit(f"error: data preparation failed: {err}")
    except PreparationInterrupted as err:
        print(err, file=sys.stderr)
        sys.exit(err.exit_status)
    return train_and_test(hparams, run_opts, overrides, report)
