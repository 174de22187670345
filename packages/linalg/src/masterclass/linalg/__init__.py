"""# masterclass.linalg

Module 1: mathematics for machine learning (linear algebra, calculus and optimization, probability).

Each file is a chapter, and each object is imported from its chapter:
`from masterclass.linalg.svd import svd`, `from masterclass.linalg.pca import PCA`. This module
re-exports only what later modules build on: the optimizer steps (wrapped by Module 2's and
Module 8's optimizers), the learning-rate schedules (Module 8's training loop) and `logsumexp`
(Module 5's hidden Markov models), so that
`from masterclass.linalg import adamw_step, linear_warmup_cosine` works.
"""

from masterclass.linalg.cross_entropy import logsumexp
from masterclass.linalg.optimizers import (
    AdamState,
    SGDState,
    adam_init,
    adam_step,
    adamw_init,
    adamw_step,
    sgd_init,
    sgd_step,
)
from masterclass.linalg.schedules import linear_warmup_cosine, warmup_stable_decay

__all__ = [
    "AdamState",
    "SGDState",
    "adam_init",
    "adam_step",
    "adamw_init",
    "adamw_step",
    "linear_warmup_cosine",
    "logsumexp",
    "sgd_init",
    "sgd_step",
    "warmup_stable_decay",
]
