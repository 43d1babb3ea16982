"""The `study` protocol is HuggingSound 0.1.6's training loop; `tuned` keeps the earlier settings.

Expected values are HuggingSound 0.1.6's, written here with where HuggingSound sets them
(huggingsound/trainer.py ModelArguments, TrainingArguments, CTCTrainer; huggingsound/
speech_recognition/model.py), not read back from the project's files.
"""

import csv
import functools
import inspect
import io
import json
from types import SimpleNamespace

import pytest
import ruamel.yaml
import torch
from transformers import Wav2Vec2Config, Wav2Vec2ForCTC
from transformers.trainer_pt_utils import LengthGroupedSampler

from crossling_asr.analysis import aggregate
from crossling_asr.analysis.report import build_report
from crossling_asr.data.datasets import LengthGroupedBatchSampler, build_tokenizer, make_datasets, train_loader_kwargs
from crossling_asr.hparams import REPO_ROOT, apply_protocol, resolved_yaml
from crossling_asr.model.heads import CTCHead
from crossling_asr.recipe import check_loop_choices, head_init
from crossling_asr.results import FAITHFUL_STUDY, PRE_FAITHFUL_STUDY, study_loop
from crossling_asr.training.brain import CTCBrain, ctc_loss
from crossling_asr.training.schedules import WarmupConstantDecay, WarmupLinearDecay, warmup_constant_decay

STUDY_FILE = REPO_ROOT / "hparams" / "ctc_study.yaml"

# (key path, HuggingSound 0.1.6's value, where HuggingSound sets it)
HUGGINGSOUND_0_1_6 = [
    (("number_of_epochs",), 3, "TrainingArguments.num_train_epochs=3.0"),
    (("encoder_lr",), 3e-4, "TrainingArguments.learning_rate=3e-4 (one AdamW for all parameters)"),
    (("head_lr",), 3e-4, "TrainingArguments.learning_rate=3e-4"),
    (("weight_decay",), 0.0, "TrainingArguments.weight_decay=0.0"),
    (("max_grad_norm",), 1.0, "TrainingArguments.max_grad_norm=1.0"),
    (("lr_warmup_steps",), 0, "TrainingArguments.lr_warmup_steps=0 (CTCTrainer.create_scheduler)"),
    (("lr_decay_steps",), 0, "TrainingArguments.lr_decay_steps=0 (CTCTrainer.create_scheduler)"),
    (("batch_size",), 8, "TrainingArguments.per_device_train_batch_size=8"),
    (("dynamic_batching",), False, "the Trainer's fixed-size batches"),
    (("group_by_length",), True, "TrainingArguments.group_by_length=True"),
    (("gradient_checkpointing",), True, "TrainingArguments.gradient_checkpointing=True"),
    (("grad_accumulation_factor",), 1, "TrainingArguments.gradient_accumulation_steps=1"),
    (("model_selection",), "last", "TrainingArguments.load_best_model_at_end=False"),
    (("append_word_delimiter",), True, 'model.py _prepare_dataset_for_finetuning: transcription + " "'),
    (("ctc_zero_infinity",), False, "ModelArguments.ctc_zero_infinity=False, not passed: Wav2Vec2Config's False"),
    (("ctc_reduction",), "sum", 'ModelArguments.ctc_loss_reduction="sum"'),
    (("freeze_feature_encoder",), True, "ModelArguments.freeze_feature_extractor=True"),
    (("final_dropout",), 0.1, "ModelArguments.final_dropout=0.1"),
    (("ctc_head", "dropout"), 0.1, "final_dropout: Wav2Vec2ForCTC's dropout before lm_head"),
    (("encoder_config", "layerdrop"), 0.0, "ModelArguments.layerdrop=0.0"),
    (("encoder_config", "mask_time_prob"), 0.05, "ModelArguments.mask_time_prob=0.05"),
    (("encoder_config", "mask_time_length"), 10, "ModelArguments.mask_time_length=10"),
    (("encoder_config", "mask_feature_prob"), 0.0, "ModelArguments.mask_feature_prob=0.0"),
    (("encoder_config", "attention_dropout"), 0.1, "ModelArguments.attention_dropout=0.1"),
    (("encoder_config", "hidden_dropout"), 0.1, "ModelArguments.hidden_dropout=0.1"),
    (("encoder_config", "activation_dropout"), 0.1, "ModelArguments.activation_dropout=0.1"),
    (("encoder_config", "feat_proj_dropout"), 0.1, "ModelArguments.feat_proj_dropout=0.1"),
    (("encoder_optimizer", "lr"), 3e-4, "CTCTrainer.create_optimizer: AdamW(lr=learning_rate)"),
    (
        ("grad_clipping",),
        "whole_model",
        "transformers Trainer: nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm), one norm",
    ),
    (
        ("head_init_std",),
        "encoder_config",
        "transformers Wav2Vec2PreTrainedModel._init_weights: lm_head N(0, config.initializer_range^2)",
    ),
    (
        ("ctc_input_lengths",),
        "transformers",
        "transformers Wav2Vec2ForCTC.forward: frames from attention_mask, or torch.ones_like(input_values)",
    ),
]
# The settings the study protocol had before, which `tuned` keeps.
TUNED = {
    "warmup_ratio": 0.1,
    "final_dropout": 0.0,
    "dynamic_batching": True,
    "group_by_length": False,
    "model_selection": "best_dev_cer",
    "append_word_delimiter": False,
    "gradient_checkpointing": False,
    "ctc_zero_infinity": True,
    "grad_clipping": "per_optimizer",
    "head_init_std": None,
    "ctc_input_lengths": "own_frames",
}


