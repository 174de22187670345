"""Reference tests for cross-modal attention: torch's MultiheadAttention, and Flamingo's zero gate."""

import pytest
import torch

from masterclass.frontiers.crossmodal import CrossAttention, GatedLM
from masterclass.llm import LanguageModel, LMConfig


def test_cross_attention_equals_torch_multihead_attention_value_and_gradient():
    torch.manual_seed(0)
    ours = CrossAttention(d_model=16, d_context=12, n_heads=4).double()
    ref = torch.nn.MultiheadAttention(
        16, 4, bias=False, kdim=12, vdim=12, batch_first=True
    ).double()
    with torch.no_grad():
        # kdim != embed_dim: torch keeps separate q/k/v projection weights.
        ref.q_proj_weight.copy_(ours.q.weight)
        ref.k_proj_weight.copy_(ours.k.weight)
        ref.v_proj_weight.copy_(ours.v.weight)
        ref.out_proj.weight.copy_(ours.o.weight)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 16, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 9, 12, generator=g, dtype=torch.float64, requires_grad=True)
    out, w = ours(x, y, return_weights=True)
    ref_out, ref_w = ref(x, y, y, average_attn_weights=False)
    # float64, the same products in a different order: 1e-12.
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(w, ref_w, atol=1e-12, rtol=0)
    gw = torch.randn_like(out)
    g1 = torch.autograd.grad((out * gw).sum(), (x, y))
    g2 = torch.autograd.grad((ref_out * gw).sum(), (x, y))
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def _lm():
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=60, d_model=32, n_layers=3, n_heads=4, max_seq_len=32)
    return LanguageModel(cfg).eval()


def test_zero_gates_leave_the_logits_unchanged_exactly_and_still_learn():
    lm = _lm()
    model = GatedLM(lm, d_context=24, every=2)
    idx = torch.randint(0, 60, (2, 11), generator=torch.Generator().manual_seed(0))
    image = torch.randn(2, 7, 24, generator=torch.Generator().manual_seed(1))
    logits = model(idx, image)
    with torch.no_grad():
        assert torch.equal(logits, lm(idx))  # bit-identical: tanh(0) = 0
    # The gates get a gradient at 0 (tanh'(0) = 1); the frozen LM gets none.
    logits.square().mean().backward()
    assert all(float(x.attn_gate.grad.abs()) > 0 for x in model.xattn)
    assert all(p.grad is None for p in lm.parameters())
    # An open gate changes the logits, and the image matters.
    with torch.no_grad():
        model.xattn[0].attn_gate.fill_(1.0)
        assert not torch.equal(model(idx, image), lm(idx))
        assert not torch.equal(model(idx, image), model(idx, image.flip(1).roll(1, dims=2)))


def test_text_side_stays_causal():
    model = GatedLM(_lm(), d_context=8)
    with torch.no_grad():
        for x in model.xattn:
            x.attn_gate.fill_(0.5)
            x.ffn_gate.fill_(0.5)
        idx = torch.randint(0, 60, (1, 10), generator=torch.Generator().manual_seed(2))
        image = torch.randn(1, 4, 8)
        changed = idx.clone()
        changed[0, 6:] = (changed[0, 6:] + 1) % 60
        # Rounding may differ with the causal SDPA kernel's blocking; outputs before 6 agree to 1e-6.
        torch.testing.assert_close(
            model(idx, image)[:, :6], model(changed, image)[:, :6], atol=1e-6, rtol=0
        )


def test_bad_input():
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by n_heads \(4\)"):
        CrossAttention(10, 8, 4)
    with pytest.raises(ValueError, match="same B"):
        CrossAttention(8, 8, 2)(torch.zeros(2, 3, 8), torch.zeros(1, 3, 8))
    with pytest.raises(ValueError, match="every must be >= 1"):
        GatedLM(_lm(), 8, every=0)
