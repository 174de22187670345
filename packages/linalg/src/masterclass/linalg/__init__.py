"""# masterclass.linalg

Module 1: mathematics for machine learning (linear algebra, calculus and optimization, probability).

Each file is a chapter; this module re-exports the objects later modules use, so that
`from masterclass.linalg import adamw_step, linear_warmup_cosine` works.
"""

from masterclass.linalg.optimizers import (
    AdagradState,
    AdamState,
    RMSpropState,
    SGDState,
    adagrad_init,
    adagrad_step,
    adam_init,
    adam_step,
    adamw_init,
    adamw_step,
    rmsprop_init,
    rmsprop_step,
    sgd_init,
    sgd_step,
)
from masterclass.linalg.schedules import (
    constant,
    cosine,
    exponential,
    linear_warmup_cosine,
    one_cycle,
    step_decay,
    warmup_stable_decay,
)

__all__ = [
    "AdagradState",
    "AdamState",
    "RMSpropState",
    "SGDState",
    "adagrad_init",
    "adagrad_step",
    "adam_init",
    "adam_step",
    "adamw_init",
    "adamw_step",
    "constant",
    "cosine",
    "exponential",
    "linear_warmup_cosine",
    "one_cycle",
    "rmsprop_init",
    "rmsprop_step",
    "sgd_init",
    "sgd_step",
    "step_decay",
    "warmup_stable_decay",
]
