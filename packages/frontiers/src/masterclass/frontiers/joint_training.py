r"""# Joint training strategies: contrastive and captioning together

CLIP (the multimodal-embeddings chapter) learns an embedding space in which an image and its
caption are close, which is what retrieval needs; the captioner (the vision-language chapter)
learns to *write* the caption, token by token. CoCa (Yu et al., 2022) trains both heads on one
image encoder at once: the pooled image token goes to a contrastive loss against a text tower,
all the image tokens go through a projector into a decoder that is trained to caption. The two
signals are complementary: InfoNCE gives one global, discriminative gradient per pair ("this image
and not the 31 others"), captioning a dense, generative one per token. This chapter builds that
model from the pieces of the two earlier chapters, and the three knobs every multimodal training
recipe turns: how the losses are weighted, which towers are frozen when, and what happens when a
modality is missing.

**The model.** `JointModel` holds `vit.py`'s `Captioner` (a ViT, the projector, `llm`'s decoder)
and a bag-of-tokens text tower like `clip.py`'s. The ViT's $1 + N$ output tokens $h$ are used
twice: the class token $h_0$, mapped by a linear head, is the image embedding $u$ of the
contrastive loss `clip.clip_loss` (symmetric InfoNCE with a learnt temperature), and all of
$g(h)$, projected, is the decoder's prefix for the captioning loss (mean next-token
cross-entropy over the caption). The vision-language chapter found that a plain ViT trained from
scratch learns colour but not shape in a CPU budget; here the patch embedding is replaced by a
small convolutional stem with the same stride (the *hybrid* ViT of Dosovitskiy et al., §3.1), which
gives the image tower the locality prior that shapes need.

**Weighting the losses.** The joint objective is $\mathcal L(\theta) = \sum_i \lambda_i
\mathcal L_i(\theta)$ with $i \in \{\text{con}, \text{cap}\}$, and its gradient on the shared
parameters (the image tower) is $\sum_i \lambda_i \nabla \mathcal L_i$: the weights decide whose
gradient steers. Their scale is arbitrary (InfoNCE starts near $\log B$ for a batch of $B$,
captioning near $\log V$ per token), so fixing $\lambda$ by hand (CoCa uses $\lambda_{con} = 1,
\lambda_{cap} = 2$) is a hyperparameter search. *Uncertainty weighting* (Kendall, Gal and
Cipolla, 2018) learns them. Read each loss as a negative log-likelihood whose noise scale
$\sigma_i$ is unknown: for a Gaussian, $-\log p = \frac{1}{2\sigma_i^2} \mathcal L_i + \log
\sigma_i$; for a softmax with temperature $\sigma_i^2$ the same form holds approximately. With
$s_i = \log \sigma_i^2$ and the factor $\tfrac12$ dropped (it rescales the whole objective),

$$ \mathcal L_{unc}(\theta, s) = \sum_i \big( e^{-s_i}\, \mathcal L_i(\theta) + s_i \big). $$

Minimise over $s_i$ first. Step by step:

1. $\partial \mathcal L_{unc} / \partial s_i = -e^{-s_i} \mathcal L_i + 1$, zero at
   $s_i^\star = \log \mathcal L_i$ (for $\mathcal L_i > 0$);
2. $\partial^2 \mathcal L_{unc} / \partial s_i^2 = e^{-s_i} \mathcal L_i > 0$: a minimum, the only
   one;
3. at $s^\star$ the weight is $e^{-s_i^\star} = 1 / \mathcal L_i$ and the term is
   $1 + \log \mathcal L_i$, so $\min_s \mathcal L_{unc} = \sum_i \log \mathcal L_i + K$ with $K$
   the number of tasks;
4. its gradient in $\theta$ is $\sum_i \nabla \mathcal L_i / \mathcal L_i$.

So learnt weights normalise each task's gradient by its own current loss, and the objective is
invariant to rescaling any task: $\log (c \mathcal L_i) = \log c + \log \mathcal L_i$. In training
$s$ is learnt by the same optimiser and tracks $\log \mathcal L_i$ with a lag. The tests check
steps 1 to 4 against `scipy.optimize.minimize_scalar` and autograd.

**Freezing schedules.** A tower whose parameters do not change while the others train: LiT (Zhai
et al., 2022) locks a pretrained image tower and trains only the text tower; Flamingo and LLaVA
freeze the language model and train the bridge first. A `FreezeSchedule` names, per tower, the
steps $[a, b)$ during which it is frozen. Freezing must be exact, and it has a trap: setting
`requires_grad=False` is not enough if the parameter still holds an old `.grad` tensor, or zeros,
because AdamW then still applies its momentum $m_t = \beta_1 m_{t-1}$ and its weight decay to it.
`apply_freezing` also sets `.grad = None`, and PyTorch's optimisers skip a parameter whose grad
is `None`; the test checks that frozen parameters stay *bit-identical* across steps, and that the
zeroed-grad version does move them.

**Modality dropout.** With probability $p$ a training pair loses its image (Ngiam et al., 2011;
Neverova et al.'s ModDrop, 2015): the decoder's prefix becomes a learnt *null* token for that row,
and the pair leaves the contrastive batch (a text without an image has no positive). The decoder
learns to caption from text alone, a language prior for when the image is missing, and cannot
lean on the image for every token. The gradient argument is exact: `torch.where` routes the
incoming gradient to the branch it selected and zeros to the other, so a dropped row's image
tokens receive $\partial \mathcal L / \partial h_b = 0$; with row $b$ also outside InfoNCE, no
term of the loss reads image $b$, and $\partial \mathcal L / \partial x_b = 0$ exactly (the test
checks it with `torch.equal` against zeros, and that kept images do get a gradient).

**Retrieval recall.** On held-out pairs, image-to-text recall@1 is the fraction of images whose
most similar caption (cosine of the embeddings) is a correct partner, and text-to-image recall@1
the same from the captions' side. Here twelve captions cover every pair, so many images share a
caption and a retrieved item is correct when its caption equals the query's: the hit rate of
`torchmetrics`' `RetrievalHitRate(top_k=1)`, which the test uses as the reference. The seeded
joint run of the test reaches recall@1 of at least 0.9 in both directions in a short CPU run. The
figure below trains a contrastive-only and a joint model side by side from the same seed and
data for a few dozen steps (made when the site is built): the losses, held-out recall@1 both
ways, and, in the left title, the greedy-caption accuracy of the joint model's colour and shape
words so far. Adding the captioning task costs the shared image tower no retrieval quality.

![Losses and held-out recall@1 over training, contrastive-only (dashed) vs joint
(solid)](figures/joint_training.png)

**What the contrastive task gives the captioner.** Early in training the captions have the
sentence's form and the right colour but a shape word no better than chance, as in the
vision-language chapter. Run longer, the two setups part: trained on captions alone, the hybrid
ViT's captioner *still* does not learn the shape, while the joint model's captions become exact.
`bench/joint_vs_single.py` runs the three setups for the same steps and prints the table
(`bench/results/joint_vs_single.txt`), and the slow test asks the joint run for exact captions
as well as recall. The reason is the gradient each task sends into the shared tower. The caption
loss for the shape word is one token among four, and at first the decoder attends nearly
uniformly over the prefix, so the tower is asked for what an average of its tokens shows:
colour, not shape. InfoNCE on the class token has nothing else to work with: in a batch with
three shapes per colour, the hardest negatives are the same colour in another shape, and the only
way to lower the loss is to put the shape into the class token. Once the tower holds it, the
decoder learns to read it. The honest limit of this result: it is one seed, one small model and
generated data, where colour is easy and shape hard by construction.

References: Yu et al., *CoCa: contrastive captioners are image-text foundation models*, 2022,
https://arxiv.org/abs/2205.01917; Kendall, Gal, Cipolla, *Multi-task learning using uncertainty
to weigh losses for scene geometry and semantics*, 2018, https://arxiv.org/abs/1705.07115; Zhai
et al., *LiT: zero-shot transfer with locked-image text tuning*, 2022,
https://arxiv.org/abs/2111.07991; Neverova et al., *ModDrop: adaptive multi-modal gesture
recognition*, 2015, https://arxiv.org/abs/1501.00102; Ngiam et al., *Multimodal deep learning*,
2011; Dosovitskiy et al., *An image is worth 16x16 words* (ViT and its hybrid), 2021,
https://arxiv.org/abs/2010.11929.

Left out: CoCa's split decoder (unimodal text layers that also give the text embedding, then
cross-attending multimodal layers), gradient-based balancing (GradNorm, PCGrad), BLIP's
image-text matching loss and hard negatives, and large-batch negatives gathered across devices.

>>> losses = torch.tensor([2.0, 4.0])
>>> uncertainty_weighting(losses, losses.log())  # at s* = log L: K + sum log L = 2 + log 8
tensor(4.0794)
>>> FreezeSchedule({"image": (0, 100)}).frozen_at(50), FreezeSchedule({"image": (0, 100)}).frozen_at(100)
({'image'}, set())

## Exercises

1. Write `optimal_log_vars(losses)`: the $s^\star$ that minimises $\sum_i e^{-s_i} L_i + s_i$ for
   a tensor of positive losses, and the weights $e^{-s^\star}$ it gives.
   Check it: `uv run pytest --exercise frontiers.joint_training`
2. Write `recall_at_1(sim, labels)` returning `(i2t, t2i)` for a similarity matrix `(N, N)`
   (images by captions) where pair $j$ is a correct partner of query $i$ when
   `labels[i] == labels[j]`. Check it: `uv run pytest --exercise frontiers.joint_training`
3. Write `drop_rows(x, keep, null)`: rows of `x` `(B, ...)` where `keep` is False replaced by
   `null` (broadcast), with no gradient reaching the dropped rows.
   Check it: `uv run pytest --exercise frontiers.joint_training`
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.frontiers.clip import caption_tokenizer, clip_loss, draw_shapes, tokenize
from masterclass.frontiers.vit import (
    Captioner,
    ViTArgs,
    caption_accuracy,
    caption_batch,
    make_captioner,
)
from masterclass.nlp.bpe import BPETokenizer

TOWERS = ("image", "text", "decoder")

# ## A hybrid stem: convolutions in place of the patch embedding
#
# $\log_2 P$ stages of a $3 \times 3$ convolution, GELU and a $2 \times 2$ max-pool shrink the
# image by $P$, exactly the grid of $P \times P$ patches, so the ViT's positions, class token and
# blocks are unchanged; only the tokens now come from overlapping receptive fields.


class HybridPatchEmbedding(nn.Module):
    """A convolutional stem of total stride P: `(B, C, H, W)` to `(B, N, d)` tokens, N = HW/P²."""

    def __init__(self, args: ViTArgs) -> None:
        super().__init__()
        # Each stage halves the image, so only a power-of-two patch size gives exactly the ViT's
        # grid.
        P = args.patch_size
        if P < 2 or P & (P - 1):
            raise ValueError(
                f"the hybrid stem halves the image per stage, so patch_size must be a power of 2 "
                f">= 2, got {P}; use the plain PatchEmbedding otherwise"
            )
        # The channels widen to `d_model / 2` in the early stages and to `d_model` in the last,
        # whose output pixels are the tokens.
        stages: list[nn.Module] = []
        c_in, n_stages = args.channels, int(math.log2(P))
        for k in range(n_stages):
            c_out = args.d_model if k == n_stages - 1 else args.d_model // 2
            stages += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.GELU(), nn.MaxPool2d(2)]
            c_in = c_out
        self.stem = nn.Sequential(*stages)
        self.patch_size, self.channels = P, args.channels

    # The output grid `(B, d, H/P, W/P)` is flattened row by row into tokens, the order the plain
    # patch embedding uses.
    def forward(self, images: Tensor) -> Tensor:
        """Tokens `(B, N, d_model)` of `images` `(B, C, H, W)`, row by row over the grid."""
        if images.dim() != 4 or images.shape[1] != self.channels:
            raise ValueError(
                f"images must be (B, {self.channels}, H, W), got {tuple(images.shape)}"
            )
        H, W = images.shape[-2:]
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f"image height and width must be multiples of patch_size={self.patch_size}, "
                f"got {H}x{W}; crop or pad the image"
            )
        return self.stem(images).flatten(2).transpose(1, 2)  # (B, N, d)


# The text tower is CLIP's, unchanged: a padding-aware mean of token embeddings.
class TextTower(nn.Module):
    """`clip.py`'s text encoder: the mean of non-pad token embeddings, GELU, a linear map."""

    def __init__(self, vocab_size: int, d_embed: int, pad_id: int, width: int = 64) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.token_emb = nn.Embedding(vocab_size, width)
        self.proj = nn.Sequential(nn.GELU(), nn.Linear(width, d_embed))

    def forward(self, ids: Tensor) -> Tensor:
        """Unnormalised text embeddings `(N, d_embed)` of padded ids `(N, T)`."""
        keep = (ids != self.pad_id).float()[..., None]  # (N, T, 1)
        mean = (self.token_emb(ids) * keep).sum(1) / keep.sum(1).clamp_min(1)  # (N, width)
        return self.proj(mean)


