"""`LanguageModel`: parameter and FLOP counts by hand, every variant, the loss, the pure-tensor
incremental path, bf16 autocast and ONNX export."""

import pytest
import torch
import torch.nn.functional as F
from transformers.models.bloom.modeling_bloom import build_alibi_tensor

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.model import alibi_slopes

TINY = dict(vocab_size=97, d_model=64, n_layers=2, n_heads=4, max_seq_len=64)


def test_parameter_count_matches_hand_count():
    cfg = LMConfig.llama(**TINY, n_kv_heads=2)  # D = 16, d_ff = 192 (8/3 * 64 rounded up to 64)
    model = LanguageModel(cfg)
    embedding = 97 * 64
    per_layer = (
        64 * (4 + 2 + 2) * 16  # fused q, k, v projection
        + 64 * 64  # output projection
        + 64 * 2 * 192  # gate and up
        + 192 * 64  # down
        + 2 * 64  # two RMSNorm gains
    )
    expected = embedding + 2 * per_layer + 64 + 97 * 64  # + final norm + untied lm_head
    assert model.num_parameters() == expected
    assert model.num_parameters(non_embedding=True) == expected - embedding
    tied = LanguageModel(LMConfig.llama(**TINY, n_kv_heads=2, tie_embeddings=True))
    assert tied.num_parameters() == expected - 97 * 64


def test_flops_per_token_matches_hand_count():
    cfg = LMConfig.gpt2(**TINY)  # MHA, GELU MLP with d_ff = 256, learned positions
    model = LanguageModel(cfg)
    matmul = 2 * (64 * 3 * 64 + 64 * 64 + 2 * 64 * 256) + 97 * 64  # 2 layers + tied lm_head
    attention = 2 * 4 * 32 * 64  # 2 layers x (QK^T + AV) x 2 FLOPs x T=32 x H D=64
    assert model.flops_per_token(32, training=False) == 2 * matmul + attention
    assert model.flops_per_token(32) == 3 * (2 * matmul + attention)


def test_alibi_slopes_match_bloom():
    # BLOOM's build_alibi_tensor is HF's reference ALiBi: entry (h, j) = slope_h * j.
    for n_heads in (4, 6, 8, 12):
        alibi = build_alibi_tensor(torch.ones(1, 5), n_heads, torch.float32)  # (H, 1, 5)
        torch.testing.assert_close(alibi_slopes(n_heads), alibi[:, 0, 1], atol=0, rtol=1e-6)


VARIANTS = [
    dict(ffn="swiglu", norm="rmsnorm", pos="rope"),
    dict(ffn="geglu", norm="layernorm", pos="alibi", bias=True),
    dict(ffn="gelu", norm="layernorm", pos="learned", tie_embeddings=True, bias=True),
    dict(ffn="relu2", norm="rmsnorm", pos="none", n_kv_heads=1),
    dict(ffn="swiglu", norm="rmsnorm", pos="rope", sliding_window=4, n_kv_heads=2),
    dict(ffn="silu", norm="rmsnorm", pos="rope", norm_position="post"),
    dict(ffn="swiglu", norm="rmsnorm", pos="rope", sliding_window=3, global_every=2),
    dict(ffn="swiglu", norm="rmsnorm", pos="rope", rope_interleaved=True, dropout=0.1),
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_loss_and_gradients_for_every_variant(variant):
    # The returned loss must be F.cross_entropy of the returned logits (float32 math: 1e-6), and
    # every parameter must receive a gradient.
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(**TINY, **variant)).eval()
    idx = torch.randint(0, 97, (2, 12))
    targets = torch.randint(0, 97, (2, 12))
    targets[0, :3] = -100
    logits, loss = model(idx, targets)
    assert logits.shape == (2, 12, 97)
    torch.testing.assert_close(
        loss, F.cross_entropy(logits.view(-1, 97), targets.view(-1)), atol=1e-6, rtol=1e-6
    )
    model.train()
    model(idx, targets)[1].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("variant", VARIANTS[:-1])  # all but the one with dropout
def test_causality(variant, perturb):
    # Changing a future token must not change earlier logits (exact up to float32 noise: 1e-6).
    torch.manual_seed(0)
    model = perturb(LanguageModel(LMConfig(**TINY, **variant))).eval()
    idx = torch.randint(0, 97, (1, 10))
    changed = idx.clone()
    changed[0, 7] = (idx[0, 7] + 1) % 97
    with torch.no_grad():
        torch.testing.assert_close(model(idx)[:, :7], model(changed)[:, :7], atol=1e-6, rtol=1e-6)


