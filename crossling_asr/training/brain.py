"""CTCBrain: the one Brain that fine-tunes any encoder with CTC for any language."""

import contextlib
import logging
import os
import random
import signal
import time

import numpy as np
import speechbrain as sb
import torch
from speechbrain.utils import checkpoints
from speechbrain.utils.distributed import if_main_process, is_distributed_initialized

from crossling_asr.atomic import atomic_path
from crossling_asr.data.datasets import RankShardSampler, decode_text
from crossling_asr.decoding.greedy import greedy_ctc_decode, write_hypotheses_tsv
from crossling_asr.decoding.metrics import error_rate_stats

logger = logging.getLogger(__name__)

# Share of empty dev hypotheses from which the model is taken to emit only blanks.
BLANK_COLLAPSE_SHARE = 0.95
STAGE_NAMES = {sb.Stage.TRAIN: "train", sb.Stage.VALID: "dev", sb.Stage.TEST: "test"}
# CUDA event pairs kept before their times are read (reading waits for the GPU).
MAX_PENDING_TIMINGS = 100


# What `model_selection` keeps and tests: the checkpoint of the last epoch (HuggingSound 0.1.6,
# TrainingArguments.load_best_model_at_end=False) or the one with the lowest dev CER.
MODEL_SELECTIONS = ("last", "best_dev_cer")
# How the gradient norm is clipped at max_grad_norm: once over every trainable parameter (transformers'
# Trainer, HuggingSound 0.1.6) or over each optimizer's parameters on their own (SpeechBrain's Brain).
GRAD_CLIPPINGS = ("whole_model", "per_optimizer")
# The frames the training CTC loss reads: each utterance's own (own_frames), or those transformers'
# Wav2Vec2ForCTC.forward reads (transformers: HuggingSound 0.1.6's model), which are every frame of the
# padded batch when the encoder takes no attention mask (feature extractors with
# return_attention_mask=False, the wav2vec2-base style), since it counts frames from an all-ones mask.
CTC_INPUT_LENGTHS = ("transformers", "own_frames")


def ctc_loss(log_probs, targets, input_lens, target_lens, blank_index, reduction, zero_infinity):
    """speechbrain.nnet.losses.ctc_loss with `zero_infinity` a choice: SpeechBrain fixes it at True
    (an utterance too short for its target then adds 0), HuggingSound 0.1.6 leaves transformers'
    Wav2Vec2Config.ctc_zero_infinity=False (such a batch's loss is infinite, and the Brain skips it).
    Lengths are relative, as SpeechBrain's; `reduction` is "sum" or "mean" (torch's)."""
    input_lens = (input_lens * log_probs.shape[1]).round().int()
    target_lens = (target_lens * targets.shape[1]).round().int()
    return torch.nn.functional.ctc_loss(
        log_probs.transpose(0, 1),
        targets,
        input_lens,
        target_lens,
        blank_index,
        reduction=reduction,
        zero_infinity=zero_infinity,
    )


def _numpy_state_to_tensors(state):
    """numpy's RNG state with its key array as a tensor (loadable with weights_only)."""
    name, keys, pos, has_gauss, cached = state
    return [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached]


def _numpy_state_from_tensors(state):
    name, keys, pos, has_gauss, cached = state
    return (name, keys.numpy().astype(np.uint32), pos, has_gauss, cached)


