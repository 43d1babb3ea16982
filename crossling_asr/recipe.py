"""The body of every recipe's train.py: prepare, train, test, record.

    python train.py hparams/<lang>.yaml [--key=value ...] [SpeechBrain run options]

Multi-GPU: torchrun --nproc_per_node=N train.py hparams/<lang>.yaml
"""

import logging
import sys
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.distributed import if_main_process, run_on_main

from crossling_asr.brain import CTCBrain, RunState
from crossling_asr.common_voice import CommonVoiceFormatError, prepare_common_voice
from crossling_asr.data import build_tokenizer, make_datasets, train_loader_kwargs
from crossling_asr.encoders import count_parameters
from crossling_asr.atomic import write_text
from crossling_asr.hparams import HparamsError, load_recipe_hparams, resolved_yaml
from crossling_asr.results import build_results, write_results
from crossling_asr.text import TextNormalizer, language_spec_from_hparams

logger = logging.getLogger(__name__)


def prepare(hparams):
    """Data preparation on the main process only; returns the report."""
    normalizer = TextNormalizer(language_spec_from_hparams(hparams))
    kwargs = dict(
        data_folder=hparams["data_folder"],
        prep_folder=hparams["prep_folder"],
        normalizer=normalizer,
        sample_rate=hparams["sample_rate"],
        max_duration=hparams["max_duration"],
        min_duration=hparams["min_duration"],
        num_workers=hparams["prep_workers"],
        audio_format=hparams["prep_audio_format"],
    )
    run_on_main(prepare_common_voice, kwargs=kwargs)
    # Every rank reads the finished report (the main rank wrote it).
    return prepare_common_voice(**kwargs)


def train_and_test(hparams, run_opts, overrides, report):
    """Fit on train, select by dev CER, score test, write results.json."""
    run_on_main(build_tokenizer, args=[hparams["train_csv"], hparams["tokenizer_file"]])
    tokenizer = build_tokenizer(hparams["train_csv"], hparams["tokenizer_file"])
    datasets = make_datasets(hparams, tokenizer)

    encoder = hparams["encoder_module"]
    head = hparams["ctc_head"](input_size=encoder.output_size, n_tokens=len(tokenizer))
    hparams["checkpointer"].add_recoverable("head", head)
    brain = CTCBrain(
        modules={"encoder": encoder, "head": head},
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
        hparams["epoch_counter"],
        train_loader,
        datasets["dev"],
        valid_loader_kwargs=hparams["eval_dataloader_options"],
    )
    training = brain.training_summary()
    brain.evaluate(datasets["test"], min_key="CER", test_loader_kwargs=hparams["eval_dataloader_options"])

    if if_main_process():
        encoder_total, encoder_trainable = count_parameters(encoder)
        parameters = {
            "encoder_total": encoder_total,
            "encoder_trainable": encoder_trainable,
            "head": count_parameters(head)[0],
            "vocabulary_size": len(tokenizer),
        }
        best = hparams["checkpointer"].find_checkpoint(min_key="CER")
        results = build_results(hparams, overrides, brain, report, parameters, best.meta if best else {}, training)
        write_results(hparams["results_file"], results)
        test = results["metrics"]["test"]
        logger.info("Test WER %.2f CER %.2f -> %s", test["WER"], test["CER"], hparams["results_file"])
    return brain


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


def main(argv=None):
    """Entry point used by recipes/<lang>/train.py."""
    argv = sys.argv[1:] if argv is None else argv
    hparams_file, run_opts, cli_overrides = sb.parse_arguments(argv)
    check_run_options(run_opts)
    try:
        hparams, experiment_yaml, overrides = load_recipe_hparams(hparams_file, cli_overrides)
    except (HparamsError, FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
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
    try:
        report = prepare(hparams)
    except (OSError, CommonVoiceFormatError) as err:  # missing files, bad TSV, full disk
        sys.exit(f"error: data preparation failed: {err}")
    return train_and_test(hparams, run_opts, overrides, report)
