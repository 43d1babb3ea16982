"""Weighted layers of a frozen encoder: a softmax over the layers that weights their states."""

import math

import pytest
import torch

from crossling_asr.model.layer_weights import LayerWeights


def test_layer_weights_are_a_softmax_and_weight_the_states():
    weights = LayerWeights(3)
    with torch.no_grad():
        weights.logits.copy_(torch.tensor([0.0, 1.0, 2.0]))
    expected = [math.exp(v) / sum(math.exp(u) for u in (0, 1, 2)) for v in (0, 1, 2)]
    assert weights.as_list() == pytest.approx(expected)
    states = torch.randn(3, 2, 5, 4)
    by_hand = sum(w * states[i] for i, w in enumerate(expected))
    assert torch.allclose(weights(states), by_hand, atol=1e-6)
    with pytest.raises(ValueError, match="4 hidden states given, 3 weights"):
        weights(torch.randn(4, 2, 5, 4))