# ## The joint model
#
# Three towers, named so that a schedule can freeze them: `image` (the ViT and the contrastive
# head on its class token), `text` (the text tower) and `decoder` (projector and language model).
# The temperature, the null image token and the uncertainty weights belong to no tower: they are
# the glue between the tasks and always train.


class JointModel(nn.Module):
    """A CoCa-style model: a (hybrid) ViT shared by a contrastive head and a captioning decoder."""

    def __init__(
        self, vocab_size: int, pad_id: int, *, d_embed: int = 32, hybrid: bool = True, seed: int = 0
    ) -> None:
        super().__init__()
        # The captioner's ViT is the shared image tower; the hybrid stem replaces its patch
        # embedding. The contrastive side adds a projection of the class token, a text tower and
        # CLIP's temperature; `null_image` is the learned prefix a dropped image becomes.
        self.captioner: Captioner = make_captioner(vocab_size, seed=seed)
        vit = self.captioner.vit
        if hybrid:
            vit.patch = HybridPatchEmbedding(vit.args)
        self.image_head = nn.Linear(vit.args.d_model, d_embed)
        self.text_tower = TextTower(vocab_size, d_embed, pad_id)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.null_image = nn.Parameter(torch.zeros(1, 1, self.captioner.lm.config.d_model))
        self.log_vars = nn.Parameter(torch.zeros(2))  # s_con, s_cap of uncertainty weighting

    # The three towers that can be frozen, and the image embedding the contrastive loss uses: the
    # class token's output, projected.
    def towers(self) -> dict[str, list[nn.Parameter]]:
        """The parameters of each freezable tower."""
        c = self.captioner
        return {
            "image": [*c.vit.parameters(), *self.image_head.parameters()],
            "text": list(self.text_tower.parameters()),
            "decoder": [*c.projector.parameters(), *c.lm.parameters()],
        }

    def image_embedding(self, images: Tensor) -> Tensor:
        """Unnormalised image embeddings `(B, d_embed)` from the class token."""
        return self.image_head(self.captioner.vit(images)[:, 0])


