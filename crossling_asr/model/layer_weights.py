"""A learned softmax-weighted sum of an encoder's hidden states.

The SUPERB / MP3S probing setup (SpeechBrain's WeightedSSLModel, ESPnet's
multilayer features): one scalar per hidden state, normalised with a
softmax, so the weights are positive, sum to 1 and say how much of each
layer the head uses. Zero-initialised: training starts from the plain mean.
It is its own module, beside the encoder, so that under DDP its gradient is
synchronised whether or not the encoder is frozen (a frozen encoder is not
wrapped in DistributedDataParallel).
"""

import torch


class LayerWeights(torch.nn.Module):
    """(states, batch, time, hidden) -> (batch, time, hidden), weighted by softmax(logits)."""

    def __init__(self, num_states):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.zeros(num_states))

    def forward(self, states):
        if states.shape[0] != self.logits.shape[0]:
            raise ValueError(f"{states.shape[0]} hidden states given, {self.logits.shape[0]} weights learned")
        return torch.einsum("lbth,l->bth", states, self.normalized().to(states.dtype))

    def normalized(self):
        """The weights as they are applied: softmax of the logits (positive, summing to 1)."""
        return torch.softmax(self.logits.float(), dim=0)

    def as_list(self):
        """The normalised weights by hidden-state index (0: feature projection, i: layer i)."""
        return [float(w) for w in self.normalized().detach().cpu()]
