"""# Module 12: ethics and safety

Measuring and reducing what can go wrong with a language model: bias in its embeddings, decisions
and completions; leaks of its training data, and the differential privacy that bounds them;
filters and refusals; attacks on images and tokens; calibration and robustness; and the tools that
read a model's internals. Every chapter checks its numbers against a reference library (fairlearn,
opacus, torchmetrics, captum, scikit-learn) and runs on small data that ships in the package.
"""

from masterclass.safety.bias import weat
from masterclass.safety.interpretability import direct_logit_attribution, integrated_gradients
from masterclass.safety.privacy import RDPAccountant, dp_sgd_step
from masterclass.safety.robustness import expected_calibration_error
from masterclass.safety.safety_filters import GuardedModel, NaiveBayesFilter, RuleFilter

__all__ = [
    "GuardedModel",
    "NaiveBayesFilter",
    "RDPAccountant",
    "RuleFilter",
    "direct_logit_attribution",
    "dp_sgd_step",
    "expected_calibration_error",
    "integrated_gradients",
    "weat",
]