# ## Loss weighting
#
# Uncertainty weighting as derived above; `fixed` weighting is the plain weighted sum.


def uncertainty_weighting(losses: Tensor, log_vars: Tensor) -> Tensor:
    r"""$\sum_i e^{-s_i} L_i + s_i$ for task losses `(K,)` and log-variances $s$ `(K,)`."""
    if losses.shape != log_vars.shape or losses.dim() != 1:
        raise ValueError(
            f"losses and log_vars must both be (K,), got {tuple(losses.shape)} and "
            f"{tuple(log_vars.shape)}"
        )
    return (torch.exp(-log_vars) * losses + log_vars).sum()


# ## Freezing schedules
#
# Freezing is decided per step, before the forward pass, so that a frozen tower builds no graph.
# A tower that thaws simply gets `requires_grad` back; its optimiser state is whatever it was when
# it froze (AdamW skipped it meanwhile).


@dataclass
class FreezeSchedule:
    """Tower name -> the steps `[start, stop)` during which that tower is frozen."""

    frozen: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, (a, b) in self.frozen.items():
            if name not in TOWERS:
                raise ValueError(f"unknown tower {name!r} in FreezeSchedule; choose from {TOWERS}")
            if not 0 <= a <= b:
                raise ValueError(f"tower {name!r} has steps ({a}, {b}); need 0 <= start <= stop")

    # A step is frozen for a tower when it lies in the tower's half-open range.
    def frozen_at(self, step: int) -> set[str]:
        """The towers frozen at `step`."""
        return {name for name, (a, b) in self.frozen.items() if a <= step < b}


