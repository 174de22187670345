"""From-scratch pruning masks against torch.nn.utils.prune; channel removal against zeroing."""

import copy

import pytest
import torch
from torch.nn.utils import prune

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.pruning import l1_unstructured_mask, num_to_prune, remove_ffn_channels


@pytest.mark.parametrize("shape", [(7,), (5, 9), (3, 4, 6)])
@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.99, 4])
def test_l1_mask_equals_torch_prune_exactly(shape, amount):
    # Random normal weights have no ties in magnitude, so the k smallest are one set: exact.
    torch.manual_seed(0)
    layer = torch.nn.Linear(1, 1)
    layer.weight = torch.nn.Parameter(torch.randn(shape))
    ours = l1_unstructured_mask(layer.weight, amount)
    prune.l1_unstructured(layer, "weight", amount)
    assert torch.equal(ours, layer.weight_mask)


def test_torch_prune_reparametrizes_then_removes():
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 4)
    dense = layer.weight.detach().clone()
    prune.l1_unstructured(layer, "weight", amount=0.5)
    # The original is kept as a parameter, the mask as a buffer, and the forward uses the product.
    assert torch.equal(layer.weight_orig, dense)
    assert torch.equal(layer.weight, dense * layer.weight_mask)
    assert int((layer.weight == 0).sum()) == num_to_prune(0.5, dense.numel())
    prune.remove(layer, "weight")
    assert not hasattr(layer, "weight_orig") and not hasattr(layer, "weight_mask")
    assert int((layer.weight == 0).sum()) == 12


@pytest.mark.parametrize("ffn", ["swiglu", "gelu"])
def test_removing_channels_equals_zeroing_them(ffn):
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4, ffn=ffn, max_seq_len=16)
    dense = LanguageModel(cfg).eval()
    small = copy.deepcopy(dense)
    for block, small_block in zip(dense.blocks, small.blocks, strict=True):
        # torch zeroes the half of the up projection's rows (hidden units) of smallest L2 norm...
        prune.ln_structured(block.ffn.up, "weight", amount=0.5, n=2, dim=0)
        keep = block.ffn.up.weight_mask[:, 0].nonzero().flatten()  # (d_ff / 2,)
        # ...and we delete those units from the copy.
        remove_ffn_channels(small_block.ffn, keep)
        assert small_block.ffn.up.out_features == small_block.ffn.down.in_features == cfg.d_ff // 2
    idx = torch.randint(0, 64, (2, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        # The same sums without the zero terms: equal up to the order of fp32 additions.
        torch.testing.assert_close(small(idx), dense(idx), rtol=1e-5, atol=1e-6)
    n_small = sum(p.numel() for p in small.parameters())
    assert n_small < sum(p.numel() for n, p in dense.named_parameters() if "mask" not in n)


def test_bad_input():
    with pytest.raises(ValueError, match=r"must be in \[0, 1\], got 1.5"):
        l1_unstructured_mask(torch.ones(3), 1.5)
    with pytest.raises(ValueError, match=r"must be in \[0, 3\], got 5"):
        num_to_prune(5, 3)
    with pytest.raises(TypeError, match="amount must be a float fraction"):
        num_to_prune("half", 3)
    with pytest.raises(TypeError, match="weight must be a tensor"):
        l1_unstructured_mask([1.0], 0.5)
    ffn = (
        LanguageModel(LMConfig.llama(vocab_size=8, d_model=8, n_layers=1, n_heads=2)).blocks[0].ffn
    )
    with pytest.raises(ValueError, match="keep must hold between 1 and"):
        remove_ffn_channels(ffn, torch.tensor([0, 999]))
    with pytest.raises(ValueError, match="keep must be a 1-D int64"):
        remove_ffn_channels(ffn, torch.tensor([0.0]))
    with pytest.raises(TypeError, match=r"ffn needs nn\.Linear attributes"):
        remove_ffn_channels(torch.nn.ReLU(), torch.tensor([0]))
