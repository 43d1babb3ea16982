"""The exported head: hidden layers and batch norm become plain layers; the exported decoder is the one the
LM was tuned with, pruning included."""

import inspect
import json

import pytest
import torch

from crossling_asr.decoding.beam_search import resolve_lm_weights
from crossling_asr.model.heads import CTCHead
from tests.helpers.lm import char_tokenizer, random_sentences, tuned_lm


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


def exported_searcher(hyperparams, model_dir, vocab):
    """The beam searcher EncoderASR builds from an export's hyperparams.yaml: its decoder section loaded by
    hyperpyyaml (without the encoder the rest builds), then decoding_function(**test_beam_search, vocab_list)."""
    from hyperpyyaml import load_hyperpyyaml

    section = hyperparams[hyperparams.index("decoding_function:") : hyperparams.index("\nmodules:")]
    loaded = load_hyperpyyaml(f"model_dir: {json.dumps(str(model_dir))}\n{section}")
    return loaded["decoding_function"](**loaded["test_beam_search"], vocab_list=vocab)


@pytest.mark.parametrize(
    "pruning",
    [
        {"token_prune_min_logp": -4.0, "beam_prune_logp": -8.0},
        None,  # a tuning file from before pruning was recorded: SpeechBrain's thresholds
    ],
)
def test_the_exported_decoder_is_the_one_the_lm_was_tuned_with(tmp_path, pruning):
    from speechbrain.decoders.ctc import CTCBeamSearcher

    from crossling_asr.interop.encoder_asr import exported_hyperparams

    recorded = {"beam_size": 32} if pruning is None else {"beam_size": 32, "pruning": pruning}
    arpa = tuned_lm(tmp_path, **recorded)
    tokenizer = char_tokenizer(random_sentences())
    vocab = [tokenizer.ind2lab[i] for i in range(len(tokenizer))]
    head = torch.nn.Sequential(torch.nn.Linear(4, len(vocab)))
    hyperparams = exported_hyperparams(tmp_path, head, tokenizer.get_blank_index(), resolve_lm_weights(arpa))
    searcher = exported_searcher(hyperparams, tmp_path, vocab)
    speechbrains = inspect.signature(CTCBeamSearcher).parameters
    assert (searcher.alpha, searcher.beta, searcher.beam_size) == (1.25, 2.0, 32)
    for name in ("token_prune_min_logp", "beam_prune_logp"):
        assert getattr(searcher, name) == (pruning or {}).get(name, speechbrains[name].default), name
        assert (f"    {name}: " in hyperparams) == (pruning is not None), name
