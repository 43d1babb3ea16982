"""The probe heads: a BiLSTM head ignores padding."""

import torch

from crossling_asr.model.heads import ProbeCTCHead


def test_bilstm_probe_head_ignores_padding():
    torch.manual_seed(0)
    head = ProbeCTCHead(6, 5, lstm_units=8).eval()
    features = torch.randn(2, 9, 6)
    batched = head(features, torch.tensor([1.0, 4 / 9]))
    alone = head(features[1:, :4], torch.tensor([1.0]))
    assert batched.shape == (2, 9, 5)
    assert torch.allclose(batched[1, :4], alone[0], atol=1e-6)
