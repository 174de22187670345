"""# masterclass.llm

Module 7: LLM architecture: a LLaMA-style decoder-only model (`LMConfig`, `LanguageModel`), rotary
embeddings, the KV cache and generation, interop with Hugging Face Llama, flash attention, mixture
of experts, conditional computation, long-context and memory-saving attention patterns, and small
studies of scaling laws, architecture choices and activations.

`generate` lives in `masterclass.llm.generate` (import it from there: the module and the function
share the name).
"""

from masterclass.llm.config import LMConfig
from masterclass.llm.flash_attention import flash_attention
from masterclass.llm.hf_interop import from_hf_llama, to_hf_llama
from masterclass.llm.kv_cache import PagedKVCache, StaticKVCache
from masterclass.llm.memory_patterns import RollingKVCache
from masterclass.llm.model import LanguageModel
from masterclass.llm.moe import MoE

__all__ = [
    "LMConfig",
    "LanguageModel",
    "MoE",
    "PagedKVCache",
    "RollingKVCache",
    "StaticKVCache",
    "flash_attention",
    "from_hf_llama",
    "to_hf_llama",
]