@functools.cache
def resolved(protocol, cpu_tiny=False):
    """The experiment file with `protocol` applied and references resolved (what a run saves as
    hyperparams.yaml), as plain data with each object's tag kept; nothing is instantiated."""
    text = apply_protocol(STUDY_FILE.read_text(encoding="utf-8"), protocol, STUDY_FILE.parent / "protocols")
    overrides = {
        "language": "es",
        "data_folder": "/data/es",
        "results_root": "/r",
        "run_name": "x",
        "text": {"alphabet": "a-z"},
    }
    if cpu_tiny:
        tiny = ruamel.yaml.YAML(typ="safe").load((STUDY_FILE.parent / "cpu_tiny.yaml").read_text(encoding="utf-8"))
        overrides.update(tiny)
    return ruamel.yaml.YAML(typ="rt").load(io.StringIO(resolved_yaml(text, overrides)))


def lookup(data, path):
    for key in path:
        data = data[key]
    return data


@pytest.mark.parametrize(
    "path, expected, source", HUGGINGSOUND_0_1_6, ids=[".".join(p) for p, _, _ in HUGGINGSOUND_0_1_6]
)
def test_resolved_study_hparams_are_huggingsound_0_1_6s_defaults(path, expected, source):
    assert lookup(resolved("study"), path) == pytest.approx(expected), source


def test_study_uses_huggingsound_schedule_and_adamw_with_torch_default_betas():
    hp = resolved("study")
    assert hp["lr_schedule"].tag.value == "!new:crossling_asr.training.schedules.WarmupConstantDecay"
    assert hp["encoder_optimizer"].tag.value == "!name:torch.optim.AdamW"
    # CTCTrainer.create_optimizer: betas (adam_beta1=0.9, adam_beta2=0.999), eps adam_epsilon=1e-8
    defaults = inspect.signature(torch.optim.AdamW).parameters
    assert defaults["betas"].default == (0.9, 0.999) and defaults["eps"].default == 1e-8
    assert "betas" not in hp["encoder_optimizer"] and "eps" not in hp["encoder_optimizer"]


