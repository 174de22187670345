"""Pruning against torch.nn.utils.prune, numpy references, and the OBS identities."""

import copy

import numpy as np
import pytest
import torch
from torch.nn.utils import prune

from masterclass.deploy.pruning import (
    calibration_stats,
    head_scores,
    magnitude_prune,
    prune_attention_heads,
    prune_ffn_neurons,
    prune_model,
    semi_structured_mask,
    sparsegpt_prune,
    wanda_prune,
)
from masterclass.deploy.pruning import row_mask as _row_mask


def test_magnitude_matches_torch_prune():
    # Reference: torch.nn.utils.prune's L1 unstructured (per tensor) and global unstructured masks.
    torch.manual_seed(0)
    a, b = torch.nn.Linear(16, 12), torch.nn.Linear(12, 8)
    wa, wb = a.weight.detach().clone(), b.weight.detach().clone()
    # amounts with an integer count: torch rounds the count, we truncate it.
    prune.l1_unstructured(a, "weight", amount=0.375)
    assert torch.equal(magnitude_prune(wa, 0.375, scope="tensor")[0], a.weight_mask.bool())
    a2, b2 = torch.nn.Linear(16, 12), torch.nn.Linear(12, 8)
    a2.weight.data.copy_(wa)
    b2.weight.data.copy_(wb)
    prune.global_unstructured([(a2, "weight"), (b2, "weight")], prune.L1Unstructured, amount=0.5)
    ma, mb = magnitude_prune([wa, wb], 0.5, scope="global")
    assert torch.equal(ma, a2.weight_mask.bool()) and torch.equal(mb, b2.weight_mask.bool())
    rows = magnitude_prune(wa, 0.5)[0]
    assert (rows.sum(1) == 8).all()  # each row keeps exactly half
    kept, dropped = wa.abs().masked_fill(~rows, np.inf), wa.abs().masked_fill(rows, -np.inf)
    assert (kept.min(1).values >= dropped.max(1).values).all()


def test_wanda_matches_its_formula_in_numpy():
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(6, 10)), rng.normal(size=(50, 10)) * rng.uniform(0.1, 5, 10)
    norm = np.linalg.norm(x, axis=0)
    mask = wanda_prune(torch.tensor(w), torch.tensor(norm), 0.3).numpy()
    score = np.abs(w) * norm
    want = np.ones_like(mask)
    for i, row in enumerate(score):
        want[i, np.argsort(row, kind="stable")[:3]] = False
    assert (mask == want).all()
    # With equal input norms Wanda is per-row magnitude pruning.
    ones = torch.ones(10, dtype=torch.float64)
    assert torch.equal(
        wanda_prune(torch.tensor(w), ones, 0.5), magnitude_prune(torch.tensor(w), 0.5)[0]
    )


def test_sparsegpt_with_identity_hessian_is_magnitude_pruning_bitwise():
    torch.manual_seed(0)
    w = torch.randn(8, 16)
    out = sparsegpt_prune(w, torch.eye(16), 0.5)
    assert torch.equal(out, w * magnitude_prune(w, 0.5)[0])
    out24 = sparsegpt_prune(w, torch.eye(16), 0.5, n_m=(2, 4))
    assert torch.equal(out24, w * semi_structured_mask(w.abs()))


def test_layer_error_sparsegpt_below_wanda_below_magnitude():
    # Inputs with a few outlier features (as in LLMs). Layer-wise output error on the calibration
    # inputs: Wanda looks at the inputs, SparseGPT also compensates, magnitude does neither.
    g = torch.Generator().manual_seed(0)
    w = torch.randn(32, 64, generator=g, dtype=torch.float64)
    x = torch.randn(512, 64, generator=g, dtype=torch.float64)
    x[:, :4] *= 20
    H, norm = x.T @ x, x.norm(dim=0)

    def err(wp):
        return ((x @ w.T - x @ wp.T) ** 2).sum().item()

    e_mag = err(w * magnitude_prune(w, 0.5)[0])
    e_wanda = err(w * wanda_prune(w, norm, 0.5))
    e_sgpt = err(sparsegpt_prune(w, H, 0.5))
    assert e_sgpt < e_wanda < e_mag
    assert ((sparsegpt_prune(w, H, 0.5) == 0).sum(1) == 32).all()


