"""The exported head: hidden layers and batch norm become plain layers."""

import torch

from crossling_asr.model.heads import CTCHead


def test_a_head_with_hidden_layers_and_batch_norm_becomes_plain_layers():
    """SpeechBrain's stock head (hidden layers, batch norm, dropout) maps onto torch/SpeechBrain layers."""
    from hyperpyyaml import load_hyperpyyaml

    from crossling_asr.interop.encoder_asr import head_layers_yaml
    from crossling_asr.model.trained_model import exported_head_state

    torch.manual_seed(0)
    head = CTCHead(input_size=16, n_tokens=7, hidden_layers=[12, 10], dropout=0.1, batch_norm=True)
    head.train()(torch.randn(4, 9, 16))  # move the batch norm statistics away from their initial values
    head.eval()
    plain = load_hyperpyyaml("ctc_head: !new:torch.nn.Sequential\n" + head_layers_yaml(head))["ctc_head"]
    plain.load_state_dict(exported_head_state(head))
    plain.eval()
    features = torch.randn(2, 5, 16)
    assert torch.allclose(plain(features), head(features), atol=1e-6)