def apply_freezing(model: JointModel, frozen: set[str]) -> None:
    """Freeze exactly the towers in `frozen`: no grad, and no stale `.grad` for AdamW to use."""
    for name, params in model.towers().items():
        for p in params:
            p.requires_grad_(name not in frozen)
            if name in frozen:
                p.grad = None


# ## Modality dropout
#
# `torch.where` with a row mask: the forward value is `null` on dropped rows, and the backward pass
# sends the gradient of those rows to `null` only (summed over the rows that use it), zero to `x`.


def drop_rows(x: Tensor, keep: Tensor, null: Tensor) -> Tensor:
    """`x` `(B, ...)` with the rows where `keep` `(B,)` is False replaced by `null` (broadcast)."""
    if keep.dtype != torch.bool or keep.shape != x.shape[:1]:
        raise ValueError(
            f"keep must be a bool tensor of shape ({x.shape[0]},), got {keep.dtype} "
            f"{tuple(keep.shape)}"
        )
    return torch.where(keep.view(-1, *([1] * (x.dim() - 1))), x, null.expand_as(x))


def joint_losses(
    model: JointModel,
    images: Tensor,
    text_ids: Tensor,
    inputs: Tensor,
    targets: Tensor,
    keep: Tensor,
) -> tuple[Tensor, Tensor]:
    """(contrastive, captioning) losses of a batch; rows with `keep` False have lost their image.

    `images` `(B, 3, S, S)`, `text_ids` `(B, T')` for the text tower, decoder `inputs` and
    `targets` `(B, T)` as made by `vit.caption_batch`, `keep` `(B,)` bool.
    """
    # One ViT pass serves both losses. The contrastive loss uses only the pairs that kept their
    # image, and needs at least two of them (a single pair has no negatives).
    c = model.captioner
    tokens = c.vit(images)  # (B, 1 + N, d_v)
    if keep.sum() >= 2:
        image_emb = model.image_head(tokens[keep, 0])  # (B_kept, d_embed)
        l_con = clip_loss(image_emb, model.text_tower(text_ids[keep]), model.log_scale)
    else:  # fewer than two pairs have no negatives: no contrastive term this step
        l_con = tokens.new_zeros(())
    # The captioning loss covers every row; a dropped row decodes from the null prefix, so the
    # decoder learns to caption without seeing the image.
    prefix = drop_rows(c.projector(tokens), keep, model.null_image)  # (B, 1 + N, d)
    logits = c.decode(prefix, inputs)  # (B, T, V)
    l_cap = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
    return l_con, l_cap