FFN_FORMULAS = {
    "swiglu": lambda g, u: F.silu(g) * u,
    "geglu": lambda g, u: F.gelu(g, approximate="tanh") * u,
    "gelu": lambda a, _: F.gelu(a, approximate="tanh"),
    "silu": lambda a, _: a * torch.sigmoid(a),
    "relu2": lambda a, _: torch.clamp(a, min=0) ** 2,
}


@pytest.mark.parametrize("kind", sorted(FFN_FORMULAS))
def test_ffn_kinds_match_textbook_formulas(kind):
    # Each LMConfig.ffn must build the FFN its name promises: compared with the formula written
    # with torch.nn.functional in float64 (1e-12).
    torch.manual_seed(0)
    block = LanguageModel(LMConfig(**TINY, ffn=kind)).blocks[0].double()
    ffn = block.ffn
    x = torch.randn(2, 3, 64, dtype=torch.float64)
    up = x @ ffn.up.weight.T
    gate = x @ ffn.gate.weight.T if ffn.gate is not None else None
    h = FFN_FORMULAS[kind](gate, up) if gate is not None else FFN_FORMULAS[kind](up, None)
    torch.testing.assert_close(ffn(x), h @ ffn.down.weight.T, atol=1e-12, rtol=1e-12)


def test_post_norm_block_matches_formula(perturb):
    # norm(x + attn(x)) then norm(x + ffn(x)), written out with the block's own sub-modules.
    model = perturb(LanguageModel(LMConfig(**TINY, norm_position="post"))).eval()
    block = model.blocks[0]
    x = torch.randn(1, 6, 64)
    rope = model._rope(0, 6, x.device)
    with torch.no_grad():
        h = block.attn_norm(x + block.attn(x, rope, None, None, 0))
        expected = block.ffn_norm(h + block.ffn(h))
        torch.testing.assert_close(block(x, rope, None, None, 0), expected, atol=1e-6, rtol=1e-6)


def test_sliding_window_equals_explicit_masked_attention(perturb):
    # Reference: the same model with its attention mask replaced by a hand-built banded mask in a
    # float64 copy; our float32 model must agree within 1e-5.
    torch.manual_seed(0)
    cfg = LMConfig(**TINY, sliding_window=3)
    model = perturb(LanguageModel(cfg)).eval()
    full = perturb(LanguageModel(LMConfig(**TINY))).eval().double()
    idx = torch.randint(0, 97, (2, 9))
    i, j = torch.arange(9)[:, None], torch.arange(9)[None]
    band = (j <= i) & (j > i - 3)
    with torch.no_grad():
        ref = full.lm_head(_run_with_mask(full, idx, band))
        torch.testing.assert_close(model(idx).double(), ref, atol=1e-5, rtol=1e-5)


def _run_with_mask(model, idx, mask):
    x = model.tok_emb(idx)
    rope = model._rope(0, idx.shape[1], idx.device)
    rope = tuple(t.double() for t in rope)
    for layer, block in enumerate(model.blocks):
        x = block(x, rope, mask, None, layer)
    return model.norm(x)


def test_forward_with_past_matches_full_forward(tiny_llama):
    # Splitting a sequence into a prefix and a continuation must reproduce the full forward's
    # logits (float32, different reduction order in attention: 1e-5).
    idx = torch.randint(0, 97, (3, 13))
    L, H_kv, D = 2, 2, 16
    with torch.no_grad():
        full = tiny_llama(idx)
        empty = torch.zeros(L, 3, H_kv, 0, D)
        l1, k, v = tiny_llama.forward_with_past(idx[:, :8], empty, empty)
        l2, k, v = tiny_llama.forward_with_past(idx[:, 8:], k, v)
    assert k.shape == v.shape == (L, 3, H_kv, 13, D)
    torch.testing.assert_close(torch.cat((l1, l2), dim=1), full, atol=1e-5, rtol=1e-5)


def test_bf16_autocast_is_close_to_float32(tiny_llama):
    # bf16 has an 8-bit mantissa (relative error ~4e-3 per op); through 2 layers the logits stay
    # within 0.1 absolute of float32 for these O(1) logits, and the loss within 2%.
    idx = torch.randint(0, 97, (2, 16))
    with torch.no_grad():
        ref_logits, ref_loss = tiny_llama(idx, idx)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits, loss = tiny_llama(idx, idx)
    assert (logits.float() - ref_logits).abs().max() < 0.1
    assert abs(loss.item() - ref_loss.item()) < 0.02 * ref_loss.item()


def test_learned_positions_reject_too_long_input():
    model = LanguageModel(LMConfig.gpt2(**TINY))
    with pytest.raises(ValueError, match="learned positions cover 64"):
        model(torch.zeros(1, 65, dtype=torch.long))


def test_bad_idx_is_rejected(tiny_llama):
    with pytest.raises(ValueError, match="integer tensor of shape"):
        tiny_llama(torch.zeros(2, 3))


