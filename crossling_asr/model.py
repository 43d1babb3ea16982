"""The CTC head put on top of an encoder."""

import torch


class CTCHead(torch.nn.Sequential):
    """Optional hidden layers, then a linear layer to the CTC vocabulary.

    `n_tokens` always comes from the tokenizer (never from a separate number
    in hparams), so the output layer cannot disagree with the vocabulary.
    The study uses no hidden layer (a single linear layer); SpeechBrain's
    stock recipe uses three of 1024 units with batch norm and LeakyReLU.
    """

    def __init__(self, input_size, n_tokens, hidden_layers=(), dropout=0.0, batch_norm=False):
        layers = []
        size = input_size
        for width in hidden_layers:
            layers.append(torch.nn.Linear(size, width))
            if batch_norm:
                layers.append(_TimeBatchNorm(width))
            layers.append(torch.nn.LeakyReLU())
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
            size = width
        if dropout and not hidden_layers:
            layers.append(torch.nn.Dropout(dropout))
        layers.append(torch.nn.Linear(size, n_tokens))
        super().__init__(*layers)
        self.n_tokens = n_tokens


class _TimeBatchNorm(torch.nn.BatchNorm1d):
    """BatchNorm1d over the feature axis of (batch, time, features) input."""

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)