def test_dead_inputs_never_break_the_cholesky():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(100, 12, generator=g, dtype=torch.float64)
    x[:, [2, 7]] = 0  # two inputs that are always zero: H is singular
    w = torch.randn(5, 12, generator=g, dtype=torch.float64)
    out = sparsegpt_prune(w, x.T @ x, 0.5)
    assert torch.isfinite(out).all() and (out[:, [2, 7]] == 0).all()


def test_two_four_pattern_has_exactly_two_nonzeros_per_group(make_lm):
    model = make_lm(0, vocab=64)
    calib = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(0))
    for method in ("magnitude", "wanda", "sparsegpt"):
        m = prune_model(copy.deepcopy(model), method, calibration=calib, n_m=(2, 4))
        for name, mod in m.named_modules():
            if name.startswith("blocks.") and isinstance(mod, torch.nn.Linear):
                nz = (mod.weight != 0).reshape(mod.weight.shape[0], -1, 4).sum(-1)
                assert (nz == 2).all(), (method, name)
    s = torch.tensor([[0.3, -2.0, 1.0, 0.5]])
    assert semi_structured_mask(s).tolist() == [[False, False, True, True]]


def test_ffn_neuron_pruning_equals_masking_the_neurons(make_lm):
    # Reference: the original model with the dropped neurons' `down` columns zeroed. Same
    # arithmetic on fewer terms: 1e-5.
    model = make_lm(0, vocab=64)
    calib = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(0))
    stats = calibration_stats(model, calib)
    small = prune_ffn_neurons(copy.deepcopy(model), 0.5, calib)
    masked = copy.deepcopy(model)
    for i, block in enumerate(masked.blocks):
        score = block.ffn.down.weight.norm(dim=0).double() * stats[f"blocks.{i}.ffn.down"]["norm"]
        keep = torch.zeros_like(score, dtype=torch.bool)
        keep[score.argsort(descending=True)[: small.blocks[i].ffn.down.in_features]] = True
        block.ffn.down.weight.data[:, ~keep] = 0
    d_ff = model.blocks[0].ffn.down.in_features
    assert small.blocks[0].ffn.down.in_features == round(d_ff * 0.5)
    x = torch.randint(0, 64, (1, 12))
    torch.testing.assert_close(small(x), masked(x), rtol=1e-5, atol=1e-5)


def _o_proj_inputs(model, x):
    # The attention outputs Z (B T, H D) that each block's o_proj reads, captured by hooks.
    seen = {}
    hooks = [
        b.attn.o_proj.register_forward_hook(
            lambda m, a, o, i=i: seen.__setitem__(i, a[0].reshape(-1, a[0].shape[-1]))
        )
        for i, b in enumerate(model.blocks)
    ]
    model(x)
    for h in hooks:
        h.remove()
    return seen


@pytest.mark.parametrize("n_kv_heads", [2, 4])
def test_head_pruning_equals_the_masked_dense_model(make_lm, n_kv_heads):
    # GQA (4 query heads over 2 KV heads: query heads pruned inside each group) and MHA (whole
    # heads with their keys and values). Reference: the dense model with the dropped heads'
    # o_proj columns zeroed. float64; the pruned product sums fewer terms, so agreement is to
    # rounding (1e-12), not bitwise.
    from masterclass.llm import LanguageModel, LMConfig

    torch.manual_seed(0)
    cfg = LMConfig.llama(
        vocab_size=64, d_model=32, n_layers=2, n_heads=4, n_kv_heads=n_kv_heads, max_seq_len=64
    )
    cfg.init_std = 0.3
    model = LanguageModel(cfg).double().eval()
    calib = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(1))
    x = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(2))
    scores = head_scores(model, calib)
    # The score is the norm of each head's contribution ||Z_h W_h^T||_F, here from Z in numpy.
    z = _o_proj_inputs(model, calib)
    for i, block in enumerate(model.blocks):
        w = block.attn.o_proj.weight.detach().numpy()
        zi = z[i].detach().numpy()
        want = [
            np.linalg.norm(zi[:, h * 8 : h * 8 + 8] @ w[:, h * 8 : h * 8 + 8].T) for h in range(4)
        ]
        np.testing.assert_allclose(scores[i].numpy(), want, rtol=1e-10)
    small = prune_attention_heads(copy.deepcopy(model), 0.5, calib)
    masked = copy.deepcopy(model)
    for block, small_block, score in zip(masked.blocks, small.blocks, scores):
        rep = 4 // n_kv_heads
        if rep > 1:
            kept = [
                g * rep + int(score[g * rep : g * rep + rep].argmax()) for g in range(n_kv_heads)
            ]
        else:
            kept = score.argsort(descending=True)[:2].tolist()
        for h in set(range(4)) - set(kept):
            block.attn.o_proj.weight.data[:, h * 8 : h * 8 + 8] = 0
        assert small_block.attn.n_heads == 2 and small_block.attn.o_proj.in_features == 16
        assert small_block.attn.n_kv_heads == (n_kv_heads if rep > 1 else 2)
    torch.testing.assert_close(small(x), masked(x), rtol=0, atol=1e-12)
    assert small.num_parameters() < model.num_parameters()
    # keep = 1 changes nothing.
    same = prune_attention_heads(copy.deepcopy(model), 1.0, calib)
    torch.testing.assert_close(same(x), model(x), rtol=0, atol=1e-12)


