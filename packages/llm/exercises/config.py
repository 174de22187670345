r"""# Exercises: The model configuration

The gated FFN's width rule and the parameter count a configuration implies."""

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel


def solution_1_gated_d_ff(d_model: int) -> int:
    r"""Three matrices of $d \times d_{ff}$ hold what two of $d \times 4d$ do when
    $3 d\, d_{ff} = 8 d^2$, so $d_{ff} = \tfrac83 d$, rounded up to a multiple of 64."""
    return 64 * -(-(8 * d_model) // (3 * 64))


def check_1_gated_d_ff(fn) -> None:
    """Compare with the width `LMConfig.llama` picks for a SwiGLU FFN."""
    for d_model in (8, 64, 96, 192, 256, 4096, 5120):
        want = LMConfig.llama(d_model=d_model, n_heads=2).d_ff
        got = fn(d_model)
        assert got == want, (
            f"d_model={d_model}: got d_ff={got}, LMConfig picks {want} "
            "(8/3 d_model rounded UP to a multiple of 64)"
        )


def solution_2_llama_parameters(
    vocab_size: int, d_model: int, n_layers: int, n_heads: int, n_kv_heads: int
) -> int:
    r"""Per block: $W_q, W_o$ ($d^2$ each), $W_k, W_v$ ($d \cdot H_{kv} D$ each), three FFN
    matrices, two RMSNorm gains; plus the embedding, the untied output head and the final norm."""
    head_dim = d_model // n_heads
    d_ff = solution_1_gated_d_ff(d_model)
    attention = 2 * d_model * d_model + 2 * d_model * n_kv_heads * head_dim
    block = attention + 3 * d_model * d_ff + 2 * d_model
    return n_layers * block + 2 * vocab_size * d_model + d_model


def check_2_llama_parameters(fn) -> None:
    """Count the parameters of the real `LanguageModel` built from the same LLaMA config."""
    for V, d, L, H, H_kv in [(50, 32, 1, 4, 4), (256, 64, 2, 4, 2), (1000, 96, 3, 6, 1)]:
        model = LanguageModel(
            LMConfig.llama(vocab_size=V, d_model=d, n_layers=L, n_heads=H, n_kv_heads=H_kv)
        )
        want = model.num_parameters()
        got = fn(V, d, L, H, H_kv)
        assert got == want, (
            f"V={V}, d={d}, L={L}, H={H}, H_kv={H_kv}: got {got}, the model has {want} "
            f"(off by {got - want}: keys and values have H_kv heads, the head is untied)"
        )
