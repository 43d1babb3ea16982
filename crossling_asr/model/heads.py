"""The CTC heads put on top of an encoder.

Every head is called as head(features, lengths): features (batch, time,
hidden) and each utterance's length relative to `time`, which frame-wise
heads do not need and recurrent ones use to leave the padding out.
"""

import torch
from speechbrain.nnet.RNN import rnn_init


class CTCHead(torch.nn.Sequential):
    """Optional hidden layers, then a linear layer to the CTC vocabulary.

    `n_tokens` always comes from the tokenizer (never from a separate number
    in hparams), so the output layer cannot disagree with the vocabulary.
    The study uses no hidden layer (a single linear layer); SpeechBrain's
    stock recipe uses three of 1024 units with batch norm and LeakyReLU.
    `init_std` None keeps torch's initialisation of the linear layers; a number
    draws their weights from N(0, init_std^2) with zero biases, as transformers
    initialises Wav2Vec2ForCTC's lm_head (Wav2Vec2PreTrainedModel._init_weights,
    std config.initializer_range).
    """

    def __init__(self, input_size, n_tokens, hidden_layers=(), dropout=0.0, batch_norm=False, init_std=None):
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
        if init_std is not None:
            for layer in self:
                if isinstance(layer, torch.nn.Linear):
                    torch.nn.init.normal_(layer.weight, mean=0.0, std=init_std)
                    torch.nn.init.zeros_(layer.bias)

    def forward(self, x, lengths=None):
        """Frame by frame: `lengths` is not needed."""
        del lengths
        return super().forward(x)


PROBE_HEADS = ("bilstm", "linear")


class ProbeCTCHead(torch.nn.Module):
    """The probe protocol's head: MP3S's BiLSTM, or a single linear layer.

    `bilstm`: `lstm_layers` bidirectional LSTM layers of `lstm_units` per
    direction (dropout between them), initialised as SpeechBrain's LSTM
    does, then a linear layer to the vocabulary; the padded frames are
    packed away, so an utterance's output does not depend on what it was
    batched with. `linear`: only the linear layer (the study's head).
    """

    def __init__(self, input_size, n_tokens, kind="bilstm", lstm_layers=2, lstm_units=1024, dropout=0.2):
        super().__init__()
        if kind not in PROBE_HEADS:
            raise ValueError(f"probe head {kind!r}: expected one of {', '.join(PROBE_HEADS)}")
        self.lstm = None
        size = input_size
        if kind == "bilstm":
            self.lstm = torch.nn.LSTM(
                input_size,
                lstm_units,
                num_layers=lstm_layers,
                bidirectional=True,
                batch_first=True,
                dropout=dropout if lstm_layers > 1 else 0.0,
            )
            rnn_init(self.lstm)
            size = 2 * lstm_units
        self.output = torch.nn.Linear(size, n_tokens)
        self.n_tokens = n_tokens

    def forward(self, x, lengths=None):
        if self.lstm is not None:
            frames = x.shape[1]
            if lengths is None:
                lengths = torch.ones(x.shape[0])
            counts = torch.round(lengths.float() * frames).long().clamp(1, frames).cpu()
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, counts, batch_first=True, enforce_sorted=False)
            x, _ = torch.nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=frames)
        return self.output(x)


class _TimeBatchNorm(torch.nn.BatchNorm1d):
    """BatchNorm1d over the feature axis of (batch, time, features) input."""

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)