@pytest.mark.parametrize("cpu_tiny", [False, True])
def test_tuned_keeps_the_earlier_study_settings_and_composes_with_cpu_tiny(cpu_tiny):
    hp = resolved("tuned", cpu_tiny)
    assert {key: hp[key] for key in TUNED} == TUNED
    assert hp["lr_schedule"].tag.value == "!new:crossling_asr.training.schedules.WarmupLinearDecay"
    assert hp["ctc_head"]["dropout"] == 0.0
    assert hp["encoder_config"]["layerdrop"] == (0.0 if cpu_tiny else 0.1)
    study = resolved("study", cpu_tiny)
    # the CPU settings' own values are the same under both protocols
    assert hp["encoder_lr"] == study["encoder_lr"] and hp["dynamic_batch_sampler"] == study["dynamic_batch_sampler"]


def constant_rate_brain(total_steps, lr=3e-4):
    encoder, head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    optimizers = {
        "encoder": torch.optim.AdamW(encoder.parameters(), lr=lr),
        "head": torch.optim.AdamW(head.parameters(), lr=lr),
    }
    for opt in optimizers.values():
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
    return type("Brain", (), {"optimizers_dict": optimizers, "optimizer_step": 0, "total_optimizer_steps": total_steps})


def test_study_learning_rate_is_the_same_at_the_first_a_middle_and_the_last_step():
    hp = resolved("study")
    schedule = WarmupConstantDecay(hp["lr_warmup_steps"], hp["lr_decay_steps"])
    brain = constant_rate_brain(total_steps=75)
    seen = {}
    for step in range(75):
        brain.optimizer_step = step
        schedule.before_optimizer_step(brain)
        seen[step] = {name: opt.param_groups[0]["lr"] for name, opt in brain.optimizers_dict.items()}
    for step in (0, 37, 74):
        assert seen[step] == {"encoder": 3e-4, "head": 3e-4}


def test_schedule_with_warmup_and_decay_steps_follows_huggingsounds_lambda():
    # CTCTrainer.create_scheduler's _lr_lambda by hand, 50 steps, 5 warming up, 10 decaying, floor 0.1
    assert warmup_constant_decay(0, 50, 5, 10, 0.1) == 0.1  # max(0.1, 0/5)
    assert warmup_constant_decay(2, 50, 5, 10, 0.1) == pytest.approx(0.4)
    assert warmup_constant_decay(5, 50, 5, 10, 0.1) == 1.0
    assert warmup_constant_decay(39, 50, 5, 10, 0.1) == 1.0
    assert warmup_constant_decay(40, 50, 5, 10, 0.1) == pytest.approx(1.0)  # (50 - 40) / 10
    assert warmup_constant_decay(45, 50, 5, 10, 0.1) == pytest.approx(0.5)
    assert warmup_constant_decay(49, 50, 5, 10, 0.1) == pytest.approx(0.1)


def test_a_checkpoint_of_the_other_schedule_is_refused(tmp_path):
    WarmupLinearDecay(0.1).save(tmp_path / "linear.ckpt")
    with pytest.raises(ValueError, match="another learning-rate schedule"):
        WarmupConstantDecay().load(tmp_path / "linear.ckpt")
    WarmupConstantDecay().save(tmp_path / "constant.ckpt")
    with pytest.raises(ValueError, match="another learning-rate schedule"):
        WarmupLinearDecay(0.1).load(tmp_path / "constant.ckpt")


LENGTHS = [round(0.5 + (7 * i % 23) * 0.37, 2) for i in range(203)]  # durations in seconds, 203 utterances


