"""Command lines for quick CPU runs on tiny encoders: the demo, the tests, smoke grids.

A tiny randomly initialised encoder learning from scratch on a 2-core CPU
wants different settings from a pre-trained 315M-parameter one on a GPU:
no masking, layerdrop or dropout, a trainable feature encoder, a higher
learning rate, small batches and no loader workers. Only overrides change;
the recipe and its hparams are the ones users run.
"""

import sys

from crossling_asr.hparams import REPO_ROOT, language_file

CPU_TINY_OVERRIDES = [
    "--encoder_lr=0.003",
    "--head_lr=0.003",
    "--freeze_feature_encoder=False",
    "--encoder_config={mask_time_prob: 0.0, layerdrop: 0.0, hidden_dropout: 0.0, "
    "attention_dropout: 0.0, activation_dropout: 0.0, feat_proj_dropout: 0.0}",
    "--dynamic_batch_sampler={max_batch_length: 40, num_buckets: 10, max_batch_ex: 16}",
    "--num_workers=0",
    "--train_dataloader_options={pin_memory: False}",
    "--eval_dataloader_options={pin_memory: False}",
    "--prep_workers=2",
]


def recipe_command(lang, data_folder, encoder_source, results_root, epochs, extra=()):
    """argv running recipes/<lang>/train.py on a tiny encoder with CPU settings.

    `extra` options win over the CPU defaults of the same key.
    """
    options = {}
    for arg in [
        f"--data_folder={data_folder}",
        f"--encoder_source={encoder_source}",
        f"--results_root={results_root}",
        f"--number_of_epochs={epochs}",
        *CPU_TINY_OVERRIDES,
        *extra,
    ]:
        options[arg.split("=", 1)[0]] = arg
    return [sys.executable, str(REPO_ROOT / "recipes" / lang / "train.py"), str(language_file(lang)), *options.values()]
