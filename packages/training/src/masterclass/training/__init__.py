"""# masterclass.training

Module 8: training methodology: the pretraining loop, schedules, losses, fine-tuning.

- `optim`: AdamW as a `torch.optim.Optimizer` over Module 1's step function (`AdamW`).
- `schedule`: learning-rate schedules applied per step (`LRSchedule`, `make_schedule`).
- `loop`: the pretraining loop (`TrainConfig`, `train`, `evaluate_loss`).
- `data_cleaning`, `token_distribution`, `curriculum`, `losses`: the data and the objective.
- `instruction_tuning`, `lora`, `rlhf`, `dpo`, `constitutional`, `finetune`: post-training.
- `few_shot`: in-context evaluation (`multiple_choice_eval`, `exact_match_eval`).

The post-training chapters are imported from their modules
(`from masterclass.training.dpo import dpo_loss`), so that `import masterclass.training` stays light.
"""

from masterclass.training.loop import (
    NonFiniteLossError,
    TrainConfig,
    TrainResult,
    evaluate_loss,
    train,
)
from masterclass.training.optim import AdamW, param_groups_for_weight_decay
from masterclass.training.schedule import LRSchedule, make_schedule

__all__ = [
    "AdamW",
    "LRSchedule",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "evaluate_loss",
    "make_schedule",
    "param_groups_for_weight_decay",
    "train",
]
