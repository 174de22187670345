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
from masterclass.transformer.feedforward import ACTIVATIONS, FeedForward
from masterclass.transformer.multi_head_attention import MultiHeadAttention

__all__ = [
    "ACTIVATIONS",
    "FeedForward",
    "MultiHeadAttention",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
]
