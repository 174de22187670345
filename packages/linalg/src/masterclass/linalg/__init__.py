"""# masterclass.linalg

Module 1: mathematics for machine learning (linear algebra, calculus and optimization, probability).

Each file is a chapter; this module re-exports the objects later modules use, so that
`from masterclass.linalg import adamw_step, linear_warmup_cosine` works.
"""

from masterclass.linalg.cross_entropy import (
    cross_entropy,
    cross_entropy_dist,
    cross_entropy_grad,
    kl_divergence,
    kl_mvn,
    kl_normal,
    log_softmax,
    logsumexp,
    softmax,
)
from masterclass.linalg.information_theory import (
    conditional_entropy,
    distribution_perplexity,
    entropy,
    joint_entropy,
    mutual_information,
    perplexity,
)
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
    "conditional_entropy",
    "constant",
    "cosine",
    "cross_entropy",
    "cross_entropy_dist",
    "cross_entropy_grad",
    "distribution_perplexity",
    "entropy",
    "exponential",
    "joint_entropy",
    "kl_divergence",
    "kl_mvn",
    "kl_normal",
    "linear_warmup_cosine",
    "log_softmax",
    "logsumexp",
    "mutual_information",
    "one_cycle",
    "perplexity",
    "rmsprop_init",
    "rmsprop_step",
    "sgd_init",
    "sgd_step",
    "softmax",
    "step_decay",
    "warmup_stable_decay",
]
