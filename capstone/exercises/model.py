r"""# Exercises: The model: a small LLaMA, sized for a laptop

The sizing formulas made exact: the weights of the LLaMA recipe and the training FLOPs per token,
counted by hand and checked against `llm`'s `LanguageModel` over random shapes."""

import random

from masterclass.llm import LanguageModel, LMConfig


def solution_1_count_parameters(vocab_size, d_model, n_layers, n_heads, n_kv_heads, d_ff) -> int:
    """Weights of the untied LLaMA recipe: embedding, head, attention, SwiGLU and RMSNorm gains."""
    head_dim = d_model // n_heads
    attention = d_model * (n_heads + 2 * n_kv_heads) * head_dim + d_model * d_model  # qkv, out
    swiglu = 3 * d_model * d_ff  # up, gate, down
    gains = 2 * d_model  # the two RMSNorms of a block
    return 2 * vocab_size * d_model + n_layers * (attention + swiglu + gains) + d_model


def _random_config(rng: random.Random) -> LMConfig:
    n_heads = rng.choice([1, 2, 4])
    n_kv_heads = rng.choice([h for h in (1, 2, 4) if n_heads % h == 0])
    d_model = n_heads * rng.choice([8, 16])
    return LMConfig.llama(
        vocab_size=rng.randint(257, 600),
        d_model=d_model,
        n_layers=rng.randint(1, 3),
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        max_seq_len=rng.choice([16, 32, 64]),
    )


def check_1_count_parameters(fn) -> None:
    """Against `LanguageModel.num_parameters()` over random shapes, grouped-query ones included."""
    rng = random.Random(0)
    for _ in range(8):
        c = _random_config(rng)
        want = LanguageModel(c).num_parameters()
        got = fn(c.vocab_size, c.d_model, c.n_layers, c.n_heads, c.n_kv_heads, c.d_ff)
        assert got == want, (
            f"count_parameters(V={c.vocab_size}, d={c.d_model}, L={c.n_layers}, H={c.n_heads}, "
            f"KV={c.n_kv_heads}, d_ff={c.d_ff}) = {got}, the model has {want} "
            "(untied embedding and head; K and V have n_kv_heads heads; RMSNorm has a gain only)"
        )


def solution_2_train_flops_per_token(
    vocab_size, d_model, n_layers, n_heads, n_kv_heads, d_ff, seq_len
) -> int:
    """Forward + backward FLOPs per token: 6 per matrix weight, and 12 L T d for attention scores."""
    head_dim = d_model // n_heads
    per_layer = d_model * (n_heads + 2 * n_kv_heads) * head_dim + d_model * d_model
    per_layer += 3 * d_model * d_ff
    matrices = vocab_size * d_model + n_layers * per_layer  # the embedding is a lookup, no FLOPs
    forward = 2 * matrices + n_layers * 4 * seq_len * d_model  # QK^T and AV: 2 T d each
    return 3 * forward


def check_2_train_flops_per_token(fn) -> None:
    """Against `LanguageModel.flops_per_token()` over random shapes and context lengths."""
    rng = random.Random(1)
    for _ in range(8):
        c = _random_config(rng)
        model = LanguageModel(c)
        for t in (c.max_seq_len, c.max_seq_len // 2):
            want = model.flops_per_token(t)
            got = fn(c.vocab_size, c.d_model, c.n_layers, c.n_heads, c.n_kv_heads, c.d_ff, t)
            assert got == want, (
                f"train_flops_per_token(V={c.vocab_size}, d={c.d_model}, L={c.n_layers}, "
                f"H={c.n_heads}, KV={c.n_kv_heads}, d_ff={c.d_ff}, T={t}) = {got}, the model "
                f"counts {want} (2 FLOPs per weight of each matrix product forward, twice that "
                "backward; the embedding lookup costs none)"
            )
