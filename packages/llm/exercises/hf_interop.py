r"""# Exercises: Interoperability with Hugging Face Llama

The one layout difference that is more than a rename: our fused `qkv` projection against HF's
separate `q_proj`, `k_proj`, `v_proj`, both ways."""

import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.hf_interop import llama_state_dict
from masterclass.llm.model import LanguageModel

CONFIGS = [
    dict(vocab_size=32, d_model=16, n_layers=1, n_heads=4, n_kv_heads=4),
    dict(vocab_size=32, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2),
    dict(vocab_size=32, d_model=24, n_layers=1, n_heads=6, n_kv_heads=1),
]


def solution_1_split_qkv(
    qkv: torch.Tensor, n_heads: int, n_kv_heads: int, head_dim: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows `[q (H D); k (H_kv D); v (H_kv D)]` of the fused weight, cut into three."""
    return tuple(qkv.split([n_heads * head_dim, n_kv_heads * head_dim, n_kv_heads * head_dim]))


def check_1_split_qkv(fn) -> None:
    """Compare with the `q_proj`, `k_proj`, `v_proj` weights of the chapter's `llama_state_dict`
    (which HF's `LlamaForCausalLM` loads, checked by the chapter's tests)."""
    torch.manual_seed(0)
    for kwargs in CONFIGS:
        cfg = LMConfig.llama(**kwargs)
        model = LanguageModel(cfg)
        sd = llama_state_dict(model)
        for i, block in enumerate(model.blocks):
            got = fn(block.attn.qkv.weight.detach(), cfg.n_heads, cfg.n_kv_heads, cfg.head_dim)
            for name, part in zip(("q_proj", "k_proj", "v_proj"), got):
                want = sd[f"model.layers.{i}.self_attn.{name}.weight"]
                assert part.shape == want.shape and torch.equal(part, want), (
                    f"{kwargs}, layer {i}: {name} differs (shape {tuple(part.shape)}, "
                    f"want {tuple(want.shape)})"
                )


def solution_2_fuse_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The inverse: stack the three projections' rows."""
    return torch.cat([q, k, v], dim=0)


def check_2_fuse_qkv(fn) -> None:
    """Rebuild each layer's fused weight from the HF-named state dict."""
    torch.manual_seed(1)
    for kwargs in CONFIGS:
        model = LanguageModel(LMConfig.llama(**kwargs))
        sd = llama_state_dict(model)
        for i, block in enumerate(model.blocks):
            parts = [sd[f"model.layers.{i}.self_attn.{n}_proj.weight"] for n in "qkv"]
            got = fn(*parts)
            assert torch.equal(got, block.attn.qkv.weight.detach()), (
                f"{kwargs}, layer {i}: the fused weight differs from the model's qkv"
            )
