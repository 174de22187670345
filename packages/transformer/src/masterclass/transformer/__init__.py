"""# masterclass.transformer

Module 6: the Transformer: attention, BERT, GPT, T5, sparse and efficient attention.

The main objects are re-exported here, so that `from masterclass.transformer import
MultiHeadAttention` works; each lives in the chapter named after its concept.
"""

from masterclass.transformer.attention import (
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)
from masterclass.transformer.bert import BertConfig, BertForMaskedLM, BertModel, mask_tokens
from masterclass.transformer.embeddings import Embeddings
from masterclass.transformer.feedforward import ACTIVATIONS, FeedForward
from masterclass.transformer.gpt import GPT, GPTConfig
from masterclass.transformer.linear_attention import linear_attention
from masterclass.transformer.linformer import LinformerSelfAttention, linformer_attention
from masterclass.transformer.longformer import sliding_window_attention, sliding_window_mask
from masterclass.transformer.multi_head_attention import MultiHeadAttention
from masterclass.transformer.performer import performer_attention
from masterclass.transformer.sampling import generate, sample_next_token
from masterclass.transformer.sparse_attention import (
    block_sparse_attention,
    fixed_pattern,
    strided_pattern,
)
from masterclass.transformer.t5 import T5Config, T5ForConditionalGeneration, span_corruption
from masterclass.transformer.transformer_block import BlockConfig, TransformerBlock

__all__ = [
    "ACTIVATIONS",
    "GPT",
    "BertConfig",
    "BertForMaskedLM",
    "BertModel",
    "BlockConfig",
    "Embeddings",
    "FeedForward",
    "GPTConfig",
    "LinformerSelfAttention",
    "MultiHeadAttention",
    "T5Config",
    "T5ForConditionalGeneration",
    "TransformerBlock",
    "block_sparse_attention",
    "causal_mask",
    "fixed_pattern",
    "generate",
    "linear_attention",
    "linformer_attention",
    "mask_tokens",
    "padding_mask",
    "performer_attention",
    "sample_next_token",
    "scaled_dot_product_attention",
    "sliding_window_attention",
    "sliding_window_mask",
    "span_corruption",
    "strided_pattern",
]