@pytest.mark.parametrize("epoch", [1, 2])
def test_batches_hold_8_utterances_grouped_as_transformers_length_grouped_sampler_groups_them(epoch):
    sampler = LengthGroupedBatchSampler(LENGTHS, batch_size=8, seed=11)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    generator = torch.Generator()
    generator.manual_seed(11 + epoch)
    order = list(LengthGroupedSampler(8, lengths=LENGTHS, generator=generator))
    assert batches == [order[i : i + 8] for i in range(0, len(order), 8)]
    assert [len(b) for b in batches] == [8] * 25 + [3] and len(sampler) == 26
    assert sorted(i for b in batches for i in b) == list(range(203))
    # the longest utterance comes first (an out-of-memory error shows at once)
    assert LENGTHS[batches[0][0]] == max(LENGTHS)
    # a resumed epoch replays the same batches; another epoch reshuffles
    again = LengthGroupedBatchSampler(LENGTHS, batch_size=8, seed=11)
    again.set_epoch(epoch)
    assert list(again) == batches
    again.set_epoch(epoch + 1)
    assert list(again) != batches


class FakeTrainSet:
    """What train_loader_kwargs reads of a DynamicItemDataset: durations by id."""

    def __init__(self, lengths):
        self.data_ids = [f"u{i}" for i in range(len(lengths))]
        self.data = {f"u{i}": {"duration": str(d)} for i, d in enumerate(lengths)}


def test_study_loader_options_give_the_length_grouped_batches():
    hp = resolved("study")
    hparams = {
        key: hp[key] for key in ("dynamic_batching", "group_by_length", "sorting", "seed", "dynamic_batch_sampler")
    }
    hparams["train_dataloader_options"] = {"batch_size": hp["batch_size"], "shuffle": True, "num_workers": 0}
    options = train_loader_kwargs(hparams, FakeTrainSet(LENGTHS))
    assert set(options) == {"batch_sampler", "num_workers", "persistent_workers", "generator"}
    sampler = options["batch_sampler"]
    assert isinstance(sampler, LengthGroupedBatchSampler) and sampler.batch_size == 8 and sampler.seed == 1
    with pytest.raises(ValueError, match="sorting"):
        train_loader_kwargs({**hparams, "sorting": "ascending"}, FakeTrainSet(LENGTHS))


def write_manifest(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["ID", "duration", "wav", "spk_id", "wrd"])
        writer.writeheader()
        for i, text in enumerate(rows):
            writer.writerow({"ID": f"{path.stem}{i}", "duration": 1.0, "wav": "x.wav", "spk_id": "s", "wrd": text})


@pytest.mark.parametrize("append", [True, False])
def test_training_targets_end_with_the_word_delimiter_under_study_only(tmp_path, append):
    texts = ["hola mundo", "buenos días"]
    for split in ("train", "dev", "test"):
        write_manifest(tmp_path / f"{split}.csv", texts)
    tokenizer = build_tokenizer(tmp_path / "train.csv", tmp_path / "labels.txt", word_delimiter=append)
    hparams = {
        **{f"{split}_csv": tmp_path / f"{split}.csv" for split in ("train", "dev", "test")},
        "prep_folder": tmp_path,
        "train_hours": None,
        "sorting": "random",
        "append_word_delimiter": append,
    }
    train = make_datasets(hparams, tokenizer)["train"]
    train.set_output_keys(["id", "tokens", "wrd"])
    for item in train:
        expected = list(item["wrd"] + (" " if append else ""))
        assert tokenizer.decode_ndim(item["tokens"].tolist()) == expected


def test_the_delimiter_joins_the_vocabulary_of_a_language_written_without_spaces(tmp_path):
    write_manifest(tmp_path / "train.csv", ["こんにちは", "ありがとう"])
    with_delimiter = build_tokenizer(tmp_path / "train.csv", tmp_path / "a.txt", word_delimiter=True)
    without = build_tokenizer(tmp_path / "train.csv", tmp_path / "b.txt", word_delimiter=False)
    assert " " in with_delimiter.lab2ind and " " not in without.lab2ind
    assert len(with_delimiter) == len(without) + 1