@pytest.mark.slow
def test_onnx_export_with_dynamic_lengths_matches_onnxruntime(tiny_llama, tmp_path):
    # onnxruntime is the reference runtime; float32 kernels differ in summation order: 1e-5.
    ort = pytest.importorskip("onnxruntime")

    class Step(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, idx, past_keys, past_values):
            return self.model.forward_with_past(idx, past_keys, past_values)

    B, T, P = (torch.export.Dim(n) for n in ("batch", "seq", "past"))
    args = (torch.randint(0, 97, (2, 3)), torch.randn(2, 2, 2, 4, 16), torch.randn(2, 2, 2, 4, 16))
    path = tmp_path / "lm.onnx"
    torch.onnx.export(
        Step(tiny_llama),
        args,
        str(path),
        dynamo=True,
        input_names=["idx", "past_keys", "past_values"],
        output_names=["logits", "keys", "values"],
        dynamic_shapes={
            "idx": {0: B, 1: T},
            "past_keys": {1: B, 3: P},
            "past_values": {1: B, 3: P},
        },
        verbose=False,
    )
    session = ort.InferenceSession(str(path))
    for b, t, p in [(1, 5, 0), (3, 1, 7), (2, 4, 4)]:
        idx, pk, pv = (
            torch.randint(0, 97, (b, t)),
            torch.randn(2, b, 2, p, 16),
            torch.randn(2, b, 2, p, 16),
        )
        with torch.no_grad():
            expected = tiny_llama.forward_with_past(idx, pk, pv)
        got = session.run(
            None, {"idx": idx.numpy(), "past_keys": pk.numpy(), "past_values": pv.numpy()}
        )
        for g, e in zip(got, expected):
            torch.testing.assert_close(torch.from_numpy(g), e, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", [dict(n_kv_heads=2), dict(pos="alibi"), dict(sliding_window=3)])
def test_fused_attention_equals_the_transformer_chapters(variant, perturb, monkeypatch):
    # The model dispatches to torch's fused SDPA for speed; swapping in the from-scratch attention
    # of Module 6 must not change the logits (float32, different kernels: 1e-5).
    from masterclass.transformer.attention import scaled_dot_product_attention

    model = perturb(LanguageModel(LMConfig(**TINY, **variant))).eval()
    idx = torch.randint(0, 97, (2, 10))
    with torch.no_grad():
        fused = model(idx)
        monkeypatch.setattr(F, "scaled_dot_product_attention", scaled_dot_product_attention)
        ours = model(idx)
    torch.testing.assert_close(ours, fused, atol=1e-5, rtol=1e-5)


def test_gpt2_recipe_equals_hf_gpt2(perturb):
    # Learned positions, LayerNorm with bias, a GELU MLP, biased projections and tied embeddings,
    # against transformers' GPT-2 with the weights copied (its Conv1D stores W transposed).
    # float32, same ops in another order: 1e-5.
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = LMConfig.gpt2(vocab_size=97, d_model=64, n_layers=2, n_heads=4, max_seq_len=32)
    model = perturb(LanguageModel(cfg)).eval()
    hf_cfg = GPT2Config(
        vocab_size=97, n_positions=32, n_embd=64, n_layer=2, n_head=4, n_inner=256,
        activation_function="gelu_new", layer_norm_epsilon=cfg.norm_eps, resid_pdrop=0.0,
        embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True,
    )  # fmt: skip
    hf = GPT2LMHeadModel(hf_cfg).eval()
    ours = dict(model.named_parameters())
    with torch.no_grad():
        t = hf.transformer
        t.wte.weight.copy_(ours["tok_emb.weight"])
        t.wpe.weight.copy_(ours["pos_emb.weight"])
        t.ln_f.weight.copy_(ours["norm.weight"])
        t.ln_f.bias.copy_(ours["norm.bias"])
        for k, h in enumerate(t.h):
            p = f"blocks.{k}."
            for hf_ln, our_ln in [(h.ln_1, "attn_norm"), (h.ln_2, "ffn_norm")]:
                hf_ln.weight.copy_(ours[p + our_ln + ".weight"])
                hf_ln.bias.copy_(ours[p + our_ln + ".bias"])
            for conv, lin in [
                (h.attn.c_attn, "attn.qkv"),
                (h.attn.c_proj, "attn.o_proj"),
                (h.mlp.c_fc, "ffn.up"),
                (h.mlp.c_proj, "ffn.down"),
            ]:
                conv.weight.copy_(ours[p + lin + ".weight"].T)
                conv.bias.copy_(ours[p + lin + ".bias"])
    assert hf.lm_head.weight.data_ptr() == t.wte.weight.data_ptr()  # HF ties too
    idx = torch.randint(0, 97, (2, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(idx), hf(idx).logits, atol=1e-5, rtol=1e-5)
