"""A transformers export holds every weight under the names transformers 4.x loads, and 5 still loads it.

transformers 4.23-4.29 build each family's positional convolution with torch's older weight norm
(`nn.utils.weight_norm(conv, name="weight", dim=2)`, transformers' modeling_<family>.py), whose
state-dict entries are `weight_g` and `weight_v`; a weight saved under any other name is left at
random initialisation there without an error. The names expected here come from applying that very
torch function to each weight-normalised convolution of the model, not from the export's code.
bench/transformers4_compat.py loads a real export with transformers 4.24 and HuggingSound.
"""

import warnings

import pytest
import torch
import transformers
from safetensors import safe_open
from torch.nn.utils import parametrize

from crossling_asr.interop.transformers_ctc import save_transformers4_compatible
from crossling_asr.model.families import FAMILIES
from crossling_asr.model.tiny_encoders import TINY_ARCHITECTURE


def tiny_ctc_model(family):
    """A tiny random `family` *ForCTC whose weight-norm magnitudes are not the norms of their directions,
    as after training (at initialisation they are, which would hide a mix-up of the two)."""
    config = getattr(transformers, FAMILIES[family].config)(**TINY_ARCHITECTURE, vocab_size=12)
    torch.manual_seed(0)
    model = getattr(transformers, FAMILIES[family].ctc)(config).eval()
    with torch.no_grad():
        for module in weight_normed_modules(model).values():
            module.parametrizations.weight.original0.mul_(1.5)
    return model


def weight_normed_modules(model):
    """{state-dict prefix: module} of the modules whose weight is weight-normalised (torch parametrization)."""
    return {prefix: m for prefix, m in model.named_modules() if parametrize.is_parametrized(m, "weight")}


def transformers4_names(model):
    """The state-dict names of `model`'s weights in a transformers 4.24 model of the same configuration."""
    names = set(model.state_dict())
    for prefix, module in weight_normed_modules(model).items():
        # A plain convolution of the same shape (a copy of a parametrized module shares its class with it).
        plain = torch.nn.Conv1d(module.in_channels, module.out_channels, module.kernel_size, groups=module.groups)
        with warnings.catch_warnings():  # torch's deprecated weight norm: the one transformers 4.24 used
            warnings.simplefilter("ignore")
            legacy = torch.nn.utils.weight_norm(plain, name="weight", dim=2)
        names -= {n for n in names if n.startswith(f"{prefix}.parametrizations.weight.")}
        names |= {f"{prefix}.{name}" for name in legacy.state_dict()}
    return names


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_weight_is_saved_under_its_transformers4_name(family, tmp_path):
    model = tiny_ctc_model(family)
    expected = transformers4_names(model)
    assert len(weight_normed_modules(model)) == 1  # the positional convolution
    assert sum(name.endswith((".weight_g", ".weight_v")) for name in expected) == 2

    save_transformers4_compatible(model, tmp_path)

    with safe_open(tmp_path / "model.safetensors", "pt") as saved:
        assert saved.metadata() == {"format": "pt"}  # what transformers 4.x requires of a safetensors file
        assert set(saved.keys()) == expected
        state = model.state_dict()
        for name in expected - set(state):
            assert name.endswith((".weight_g", ".weight_v"))
        for name in expected & set(state):
            assert torch.equal(saved.get_tensor(name), state[name]), name
        # 4.x's weight: weight_v scaled to norm weight_g along every dim but the kernel's (dim=2).
        for prefix, module in weight_normed_modules(model).items():
            g, v = saved.get_tensor(f"{prefix}.weight_g"), saved.get_tensor(f"{prefix}.weight_v")
            norms = v.norm(dim=(0, 1), keepdim=True)
            torch.testing.assert_close(v * g / norms, module.weight.detach())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_transformers5_loads_the_old_names_into_every_weight(family, tmp_path):
    model = tiny_ctc_model(family)
    save_transformers4_compatible(model, tmp_path)

    loaded, info = getattr(transformers, FAMILIES[family].ctc).from_pretrained(tmp_path, output_loading_info=True)

    assert {key: value for key, value in info.items() if value} == {}
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