def results(run_name, seed, cer, hparams):
    """A finished study run's results.json with the given recorded hparams."""
    return {
        "schema_version": 1,
        "status": "finished",
        "run": {
            "language": "es",
            "encoder": "xlsr-53",
            "seed": seed,
            "encoder_family": "Wav2Vec2Model",
            "random_init": False,
            "output_folder": f"/r/es/{run_name}/seed_{seed}",
            "protocol": hparams["protocol"],
        },
        "metrics": {
            "primary": "WER",
            "wer_meaningful": True,
            "test": {"WER": 2 * cer, "CER": cer, "loss": 1.0, "n_utterances": 10},
            "dev_best": {"WER": 2 * cer, "CER": cer, "epoch": 3},
        },
        "data": {
            "splits": {
                s: {"utterances": 10, "hours": 0.5, "speakers": 2, "skipped": {}} for s in ("train", "dev", "test")
            }
        },
        "training": {"epochs": 3, "optimizer_steps": 30, "wall_seconds": 10.0},
        "hparams": {"seed": seed, "run_name": run_name, **hparams},
    }


# What results.json recorded of the loop: before (warmup_ratio, none of HuggingSound's keys) and since.
PRE_FAITHFUL_HPARAMS = {"protocol": "study", "warmup_ratio": 0.1, "dynamic_batching": True, "batch_size": 8}
FAITHFUL_HPARAMS = {
    "protocol": "study",
    "warmup_ratio": None,
    "dynamic_batching": False,
    "batch_size": 8,
    "lr_warmup_steps": 0,
    "lr_decay_steps": 0,
    "final_dropout": 0.1,
    "group_by_length": True,
    "model_selection": "last",
    "append_word_delimiter": True,
    "ctc_zero_infinity": False,
    "grad_clipping": "whole_model",
    "head_init_std": 0.02,
    "ctc_input_lengths": "transformers",
}
# The first, partial match of HuggingSound's loop: SpeechBrain's per-optimizer clipping, torch's head init;
# the second: each utterance's own CTC frames also where the encoder takes no attention mask.
PARTLY_FAITHFUL_HPARAMS = {
    k: v for k, v in FAITHFUL_HPARAMS.items() if k not in ("grad_clipping", "head_init_std", "ctc_input_lengths")
}
SECOND_PARTLY_FAITHFUL_HPARAMS = {k: v for k, v in FAITHFUL_HPARAMS.items() if k != "ctc_input_lengths"}


def test_study_loop_tells_faithful_from_pre_faithful_study_results():
    assert study_loop(results("xlsr-53", 1, 10.0, FAITHFUL_HPARAMS)) == FAITHFUL_STUDY
    assert study_loop(results("xlsr-53", 1, 10.0, PRE_FAITHFUL_HPARAMS)) == PRE_FAITHFUL_STUDY
    assert study_loop(results("xlsr-53", 1, 10.0, PARTLY_FAITHFUL_HPARAMS)) == PRE_FAITHFUL_STUDY
    assert study_loop(results("xlsr-53", 1, 10.0, SECOND_PARTLY_FAITHFUL_HPARAMS)) == PRE_FAITHFUL_STUDY
    tuned = {**PRE_FAITHFUL_HPARAMS, "protocol": "tuned"}
    assert study_loop(results("xlsr-53.tuned", 1, 10.0, tuned)) is None


def test_report_never_mixes_pre_faithful_study_runs_with_faithful_ones_and_says_so(tmp_path):
    root = tmp_path / "results"
    for seed, cer, hparams in (
        (1, 10.0, FAITHFUL_HPARAMS),
        (2, 12.0, FAITHFUL_HPARAMS),
        (3, 40.0, PRE_FAITHFUL_HPARAMS),
    ):
        folder = root / "es" / "xlsr-53" / f"seed_{seed}"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(results("xlsr-53", seed, cer, hparams)))
    collection = aggregate.collect(root)
    assert collection.runs["seed"].tolist() == [1, 2]
    assert collection.runs["study_loop"].tolist() == [FAITHFUL_STUDY] * 2
    assert collection.set_aside["run"].tolist() == ["es/xlsr-53/seed_3"]
    assert collection.set_aside["study_loop"].tolist() == [PRE_FAITHFUL_STUDY]
    assert aggregate.pre_faithful_study_runs(collection)["run"].tolist() == ["es/xlsr-53/seed_3"]
    # the mean is over the faithful seeds only: (10 + 12) / 2
    assert collection.runs["CER"].mean() == 11.0
    text = build_report(
        root, tmp_path / "report", languages=["es"], encoders=["xlsr-53"], seeds=[1, 2], n_resamples=20
    ).read_text()
    assert "**Warning:** 1 finished study runs were trained under an earlier version of the study protocol" in text
    assert f"es/xlsr-53/seed_3 under {root / 'es'}" in text


