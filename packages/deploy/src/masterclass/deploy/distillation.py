r"""# Knowledge distillation: logits at a temperature, hidden states, and sequences

A small *student* learns from a large *teacher*: instead of the one-hot next token, it is also
shown the teacher's whole distribution over the vocabulary (Hinton et al., 2015). A wrong but
plausible token that the teacher gives 10% tells the student something a label never does
("dark knowledge"), so on the same tokens a distilled student generalizes better than one that
sees labels only; the test checks this on held-out text in a seeded CPU run.

**Logit KD.** Soften both distributions with a temperature $T$,
$p = \operatorname{softmax}(z_t / T)$, $q = \operatorname{softmax}(z_s / T)$, and minimise
$$ \mathcal{L}_{KD} = T^2 \, \mathrm{KL}(p \,\Vert\, q) = T^2 \sum_v p_v (\log p_v - \log q_v), $$
averaged over token positions. Why $T^2$: the gradient with respect to a student logit is
$$ \frac{\partial}{\partial z_{s,v}} T^2\, \mathrm{KL}(p\Vert q)
   = T^2 \cdot \frac{1}{T}(q_v - p_v) = T\,(q_v - p_v), $$
(the softmax-cross-entropy gradient $q - p$, times $1/T$ from the chain rule through $z_s/T$).
For large $T$, $q_v - p_v \approx (z_{s,v} - z_{t,v}) / (T V)$ for zero-mean logits, so the
gradient is $\approx (z_s - z_t)/V$: independent of $T$. The factor $T^2$ keeps the soft term's
scale fixed as $T$ changes, so the mix with the label loss
$\mathcal{L} = \alpha \mathcal{L}_{KD} + (1-\alpha)\,\mathrm{CE}$ needs no retuning.
The tests check value and gradient against `torch.nn.functional.kl_div`.

**Hidden-state matching** (FitNets, Romero et al., 2015; TinyBERT, Jiao et al., 2020): the
student's layer outputs $h_s \in \mathbb{R}^{d_s}$ are mapped by a learned projector
$P \in \mathbb{R}^{d_t \times d_s}$ to the teacher's width and pulled to the teacher's $h_t$ by
$\lVert P h_s - h_t \rVert^2$ (mean over positions and features). Student layer $i$ is paired
with teacher layer $\lfloor (i+1) L_t / L_s \rfloor - 1$ (uniform spacing, the last with the last).

**Sequence-level KD** (Kim & Rush, 2016): the word-level loss matches the teacher at every
position of the *data*; the sequence-level version approximates the teacher's distribution over
whole sequences by its mode, so the student is trained with plain cross-entropy on the teacher's
greedy (or beam) outputs for the training prompts. `sequence_kd_data` produces them with
`masterclass.llm.generate` at temperature 0.

References: Hinton, Vinyals & Dean, 2015, *Distilling the Knowledge in a Neural Network*
([arXiv:1503.02531](https://arxiv.org/abs/1503.02531)); Romero et al., 2015, *FitNets*
([arXiv:1412.6550](https://arxiv.org/abs/1412.6550)); Kim & Rush, 2016, *Sequence-Level
Knowledge Distillation* ([arXiv:1606.07947](https://arxiv.org/abs/1606.07947)); Sanh et al.,
2019, *DistilBERT* ([arXiv:1910.01108](https://arxiv.org/abs/1910.01108)).

Left out: on-policy distillation (the student samples, the teacher scores: GKD, MiniLLM's
reverse KL), attention-map transfer, beam search for sequence KD, and vocabularies that differ
between teacher and student.

>>> s, t = torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 0.0]])
>>> round(kd_loss(s, t, temperature=1.0).item(), 4)  # KL(softmax(t) || uniform)
0.1233

## Exercises

1. Write `soft_kl(student_logits, teacher_logits, T)`: $T^2 \mathrm{KL}(p\Vert q)$ per row of
   `(N, V)` logits (a tensor `(N,)`), without `kl_div`. Check it:
   `uv run pytest --exercise deploy.distillation`
2. Write `kd_logit_grad(student_logits, teacher_logits, T)`: the closed-form gradient
   $T(q - p)$ of exercise 1's sum with respect to the student logits. Check it:
   `uv run pytest --exercise deploy.distillation`
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.llm.generate import generate
from masterclass.llm.model import LanguageModel

__all__ = [
    "HiddenProjector",
    "distill",
    "distillation_loss",
    "hidden_state_loss",
    "hidden_states",
    "kd_loss",
    "sequence_kd_data",
]


# ## Logit KD
#
# Flatten every position into a row of `V` logits, take log-softmaxes at temperature `T` (in
# float32: the difference of two log-probabilities loses digits in half precision), and average
# $T^2 \sum_v p_v(\log p_v - \log q_v)$ over the rows that a mask keeps (padding is dropped).
def kd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float = 2.0,
    mask: Tensor | None = None,
) -> Tensor:
    r"""$T^2 \mathrm{KL}(p_{teacher} \Vert q_{student})$ at temperature `T`, mean over positions."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student_logits {tuple(student_logits.shape)} and teacher_logits "
            f"{tuple(teacher_logits.shape)} must have the same shape (same vocabulary)"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    # The $T^2$ factor keeps the soft term's gradients on the scale of the hard loss's as T grows.
    V = student_logits.shape[-1]
    log_q = F.log_softmax(student_logits.float().reshape(-1, V) / temperature, dim=-1)  # (N, V)
    log_p = F.log_softmax(teacher_logits.float().reshape(-1, V) / temperature, dim=-1)  # (N, V)
    per_row = (log_p.exp() * (log_p - log_q)).sum(-1)  # (N,)
    if mask is not None:
        keep = mask.reshape(-1).to(per_row.dtype)  # (N,)
        return temperature**2 * (per_row * keep).sum() / keep.sum().clamp_min(1)
    return temperature**2 * per_row.mean()


