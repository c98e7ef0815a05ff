"""Attention layers: MultiHeadAttention, Attention and AdditiveAttention (explicit forward / backward)."""
from pynn.layers.attention.additive_attention import AdditiveAttention
from pynn.layers.attention.attention import Attention
from pynn.layers.attention.multi_head_attention import MultiHeadAttention

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]
