"""The checked weight copier: transposes and splits against Hugging Face's `Conv1D`, the inverse
(export) into a real `GPT2LMHeadModel`, and every refusal of an incomplete conversion."""

import pytest
import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.pytorch_utils import Conv1D

from masterclass.transformer.gpt import GPT, GPTConfig, hf_gpt2_links
from masterclass.transformer.hf_weights import Link, load_weights, ours_to_theirs, theirs_to_ours


class ThreeProjections(nn.Module):
    """Our side of a fused attention input: three `nn.Linear` of width `C`."""

    def __init__(self, C: int) -> None:
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(C, C).double() for _ in range(3))


QKV = [
    Link(("q.weight", "k.weight", "v.weight"), "c_attn.weight", transpose=True),
    Link(("q.bias", "k.bias", "v.bias"), "c_attn.bias"),
]


def test_transpose_and_split_match_hf_conv1d():
    # The reference is transformers' own `Conv1D` (x W + b with W (in, out)), fused; after the
    # copy our three nn.Linear must give its three output blocks. float64, the same few products
    # in another order: 1e-12.
    torch.manual_seed(0)
    C = 8
    conv = Conv1D(3 * C, C).double()
    nn.init.normal_(conv.weight)
    nn.init.normal_(conv.bias)
    ours = ThreeProjections(C)
    links = [
        Link(("q.weight", "k.weight", "v.weight"), "weight", transpose=True),
        Link(("q.bias", "k.bias", "v.bias"), "bias"),
    ]
    load_weights(ours, conv.state_dict(), links)
    x = torch.randn(4, 5, C, dtype=torch.float64)
    want = conv(x).split(C, dim=-1)
    for proj, w in zip((ours.q, ours.k, ours.v), want):
        torch.testing.assert_close(proj(x), w, atol=1e-12, rtol=1e-12)


def test_unequal_split_and_inverse_round_trip():
    # Grouped-query rows: 4 query rows, 2 key, 2 value. Import then export must give back exactly
    # the same tensors (pure data movement: compared with torch.equal).
    g = torch.Generator().manual_seed(0)
    theirs = {n: torch.randn(r, 3, generator=g) for n, r in (("q", 4), ("k", 2), ("v", 2))}
    links = [Link("qkv", ("q", "k", "v"), sizes=(4, 2, 2))]
    ours = theirs_to_ours(theirs, links)
    assert torch.equal(ours["qkv"], torch.cat([theirs["q"], theirs["k"], theirs["v"]]))
    back = ours_to_theirs(ours, links)
    assert back.keys() == theirs.keys()
    assert all(torch.equal(back[n], theirs[n]) for n in theirs)


def test_conversion_is_differentiable():
    # Gradients convert by the inverse rule (the Jacobian of a data movement is a permutation):
    # d/d(c_attn) of sum(ours) * weights equals the export of the weights. Exact.
    theirs = {"c_attn.weight": torch.randn(2, 6, requires_grad=True), "c_attn.bias": torch.zeros(6)}
    ours = theirs_to_ours(theirs, QKV)
    seeds = {n: torch.randn_like(t) for n, t in ours.items()}
    sum((ours[n] * seeds[n]).sum() for n in ours).backward()
    assert torch.equal(theirs["c_attn.weight"].grad, ours_to_theirs(seeds, QKV)["c_attn.weight"])


def test_gpt_export_loads_strictly_into_hf_gpt2():
    # The inverse table on a real model: our GPT exported under HF's names fills a fresh
    # GPT2LMHeadModel exactly (strict load), and the two give the same logits (float32, 1e-5).
    torch.manual_seed(0)
    ours = GPT(GPTConfig(vocab_size=53, max_positions=16, d_model=16, n_layers=2, n_heads=2)).eval()
    hf = GPT2LMHeadModel(
        GPT2Config(vocab_size=53, n_positions=16, n_embd=16, n_layer=2, n_head=2,
                   resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    ).eval()  # fmt: skip
    sd = ours_to_theirs(ours.state_dict(), hf_gpt2_links(2))
    sd["lm_head.weight"] = sd["transformer.wte.weight"]
    hf.load_state_dict(sd, strict=True)
    ids = torch.randint(0, 53, (2, 10), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids)[0], hf(ids).logits, atol=1e-5, rtol=1e-5)