# The training loss mixes the soft term with the label cross-entropy; targets of -100 are ignored
# by both (the mask), as everywhere in `llm`.
def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    targets: Tensor,
    *,
    alpha: float = 0.5,
    temperature: float = 2.0,
) -> Tensor:
    r"""$\alpha\, T^2 \mathrm{KL} + (1 - \alpha)\, \mathrm{CE}(\text{targets})$."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    # With alpha = 0 the teacher is not consulted at all: plain training on the labels.
    V = student_logits.shape[-1]
    ce = F.cross_entropy(
        student_logits.float().reshape(-1, V), targets.reshape(-1), ignore_index=-100
    )
    if alpha == 0:
        return ce
    kd = kd_loss(student_logits, teacher_logits, temperature, mask=targets != -100)
    return alpha * kd + (1 - alpha) * ce


# ## Hidden states
#
# Forward hooks on the blocks collect every layer's output `(B, T, d)` in one forward pass; the
# model's own code is untouched.
def hidden_states(model: LanguageModel, idx: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Logits `(B, T, V)` and the output of every block, `[(B, T, d_model)] * n_layers`."""
    outs: list[Tensor] = []
    hooks = [b.register_forward_hook(lambda _m, _i, o: outs.append(o)) for b in model.blocks]
    try:
        logits = model(idx)
    finally:
        for h in hooks:
            h.remove()
    return logits, outs


# The student is narrower than the teacher, so its hidden states cannot be compared directly: a
# learned linear map per layer lifts them to the teacher's width, trained with the student.
class HiddenProjector(nn.Module):
    """Linear maps from the student's width to the teacher's, one per matched layer."""

    def __init__(self, d_student: int, d_teacher: int, n_layers: int) -> None:
        super().__init__()
        self.proj = nn.ModuleList(nn.Linear(d_student, d_teacher) for _ in range(n_layers))

    def forward(self, student_hidden: list[Tensor]) -> list[Tensor]:
        """Each student layer's hidden states `(B, T, d_student)` mapped to `(B, T, d_teacher)`."""
        return [p(h) for p, h in zip(self.proj, student_hidden, strict=True)]


# The teacher's states are targets (detached), so the gradient moves only student and projector.
def hidden_state_loss(
    student_hidden: list[Tensor], teacher_hidden: list[Tensor], projector: HiddenProjector
) -> Tensor:
    r"""Mean over matched layers of $\lVert P h_s - h_t\rVert^2$ (mean over positions, features)."""
    n_s, n_t = len(student_hidden), len(teacher_hidden)
    if not 0 < n_s <= n_t or len(projector.proj) != n_s:
        raise ValueError(
            f"need 0 < student layers ({n_s}) <= teacher layers ({n_t}) and one projector per "
            f"student layer ({len(projector.proj)} given)"
        )
    # Student layer i is matched to teacher layer (i + 1) * n_t // n_s - 1: uniform, last to last.
    pairs = [teacher_hidden[(i + 1) * n_t // n_s - 1] for i in range(n_s)]
    mapped = projector(student_hidden)
    return torch.stack([F.mse_loss(m, t.detach()) for m, t in zip(mapped, pairs)]).mean()


# ## Sequence-level KD
#
# The teacher continues each prompt greedily; the student later trains on prompt + continuation
# with plain next-token cross-entropy.
@torch.no_grad()
def sequence_kd_data(teacher: LanguageModel, prompts: Tensor, max_new_tokens: int) -> Tensor:
    """The teacher's greedy continuations of `prompts` `(B, T)`: `(B, T + max_new_tokens)`."""
    return generate(teacher, prompts, max_new_tokens, temperature=0.0)


# ## The training loop
#
# `mode="labels"` is the baseline (cross-entropy only), `"logits"` mixes in logit KD, `"hidden"`
# adds hidden-state matching on top of it. Both students see the same batches in the same order
# (one generator seeded the same), so the only difference is the loss.
def distill(
    student: LanguageModel,
    teacher: LanguageModel | None,
    batches: list[tuple[Tensor, Tensor]],
    *,
    mode: str = "logits",
    alpha: float = 0.5,
    temperature: float = 2.0,
    beta: float = 1.0,
    lr: float = 3e-3,
) -> LanguageModel:
    """Train `student` on `batches` of `(inputs, targets)` with the loss named by `mode`."""
    if mode not in ("labels", "logits", "hidden"):
        raise ValueError(f"mode must be 'labels', 'logits' or 'hidden', got {mode!r}")
    if mode != "labels" and teacher is None:
        raise ValueError(f"mode={mode!r} needs a teacher")
    # The projector, when used, is optimised together with the student, by the same AdamW
    # (without weight decay).
    params = list(student.parameters())
    projector = None
    if mode == "hidden":
        projector = HiddenProjector(
            student.config.d_model, teacher.config.d_model, student.config.n_layers
        )
        params += list(projector.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    student.train()
    if teacher is not None:
        teacher.eval()
    # One forward pass of each model per batch gives both logits and hidden states; the teacher's
    # runs without a graph.
    for x, y in batches:
        if mode == "labels":
            _, loss = student(x, y)
        else:
            with torch.no_grad():
                t_logits, t_hidden = hidden_states(teacher, x)
            s_logits, s_hidden = hidden_states(student, x)
            loss = distillation_loss(s_logits, t_logits, y, alpha=alpha, temperature=temperature)
            if projector is not None:
                loss = loss + beta * hidden_state_loss(s_hidden, t_hidden, projector)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return student.eval()