# ## Recall@1 with shared captions
#
# A query's hit is whether its top-1 item is a correct partner (same label); the argmax of a row
# of the cosine-similarity matrix is the retrieved item.


def recall_at_1(sim: Tensor, labels: Tensor) -> tuple[float, float]:
    """Image-to-text and text-to-image recall@1 for similarities `(N, N)` (images x captions)
    when item j is a correct partner of query i iff `labels[i] == labels[j]`."""
    if sim.dim() != 2 or sim.shape[0] != sim.shape[1] or labels.shape != sim.shape[:1]:
        raise ValueError(
            f"sim must be (N, N) and labels (N,), got {tuple(sim.shape)} and {tuple(labels.shape)}"
        )
    # Several images share a caption (twelve classes), so a hit is any item of the right label, not
    # only the paired one.
    match = labels[:, None] == labels[None, :]  # (N, N)
    i2t = match.gather(1, sim.argmax(1, keepdim=True)).float().mean()
    t2i = match.gather(1, sim.T.argmax(1, keepdim=True)).float().mean()
    return float(i2t), float(t2i)


@torch.no_grad()
def retrieval_recall(
    model: JointModel, tok: BPETokenizer, pad: int, *, n: int = 240, seed: int = 1
) -> dict[str, float]:
    """Recall@1 both ways on `n` held-out pairs (a seed range never used in training)."""
    # Embed held-out images and their captions in eval mode, then restore the mode the caller had.
    images, labels, captions = draw_shapes(n, seed=10_000_000 + seed)
    was_training = model.training
    model.eval()
    u = F.normalize(model.image_embedding(torch.from_numpy(images)), dim=-1)  # (n, d)
    v = F.normalize(model.text_tower(tokenize(tok, captions, pad)), dim=-1)  # (n, d)
    model.train(was_training)
    i2t, t2i = recall_at_1(u @ v.T, torch.from_numpy(labels))
    return {"i2t": i2t, "t2i": t2i}


