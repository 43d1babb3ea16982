"""Gradient checkpointing gives the same loss and gradients as a plain forward pass (no timings)."""

import pytest
import torch

from crossling_asr.model.encoders import build_encoder, resolve_encoder


@pytest.mark.parametrize("model_type", ["wav2vec2", "wavlm"])
def test_gradient_checkpointing_gives_the_same_loss_and_gradients(model_type, tiny_encoders, tmp_path):
    torch.manual_seed(0)
    wavs, lens = torch.randn(2, 16000), torch.tensor([1.0, 0.7])
    results = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        name = "xlsr-53" if model_type == "wav2vec2" else "wavlm-large"
        encoder = build_encoder(
            resolve_encoder(name, tiny_encoders[model_type]),
            tmp_path / str(checkpointing),
            config_overrides={
                "layerdrop": 0.0,
                "hidden_dropout": 0.0,
                "attention_dropout": 0.0,
                "activation_dropout": 0.0,
                "feat_proj_dropout": 0.0,
                "mask_time_prob": 0.0,
            },
            gradient_checkpointing=checkpointing,
        )
        encoder.train()
        saved = []  # bytes of the activations autograd keeps for the backward pass
        with torch.autograd.graph.saved_tensors_hooks(lambda t, saved=saved: saved.append(t.nbytes) or t, lambda t: t):
            loss = encoder(wavs, lens).pow(2).mean()
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in encoder.parameters() if p.grad is not None])
        results.append((loss.item(), grads, sum(saved)))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
    assert torch.allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-6)
    # ... and checkpointing is really on: the transformer layers' activations are not kept.
    assert results[1][2] < 0.5 * results[0][2]