def test_gqa_head_pruning_keeps_cached_decoding(make_lm):
    # Under GQA the KV heads stay, so the model's own KV-cache decoding still works and agrees
    # with its full forward (float32 reordering: 1e-5).
    model = make_lm(0, vocab=64)
    calib = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(0))
    small = prune_attention_heads(copy.deepcopy(model), 0.5, calib)
    x = torch.randint(0, 64, (1, 10), generator=torch.Generator().manual_seed(3))
    full = small(x)
    cfg = small.config
    empty = torch.zeros(cfg.n_layers, 1, cfg.n_kv_heads, 0, cfg.head_dim)
    _, k, v = small.forward_with_past(x[:, :6], empty, empty)
    logits, _, _ = small.forward_with_past(x[:, 6:], k, v)
    torch.testing.assert_close(logits, full[:, 6:], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_on_a_trained_model_wanda_and_sparsegpt_lose_less_than_magnitude():
    from masterclass.llm import LMConfig
    from masterclass.llm.tiny_runs import byte_data, evaluate, train_tiny

    data = byte_data(40_000, 6_000)
    cfg = LMConfig.llama(vocab_size=256, d_model=32, n_layers=2, n_heads=4, max_seq_len=64)
    trained = train_tiny(cfg, data, steps=60, batch_size=8, seq_len=32, lr=3e-3).model
    calib = torch.stack([data[0][i * 32 : (i + 1) * 32] for i in range(16)])
    loss = {
        m: evaluate(prune_model(copy.deepcopy(trained), m, 0.5, calibration=calib), data[1], 32)
        for m in ("magnitude", "wanda", "sparsegpt")
    }
    assert loss["wanda"] <= loss["magnitude"] and loss["sparsegpt"] <= loss["magnitude"], loss


def test_bad_arguments(make_lm):
    with pytest.raises(ValueError, match="sparsity must be in"):
        _row_mask(torch.ones(2, 2), 1.0)
    with pytest.raises(ValueError, match="scope must be"):
        magnitude_prune(torch.ones(2, 2), 0.5, scope="rows")
    with pytest.raises(ValueError, match="cols divisible by m"):
        semi_structured_mask(torch.ones(2, 6))
    with pytest.raises(ValueError, match="H must be"):
        sparsegpt_prune(torch.ones(2, 4), torch.eye(3), 0.5)
    with pytest.raises(ValueError, match="needs calibration"):
        prune_model(make_lm(0, vocab=64), "wanda")
    with pytest.raises(ValueError, match="method must be"):
        prune_model(make_lm(0, vocab=64), "random")
    calib = torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="keep must be in"):
        prune_attention_heads(make_lm(0, vocab=64), 0.0, calib)
    alibi = make_lm(0, vocab=64)
    alibi.config.pos = "alibi"
    with pytest.raises(ValueError, match="alibi"):
        prune_attention_heads(alibi, 0.5, calib)