# ## Training
#
# One step: freeze by the schedule, draw a fresh batch (nothing to overfit), drop images, compute
# both losses and combine them as the task and weighting ask. Contrastive-only and captioning-only
# runs use the same model and data, so the figure compares like with like.


@dataclass
class JointConfig:
    """What one training run optimises."""

    tasks: str = "joint"  # "joint", "contrastive" or "captioning"
    weighting: str = "fixed"  # "fixed" (weights) or "uncertainty" (learnt log-variances)
    weights: tuple[float, float] = (1.0, 1.0)  # (lambda_con, lambda_cap) for fixed weighting
    p_drop: float = 0.0  # probability that a pair loses its image
    freeze: FreezeSchedule = field(default_factory=FreezeSchedule)  # frozen towers by step
    batch: int = 32  # pairs per step
    lr: float = 3e-3  # peak learning rate of the one-cycle schedule

    # A run's choices are checked when the config is made; the freeze schedule checks its own
    # towers.
    def __post_init__(self) -> None:
        if self.tasks not in ("joint", "contrastive", "captioning"):
            raise ValueError(
                f"tasks must be 'joint', 'contrastive' or 'captioning', got {self.tasks!r}"
            )
        if self.weighting not in ("fixed", "uncertainty"):
            raise ValueError(f"weighting must be 'fixed' or 'uncertainty', got {self.weighting!r}")
        if not 0.0 <= self.p_drop < 1.0:
            raise ValueError(f"p_drop must be in [0, 1), got {self.p_drop}")


def joint_step(
    model: JointModel,
    opt: torch.optim.Optimizer,
    cfg: JointConfig,
    tok: BPETokenizer,
    pad: int,
    step: int,
    *,
    seed: int = 0,
    generator: torch.Generator,
) -> tuple[float, float]:
    """One optimiser step on a fresh batch; returns the (contrastive, captioning) losses."""
    # Freeze by the schedule, draw a fresh batch with its captions as decoder inputs and targets,
    # and decide per pair whether it keeps its image.
    apply_freezing(model, cfg.freeze.frozen_at(step))
    images, _, captions = draw_shapes(cfg.batch, seed=seed * 100_000 + step)
    inputs, targets = caption_batch(tok, captions, pad)
    keep = torch.rand(cfg.batch, generator=generator) >= cfg.p_drop  # (B,)
    l_con, l_cap = joint_losses(
        model, torch.from_numpy(images), tokenize(tok, captions, pad), inputs, targets, keep
    )
    # The task picks one loss, or combines both: by the learnt uncertainty weights, or by the fixed
    # ones.
    if cfg.tasks == "contrastive":
        loss = l_con
    elif cfg.tasks == "captioning":
        loss = l_cap
    elif cfg.weighting == "uncertainty":
        loss = uncertainty_weighting(torch.stack([l_con, l_cap]), model.log_vars)
    else:
        loss = cfg.weights[0] * l_con + cfg.weights[1] * l_cap
    # Frozen towers get no gradient (`apply_freezing` cleared theirs), so AdamW leaves them
    # untouched.
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return l_con.item(), l_cap.item()


def train_joint(
    steps: int = 200,
    cfg: JointConfig | None = None,
    *,
    seed: int = 0,
    eval_every: int = 0,
    eval_n: int = 240,
) -> tuple[JointModel, list[dict[str, float]], dict[str, float]]:
    """Train a `JointModel`; returns it, the history (losses and recall every `eval_every` steps,
    and at the end) and the greedy-caption accuracies on fresh images."""
    # One optimiser over all parameters (frozen ones get no gradient and AdamW skips them), and a
    # one-cycle schedule; recall is measured every `eval_every` steps and at the end, and the final
    # captions are scored on fresh images.
    cfg = cfg or JointConfig()
    torch.manual_seed(seed)
    tok, pad = caption_tokenizer()
    model = JointModel(tok.vocab_size, pad, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    history = []
    for step in range(steps):
        l_con, l_cap = joint_step(model, opt, cfg, tok, pad, step, seed=seed, generator=g)
        sched.step()
        if (eval_every and (step + 1) % eval_every == 0) or step == steps - 1:
            recall = retrieval_recall(model, tok, pad, n=eval_n, seed=seed + 1)
            history.append({"step": step + 1, "con": l_con, "cap": l_cap, **recall})
    return model, history, caption_accuracy(model.captioner, tok, pad, seed=seed + 1)