def _theirs(C=4):
    return {"c_attn.weight": torch.zeros(C, 3 * C), "c_attn.bias": torch.zeros(3 * C)}


def test_refuses_incomplete_or_inconsistent_conversions():
    model = ThreeProjections(4)
    # A source the table names is missing from the checkpoint.
    with pytest.raises(ValueError, match=r"sources missing .*\['c_attn.bias'\]"):
        load_weights(model, {"c_attn.weight": torch.zeros(4, 12)}, QKV)
    # A tensor of the checkpoint nobody reads (an extra bias the model has no place for).
    with pytest.raises(ValueError, match=r"nobody reads \['extra.bias'\]"):
        load_weights(model, {**_theirs(), "extra.bias": torch.zeros(4)}, QKV)
    # A parameter of ours without a source, and a destination the model does not have.
    with pytest.raises(ValueError, match=r"without a source \['v.bias'\]"):
        short = Link(("q.bias", "k.bias"), "c_attn.bias", sizes=(4, 8))
        load_weights(model, _theirs(), [QKV[0], short])
    with pytest.raises(ValueError, match=r"model does not have \['w.bias'\]"):
        long = Link(("q.bias", "k.bias", "v.bias", "w.bias"), "c_attn.bias", sizes=(4, 4, 4, 0))
        load_weights(model, _theirs(), [QKV[0], long])
    # A shape that differs (a checkpoint of another width); the model is left untouched.
    before = model.q.weight.clone()
    with pytest.raises(ValueError, match=r"shape mismatch for q.weight: ours \(4, 4\)"):
        load_weights(model, _theirs(C=5) | {"c_attn.bias": torch.zeros(12)}, QKV)
    assert torch.equal(model.q.weight, before)
    # Pieces that do not fit, a destination written twice, a many-to-many row.
    with pytest.raises(ValueError, match="do not split into 3 equal pieces"):
        theirs_to_ours({"w": torch.zeros(4, 2)}, [Link(("a", "b", "c"), "w")])
    with pytest.raises(ValueError, match="sum to 5, the tensor has 4 rows"):
        theirs_to_ours({"w": torch.zeros(4, 2)}, [Link(("a", "b"), "w", sizes=(2, 3))])
    with pytest.raises(ValueError, match=r"writes \['a'\] more than once"):
        theirs_to_ours({"w": torch.zeros(1), "u": torch.zeros(1)}, [Link("a", "w"), Link("a", "u")])
    with pytest.raises(ValueError, match="only one side may have several names"):
        Link(("a", "b"), ("c", "d"))
    with pytest.raises(ValueError, match="only matrices can be transposed"):
        theirs_to_ours({"b": torch.zeros(3)}, [Link("a", "b", transpose=True)])


def test_tied_copies_are_checked_equal_not_read():
    # GPT-2's lm_head.weight is a copy of wte: accepted when equal, refused when untied.
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=31, n_positions=8, n_embd=8, n_layer=1, n_head=2))
    ours = GPT(GPTConfig(vocab_size=31, max_positions=8, d_model=8, n_layers=1, n_heads=2))
    sd = hf.state_dict()
    ours.load_hf_state_dict(sd)
    torch.testing.assert_close(ours.embeddings.tokens.weight, hf.transformer.wte.weight)
    untied = {**sd, "lm_head.weight": sd["lm_head.weight"] + 1.0}
    with pytest.raises(ValueError, match=r"lm_head.weight is declared tied .* untied"):
        ours.load_hf_state_dict(untied)