def clipping_step(grad_clipping, encoder_grad, head_grad, max_grad_norm=1.0):
    """The update CTCBrain.optimizers_step applies to an encoder and a head with the given gradients,
    each under its own SGD at rate 1 (so the update is minus the clipped gradient)."""
    encoder, head = torch.nn.Linear(2, 1, bias=False), torch.nn.Linear(2, 1, bias=False)
    before = [encoder.weight.detach().clone(), head.weight.detach().clone()]
    encoder.weight.grad = torch.tensor([encoder_grad])
    head.weight.grad = torch.tensor([head_grad])
    optimizers = {
        "encoder": torch.optim.SGD(encoder.parameters(), lr=1.0),
        "head": torch.optim.SGD(head.parameters(), lr=1.0),
    }
    brain = CTCBrain.__new__(CTCBrain)  # only what optimizers_step reads, no modules to build
    brain.__dict__.update(
        optimizers_dict=optimizers,
        hparams=SimpleNamespace(grad_clipping=grad_clipping, encoder_freeze_steps=0),
        optimizer_step=0,
        max_grad_norm=max_grad_norm,
        skip_nonfinite_grads=False,
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        modules=torch.nn.ModuleDict({"encoder": encoder, "head": head}),
    )
    brain.optimizers_step()
    assert brain.optimizer_step == 1  # counted, as SpeechBrain's own step counts it (schedules read it)
    return [(b - m.weight.detach()).squeeze(0).tolist() for b, m in zip(before, (encoder, head))]


def test_study_clips_the_norm_of_all_gradients_at_once_as_transformers_trainer_does():
    # encoder gradient (3, 0), head gradient (0, 4): the whole norm is 5, so both shrink by 1/5
    encoder_update, head_update = clipping_step("whole_model", [3.0, 0.0], [0.0, 4.0])
    assert encoder_update == pytest.approx([0.6, 0.0], rel=1e-5)
    assert head_update == pytest.approx([0.0, 0.8], rel=1e-5)


def test_tuned_clips_each_optimizers_gradients_on_their_own_as_speechbrain_does():
    # each part's norm is brought to 1 on its own: (3, 0) / 3 and (0, 4) / 4
    encoder_update, head_update = clipping_step("per_optimizer", [3.0, 0.0], [0.0, 4.0])
    assert encoder_update == pytest.approx([1.0, 0.0], rel=1e-5)
    assert head_update == pytest.approx([0.0, 1.0], rel=1e-5)


def test_study_head_starts_as_transformers_initialises_the_lm_head_and_tuned_as_torch_does():
    torch.manual_seed(0)
    study = CTCHead(input_size=96, n_tokens=40, dropout=0.1, init_std=0.02)[-1]
    assert torch.count_nonzero(study.bias) == 0
    assert 0.018 < study.weight.std().item() < 0.022  # 3840 draws of N(0, 0.02^2)
    tuned = CTCHead(input_size=96, n_tokens=40, dropout=0.0)[-1]
    bound = 1 / 96**0.5  # torch's nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) for weights and biases
    assert tuned.weight.abs().max().item() <= bound and torch.count_nonzero(tuned.bias) == 40
    assert tuned.weight.std().item() > 0.05  # the uniform's std is bound / sqrt(3) = 0.059


