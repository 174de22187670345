"""# Module 11: research frontiers

State space models (S4D), Hyena's implicit long convolutions, Mamba's selective scan, sparse
mixtures of experts beyond top-k routing (Switch capacity, expert choice, expert parallelism) and
retrieval-based models (BM25, dense search, kNN-LM, RAG), Flamingo-style cross-modal attention, audio features (STFT, log-mel, MFCC), CLIP's multimodal embeddings, a ViT with a tiny captioner and their joint training, each checked against a reference
implementation.
"""

from masterclass.frontiers.clip import CLIPModel, clip_loss
from masterclass.frontiers.crossmodal import CrossAttention, GatedLM
from masterclass.frontiers.hyena import HyenaOperator
from masterclass.frontiers.mamba import MambaArgs, MambaLM, parallel_scan
from masterclass.frontiers.retrieval import BM25, KNNLM, DenseIndex
from masterclass.frontiers.s4d import S4D
from masterclass.frontiers.sparse import expert_choice_moe, switch_moe
from masterclass.frontiers.vit import Captioner, ViT, ViTArgs

__all__ = [
    "BM25",
    "KNNLM",
    "S4D",
    "CLIPModel",
    "Captioner",
    "CrossAttention",
    "DenseIndex",
    "GatedLM",
    "HyenaOperator",
    "MambaArgs",
    "MambaLM",
    "ViT",
    "ViTArgs",
    "clip_loss",
    "expert_choice_moe",
    "parallel_scan",
    "switch_moe",
]
