"""# masterclass.llm

Module 7: LLM architecture: a LLaMA-style decoder-only model (`LMConfig`, `LanguageModel`), rotary
embeddings, the KV cache and generation, interop with Hugging Face Llama, flash attention, mixture
of experts, conditional computation, long-context and memory-saving attention patterns.

`generate` lives in `masterclass.llm.generate` (import it from there: the module and the function
share the name).
"""

from masterclass.llm.config import LMConfig
from masterclass.llm.kv_cache import PagedKVCache, StaticKVCache
from masterclass.llm.model import LanguageModel

__all__ = ["LMConfig", "LanguageModel", "PagedKVCache", "StaticKVCache"]