def test_study_head_is_drawn_with_the_encoder_configs_initializer_range():
    encoder = SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(initializer_range=0.02)))
    assert head_init({"head_init_std": resolved("study")["head_init_std"]}, encoder) == {"init_std": 0.02}
    assert head_init({"head_init_std": 0.1}, encoder) == {"init_std": 0.1}
    for protocol in ("tuned", "stock", "probe"):  # their heads keep their own initialisation
        assert head_init({"head_init_std": resolved(protocol)["head_init_std"]}, encoder) == {}


def test_an_unknown_grad_clipping_or_ctc_input_lengths_is_refused_before_the_run_starts():
    known = {"model_selection": "last", "grad_clipping": "whole_model", "ctc_input_lengths": "transformers"}
    check_loop_choices(known)
    with pytest.raises(ValueError, match="grad_clipping: 'per_layer': expected one of whole_model, per_optimizer"):
        check_loop_choices({**known, "grad_clipping": "per_layer"})
    with pytest.raises(ValueError, match="ctc_input_lengths: 'all': expected one of transformers, own_frames"):
        check_loop_choices({**known, "ctc_input_lengths": "all"})


def ctc_lengths_brain(ctc_input_lengths, model, pass_attention_mask):
    """A CTCBrain with only what frame_lengths and training_ctc_lengths read: the encoder's frame
    arithmetic and whether it takes an attention mask."""
    brain = CTCBrain.__new__(CTCBrain)
    brain.__dict__.update(
        hparams=SimpleNamespace(ctc_input_lengths=ctc_input_lengths),
        encoder_module=SimpleNamespace(
            pass_attention_mask=pass_attention_mask, frame_counts=model._get_feat_extract_output_lengths
        ),
    )
    return brain


@pytest.mark.parametrize("attention_mask", [True, False], ids=["with_attention_mask", "without_attention_mask"])
def test_study_training_ctc_loss_reads_the_frames_transformers_wav2vec2forctc_reads(attention_mask):
    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8, 8),
        conv_stride=(5, 2),
        conv_kernel=(10, 3),
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
        vocab_size=6,
        pad_token_id=0,
        ctc_loss_reduction="sum",
        ctc_zero_infinity=False,
    )
    model = Wav2Vec2ForCTC(config).eval()
    samples = torch.tensor([1600, 1100, 700])
    mask = (torch.arange(1600)[None, :] < samples[:, None]).long()
    wavs = torch.randn(3, 1600) * mask
    targets = torch.tensor([[1, 2, 3], [4, 5, 0], [2, 0, 0]])  # padded with the blank, 0
    target_counts = torch.tensor([3, 2, 1])
    labels = targets.masked_fill(torch.arange(3)[None, :] >= target_counts[:, None], -100)
    with torch.no_grad():
        output = model(wavs, attention_mask=mask if attention_mask else None, labels=labels)
    log_probs = output.logits.float().log_softmax(dim=-1)
    # kernel 10 stride 5, then kernel 3 stride 2: 1600 -> 319 -> 159, 1100 -> 219 -> 109, 700 -> 139 -> 69
    assert log_probs.shape[1] == 159
    study = ctc_lengths_brain("transformers", model, attention_mask)
    own_frames = study.frame_lengths(samples / 1600, 1600, 159)
    assert (own_frames * 159).round().int().tolist() == [159, 109, 69]  # 700 / 1600 * 159 would round to 70

    def loss(input_lens):
        return ctc_loss(log_probs, targets, input_lens, target_counts / 3, 0, "sum", False).item()

    assert loss(study.training_ctc_lengths(own_frames)) == pytest.approx(output.loss.item(), rel=1e-5)
    tuned = ctc_lengths_brain("own_frames", model, attention_mask)
    assert tuned.training_ctc_lengths(own_frames) is own_frames
    if not attention_mask:  # transformers reads the padding frames too: every utterance has 159
        assert study.training_ctc_lengths(own_frames).tolist() == [1.0, 1.0, 1.0]
        assert loss(own_frames) != pytest.approx(output.loss.item(), rel=1e-3)