@checkpoints.register_checkpoint_hooks
class RunState:
    """What a resumed run must get back beyond weights and optimizers.

    Counts of skipped batches, the training time spent so far, the seconds
    spent in the encoder's forward pass per stage, the dev scores of every
    epoch and the random number generators' states, so an interrupted run
    continues (and reports) like an uninterrupted one.
    """

    def __init__(self):
        self.skipped_nonfinite = 0
        self.skipped_oom = 0
        self.train_seconds = 0.0
        self.encoder_seconds = {}
        self.dev_history = []
        self._since = time.monotonic()

    def elapsed(self):
        now = time.monotonic()
        self.train_seconds += now - self._since
        self._since = now
        return self.train_seconds

    @checkpoints.mark_as_saver
    def save(self, path):
        state = {
            "skipped_nonfinite": self.skipped_nonfinite,
            "skipped_oom": self.skipped_oom,
            "train_seconds": self.elapsed(),
            "encoder_seconds": self.encoder_seconds,
            "dev_history": self.dev_history,
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": _numpy_state_to_tensors(np.random.get_state()),
            "python_rng": random.getstate(),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        torch.save(state, path)

    @checkpoints.mark_as_loader
    def load(self, path, end_of_epoch=False):
        del end_of_epoch
        state = torch.load(path, weights_only=True)
        self.skipped_nonfinite = state["skipped_nonfinite"]
        self.skipped_oom = state["skipped_oom"]
        self.train_seconds = state["train_seconds"]
        self.encoder_seconds.clear()  # in place: the Brain's ForwardTimer adds to this dict
        self.encoder_seconds.update(state.get("encoder_seconds", {}))  # absent in older checkpoints
        self.dev_history = state["dev_history"]
        self._since = time.monotonic()
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(_numpy_state_from_tensors(state["numpy_rng"]))
        random.setstate(state["python_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])


class ForwardTimer:
    """Seconds spent in one part of the model, added to a dict per stage name.

    On a GPU it records CUDA events and reads them in bulk later (at stage
    ends, or every MAX_PENDING_TIMINGS calls), so no step waits for it.
    """

    def __init__(self, totals, device_type):
        self.totals = totals
        self.cuda = device_type == "cuda"
        self.pending = []

    @contextlib.contextmanager
    def measure(self, name):
        if not self.cuda:
            started = time.perf_counter()
            yield
            self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - started
            return
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        yield
        end.record()
        self.pending.append((name, start, end))
        if len(self.pending) >= MAX_PENDING_TIMINGS:
            self.settle()

    def settle(self):
        """Add the recorded GPU times to the totals (waits for the last event)."""
        for name, start, end in self.pending:
            end.synchronize()
            self.totals[name] = self.totals.get(name, 0.0) + start.elapsed_time(end) / 1000
        self.pending = []


class CTCBrain(sb.Brain):
    """Encoder -> CTC head -> log-softmax, trained with CTC, decoded greedily.

    Shared by every language and encoder: all that differs comes from hparams.
    Besides what sb.Brain does, it keeps the encoder's optimizer idle for
    `encoder_freeze_steps` (the head warms up first), computes the
    log-softmax and the CTC loss in fp32 under any autocast, skips batches
    with a non-finite loss or that run out of GPU memory (counting them, and
    stopping when more than `max_consecutive_nonfinite` non-finite ones come
    in a row; this replaces SpeechBrain's --nonfinite_patience), sets each
    optimizer step's learning rate from `lr_schedule` just before the step,
    warns about blank collapse, keeps the checkpoint `model_selection` names
    (the last epoch's, or the best by dev CER) for testing, and writes
    per-utterance test hypotheses. Under DDP each rank decodes its own
    share of dev and test, and the scores are computed from all ranks'
    hypotheses together.

    Modules: `encoder`, `head`, and `layer_weights` when the head reads a
    learned weighted sum of all hidden states (layer_aggregation: weighted).
    A frozen encoder (the probe protocol) gets exact per-utterance frame
    counts as CTC lengths, the same whether its states are computed or read
    from `feature_cache` (set by the recipe; batches then carry `feats`).
    """

    def __init__(self, modules, *args, tokenizer, run_state, **kwargs):
        super().__init__(modules, *args, **kwargs)
        self.tokenizer = tokenizer
        self.run_state = run_state
        self.blank_index = tokenizer.get_blank_index()
        self.total_optimizer_steps = 1
        self.consecutive_nonfinite = 0
        self.test_stats = None
        self.stop_signal = None
        # The modules themselves: self.modules may hold DDP wrappers of them.
        self.encoder_module = modules["encoder"]
        self.layer_weights = modules.get("layer_weights")
        self.feature_cache = None
        self.encoder_timer = ForwardTimer(run_state.encoder_seconds, self.device_type)
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("run_state", run_state)

    # ---- forward and loss ------------------------------------------------

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        if self.feature_cache is not None:
            states, lens = batch.feats  # (batch, time, states, hidden) fp16, exact frame counts
            states = states.permute(2, 0, 1, 3).float()
        else:
            wavs, lens = batch.sig
            if stage == sb.Stage.TRAIN and self.hparams.wav_augment is not None:
                wavs, lens = self.hparams.wav_augment(wavs, lens)
            with self.encoder_timer.measure(STAGE_NAMES[stage]):
                states = self.modules.encoder(wavs, lens)
            lens = self.frame_lengths(lens, wavs.shape[1], states.shape[-2])
        features = self.combine_layers(states)
        logits = self.modules.head(features, lens)
        log_probs = logits.float().log_softmax(dim=-1)
        return log_probs, lens

    def combine_layers(self, states):
        """(batch, time, hidden) features from the encoder's output: the learned weighted
        sum of all hidden states, the last of them (cached states), or the output itself."""
        if self.layer_weights is not None:
            return self.modules.layer_weights(states)
        return states[-1] if states.dim() == 4 else states

    def frame_lengths(self, wav_lens, num_samples, num_frames):
        """Each utterance's own frame count (the encoder's convolution arithmetic, as transformers
        counts it) relative to the batch's `num_frames`: relative sample lengths scaled to frames
        round one frame of padding in, or one real frame out, for about a quarter of the utterances
        of length-grouped batches."""
        samples = torch.round(wav_lens * num_samples).long()
        return self.encoder_module.frame_counts(samples).float() / num_frames

    def training_ctc_lengths(self, frame_lens):
        """The relative input lengths of the training CTC loss (`ctc_input_lengths`): each utterance's
        own frames, or, as transformers' Wav2Vec2ForCTC counts them, the whole padded batch when the
        encoder takes no attention mask. Dev and test always read each utterance's own frames."""
        if self.hparams.ctc_input_lengths == "transformers" and not self.encoder_module.pass_attention_mask:
            return torch.ones_like(frame_lens)
        return frame_lens

    def compute_objectives(self, predictions, batch, stage):
        log_probs, wav_lens = predictions
        tokens, token_lens = batch.tokens
        if stage == sb.Stage.TRAIN and self.hparams.wav_augment is not None:
            tokens = self.hparams.wav_augment.replicate_labels(tokens)
            token_lens = self.hparams.wav_augment.replicate_labels(token_lens)
        with torch.autocast(device_type=self.device_type, enabled=False):
            loss = ctc_loss(
                log_probs,
                tokens,
                self.training_ctc_lengths(wav_lens) if stage == sb.Stage.TRAIN else wav_lens,
                token_lens,
                blank_index=self.blank_index,
                reduction=self.hparams.ctc_reduction,
                zero_infinity=self.hparams.ctc_zero_infinity,
            )
        if stage != sb.Stage.TRAIN:
            hyps = [
                decode_text(self.tokenizer, ids) for ids in greedy_ctc_decode(log_probs, wav_lens, self.blank_index)
            ]
            self.hypotheses.extend(zip(batch.id, batch.wrd, hyps))
            self.eval_batches += 1
        return loss

    # ---- evaluation across DDP ranks -------------------------------------------

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """Also: under DDP, dev and test are sharded across the ranks, so N GPUs
        decode them N times faster (SpeechBrain has every rank decode all of it)."""
        if stage != sb.Stage.TRAIN and is_distributed_initialized():
            loader_kwargs["sampler"] = RankShardSampler(
                len(dataset), torch.distributed.get_rank(), torch.distributed.get_world_size()
            )
        return super().make_dataloader(dataset, stage, ckpt_prefix, **loader_kwargs)

    def gather_evaluation(self, stage_loss):
        """All ranks' (id, reference, hypothesis) rows, sorted by id, and the
        stage loss averaged over all ranks' batches; a single process's own."""
        if not is_distributed_initialized():
            return sorted(self.hypotheses), stage_loss
        shards = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(shards, (self.hypotheses, float(stage_loss), self.eval_batches))
        hypotheses = sorted(row for rows, _, _ in shards for row in rows)
        logger.info(
            "Rank %d decoded %d of %d utterances", torch.distributed.get_rank(), len(self.hypotheses), len(hypotheses)
        )
        batches = sum(n for _, _, n in shards)
        loss = sum(avg * n for _, avg, n in shards) / max(1, batches)
        return hypotheses, loss

    def score(self, hypotheses):
        """WER and CER statistics of (id, reference, hypothesis) rows (crossling_asr.decoding.metrics)."""
        ids, refs, hyps = zip(*hypotheses) if hypotheses else ((), (), ())
        self.wer_metric, self.cer_metric = error_rate_stats(ids, hyps, refs)

    # ---- preemption ------------------------------------------------------------

    def on_fit_start(self):
        """Also: SIGTERM/SIGUSR1 (SLURM preemption) make training checkpoint and exit."""
        super().on_fit_start()
        for signum in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(signum, self._request_stop)

    def _request_stop(self, signum, frame):
        logger.warning("Received %s: checkpointing at the next step, then exiting", signal.Signals(signum).name)
        self.stop_signal = signum

    def _stop_if_requested(self, save=True):
        """Checkpoint and exit (all ranks together) once a stop signal arrived."""
        if self._any_rank(self.stop_signal is not None):
            if save:
                self._save_intra_epoch_ckpt()
            self.run_state.elapsed()
            logger.warning("Stopped by signal after optimizer step %d; re-run to resume", self.optimizer_step)
            raise SystemExit(128 + (self.stop_signal or signal.SIGTERM))

    # ---- one training step -------------------------------------------------

    def fit_batch(self, batch):
        should_step = (self.step % self.grad_accumulation_factor) == 0
        self.on_fit_batch_start(batch, should_step)
        loss, problem = None, None
        with self.no_sync(not should_step):
            try:
                with self.training_ctx:
                    outputs = self.compute_forward(batch, sb.Stage.TRAIN)
                    loss = self.compute_objectives(outputs, batch, sb.Stage.TRAIN)
                problem = None if torch.isfinite(loss) else "nonfinite"
            except torch.OutOfMemoryError:
                problem = "oom"
            if self._any_rank(problem is not None):
                return self._skip_batch(batch, problem or "other rank", loss)
            self.consecutive_nonfinite = 0
            self.scaler.scale(loss / self.grad_accumulation_factor).backward()
        if should_step:
            self.hparams.lr_schedule.before_optimizer_step(self)
            self.optimizers_step()
        self.on_fit_batch_end(batch, outputs, loss, should_step)
        if should_step:
            self._stop_if_requested()
        return loss.detach().cpu()

    def _any_rank(self, flag):
        """True if `flag` is true on any DDP rank (all ranks must skip together)."""
        if not is_distributed_initialized():
            return flag
        tensor = torch.tensor([float(flag)], device=self.device)
        torch.distributed.all_reduce(tensor)
        return bool(tensor.item())

    def _skip_batch(self, batch, problem, loss):
        """Drop a batch without an update; count it; stop on a run of non-finite losses."""
        self.zero_grad(set_to_none=True)
        if problem == "oom":
            self.run_state.skipped_oom += 1
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            logger.warning(
                "Out of memory on a batch of %d utterances (%.1f s of audio); skipped. "
                "Lower max_batch_length if this repeats.",
                len(batch.id),
                float(batch.sig[0].shape[1]) / 16000 * len(batch.id),
            )
        else:
            self.run_state.skipped_nonfinite += 1
            self.consecutive_nonfinite += 1
            logger.warning("Non-finite loss (%s) on batch %s; skipped", problem, list(batch.id)[:4])
            if self.consecutive_nonfinite > self.hparams.max_consecutive_nonfinite:
                raise RuntimeError(
                    f"{self.consecutive_nonfinite} batches in a row had a non-finite loss: "
                    "training diverged. Lower the learning rates, use bf16 rather than fp16, "
                    "or check the data; the last good checkpoint is kept."
                )
        return torch.tensor(0.0)

    # ---- optimizers ----------------------------------------------------------

    def init_optimizers(self):
        """Both optimizers exist and are checkpointed from the first step on.

        Creating the encoder's only when it unfreezes would leave it out of
        checkpoints written before that (KeyError on resume).
        """
        encoder_params = [p for p in self.modules.encoder.parameters() if p.requires_grad]
        layer_weights = getattr(self.modules, "layer_weights", None)
        if layer_weights is not None:
            # The layer weights are part of the representation: the encoder's optimizer and rate
            # (the probe protocol sets the rate; its encoder contributes no other parameter).
            encoder_params += list(layer_weights.parameters())
        self.optimizers_dict = {}
        if encoder_params:  # a frozen encoder read through its last state has nothing to train
            self.optimizers_dict["encoder"] = self.hparams.encoder_optimizer(encoder_params)
        self.optimizers_dict["head"] = self.hparams.head_optimizer(self.modules.head.parameters())
        for name, opt in self.optimizers_dict.items():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
            if self.checkpointer is not None:
                self.checkpointer.add_recoverable(f"{name}_optimizer", opt)

    def freeze_optimizers(self, optimizers):
        """The encoder sits out optimizer steps 0 .. encoder_freeze_steps - 1
        (SpeechBrain asks before it counts the step in `optimizer_step`)."""
        if self.optimizer_step < self.hparams.encoder_freeze_steps:
            return {k: v for k, v in optimizers.items() if k != "encoder"}
        return optimizers

    def zero_grad(self, set_to_none=False):
        for opt in (self.optimizers_dict or {}).values():
            opt.zero_grad(set_to_none=set_to_none)

    def optimizers_step(self):
        if self.hparams.grad_clipping == "per_optimizer":
            super().optimizers_step()
        else:
            self._whole_model_step()
        # The frozen encoder's gradients must not pile up until it unfreezes.
        self.zero_grad(set_to_none=True)

    def _whole_model_step(self):
        """SpeechBrain's Brain.optimizers_step with one clipping of the gradient norm over every
        trainable parameter, as transformers' Trainer clips model.parameters() (HuggingSound 0.1.6),
        where SpeechBrain clips each optimizer's parameters on their own. Hand-written because
        SpeechBrain has no option for it; the other steps are SpeechBrain's, in its order."""
        optimizers = list(self.freeze_optimizers(self.optimizers_dict).values())
        for opt in optimizers:
            self.scaler.unscale_(opt)
        params = [p for opt in optimizers for group in opt.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        if not self.scaler.is_enabled() and self.skip_nonfinite_grads:
            self.check_gradients()
        for opt in optimizers:
            self.scaler.step(opt)
        self.scaler.update()
        self.optimizer_step += 1

    # ---- stages ------------------------------------------------------------

    def on_stage_start(self, stage, epoch=None):
        if stage != sb.Stage.TRAIN:
            self.hypotheses = []
            self.eval_batches = 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        self.encoder_timer.settle()
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            return
        self.hypotheses, stage_loss = self.gather_evaluation(stage_loss)
        self.score(self.hypotheses)
        stats = {"loss": stage_loss}
        stats["CER"] = self.cer_metric.summarize("error_rate")
        stats["WER"] = self.wer_metric.summarize("error_rate")
        empty_share = sum(1 for _, _, hyp in self.hypotheses if not hyp) / max(1, len(self.hypotheses))
        if stage == sb.Stage.VALID:
            lrs = self.hparams.lr_schedule.on_valid_end(self, stage_loss)
            if empty_share >= BLANK_COLLAPSE_SHARE:
                logger.warning(
                    "Blank collapse: %.0f%% of dev hypotheses are empty (the model emits only "
                    "blanks). Usual causes: too few steps yet, too high encoder learning rate, "
                    "too short head warm-up (encoder_freeze_steps).",
                    100 * empty_share,
                )
            stats["empty_hypotheses"] = round(empty_share, 4)
            self.hparams.train_logger.log_stats(
                stats_meta={
                    "epoch": epoch,
                    "optimizer_step": self.optimizer_step,
                    **{f"lr_{k}": v for k, v in lrs.items()},
                },
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.run_state.dev_history.append({"epoch": epoch, **stats})
            self.run_state.elapsed()
            self.checkpointer.save_and_keep_only(
                meta={"CER": stats["CER"], "WER": stats["WER"], "epoch": epoch},
                min_keys=[self.selection_key()] if self.selection_key() else None,
            )
            self._stop_if_requested(save=False)
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats
            )
            self.test_stats = {**stats, "n_utterances": len(self.hypotheses)}
            if if_main_process():
                self.write_hypotheses(self.hparams.test_hypotheses_file)
                with atomic_path(self.hparams.test_wer_file) as tmp, open(tmp, "w") as f:
                    self.wer_metric.write_stats(f)

    def selection_key(self):
        """The checkpoint meta key `model_selection` keeps and tests by: "CER" (the best by dev CER,
        besides the most recent), or None (only the most recent: the last epoch's once training ends)."""
        selection = self.hparams.model_selection
        if selection not in MODEL_SELECTIONS:
            raise ValueError(f"model_selection: {selection!r}: expected one of {', '.join(MODEL_SELECTIONS)}")
        return "CER" if selection == "best_dev_cer" else None

    def selected_checkpoint(self):
        """The checkpoint evaluate(min_key=selection_key()) tests."""
        return self.checkpointer.find_checkpoint(min_key=self.selection_key())

    def training_summary(self):
        """What training did, for results.json: take it after fit() and before evaluate(),
        which loads the best checkpoint and with it that epoch's counters."""
        return {
            "epochs": self.hparams.epoch_counter.current,
            "optimizer_steps": self.optimizer_step,
            "world_size": int(os.environ.get("WORLD_SIZE", 1)),
            "wall_seconds": round(self.run_state.elapsed(), 1),
            "encoder_forward_seconds": {
                stage: round(self.run_state.encoder_seconds.get(stage, 0.0), 3) for stage in ("train", "dev")
            },
            "skipped_nonfinite_batches": self.run_state.skipped_nonfinite,
            "skipped_oom_batches": self.run_state.skipped_oom,
            "dev_history": list(self.run_state.dev_history),
        }

    def write_hypotheses(self, path):
        """One row per test utterance: id, reference, hypothesis."""
        write_hypotheses_tsv(path, self.hypotheses)
