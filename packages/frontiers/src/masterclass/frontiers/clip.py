r"""# Multimodal embeddings: CLIP

CLIP (Radford et al., 2021) learns one embedding space for images and text from pairs alone: an
image encoder $f$ and a text encoder $g$ are trained so that a matching (image, caption) pair has a
high cosine similarity and every mismatched pair in the batch a low one. Nothing is labelled; the
caption *is* the label, and at test time any set of sentences becomes a classifier.

**The symmetric InfoNCE loss.** For a batch of $N$ pairs with unit embeddings $u_i = f(x_i)/\|f(x_i)\|$
and $v_j = g(t_j)/\|g(t_j)\|$, the logits are $L_{ij} = s\, u_i^\top v_j$ with a scale
$s = e^{\theta}$ (the inverse temperature, $\theta$ learnt). Reading row $i$ as an $N$-way
classification "which caption is mine?" and column $j$ as "which image is mine?",

$$ \mathcal L = \frac{1}{2N} \sum_{i=1}^{N} \Big( -\log \frac{e^{L_{ii}}}{\sum_j e^{L_{ij}}}
   - \log \frac{e^{L_{ii}}}{\sum_j e^{L_{ji}}} \Big). $$

Each term is a softmax cross-entropy with the diagonal as target, so the whole loss is two
`cross_entropy` calls on $L$ and $L^\top$ (as `open_clip`'s `ClipLoss` does; the test compares in
value and gradient). It is a lower bound on the mutual information between the two views
(van den Oord et al., 2018): a larger batch gives more negatives and a tighter bound.

**The learnable temperature.** The gradient of $\mathcal L$ with respect to $\theta$ is
$s \cdot \big(\mathbb E_{p}[u^\top v] - u_i^\top v_i\big)$ averaged over rows and columns: it raises
$s$ while the positives are more similar than the softmax-weighted average, sharpening the
distribution as training succeeds. CLIP starts at $s = 1/0.07$ and clamps $s \le 100$ so that the
logits cannot blow up; we do the same.

**Zero-shot classification by prompts.** With class names $c_1 .. c_K$, embed the prompts
"a photo of a $c_k$" once; an image is assigned to the prompt whose embedding is nearest in
cosine. No classifier is trained: the text encoder writes the classifier's weights.

**The data** here is generated: `draw_shapes` paints a circle, square or triangle in one of four
colours on a 16×16 canvas with numpy, at a random position and size, and the caption names them
("a red circle"); the captions are tokenised by `nlp`'s byte-level BPE. The encoders are a small
CNN and a bag of tokens, small enough that a couple of hundred steps on the CPU give a zero-shot
classifier far above chance on fresh images (the test asks for 90% over 12 classes).

References: Radford et al., *Learning transferable visual models from natural language
supervision* (CLIP), 2021, https://arxiv.org/abs/2103.00020; van den Oord, Li, Vinyals,
*Representation learning with contrastive predictive coding* (InfoNCE), 2018,
https://arxiv.org/abs/1807.03748; Ilharco et al., *OpenCLIP*, 2021.

Left out: the ViT/transformer encoders of real CLIP (the vision-language chapter builds a ViT),
distributed gathering of negatives across devices, SigLIP's sigmoid loss, and prompt ensembling.

>>> g = torch.Generator().manual_seed(0)
>>> img, txt = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
>>> round(float(clip_loss(img, txt, torch.tensor(0.0))), 4)
1.48

## Exercises

1. Write `info_nce(u, v, scale)` returning only the image-to-text half of the loss for unit
   vectors. Check it: `uv run pytest --exercise frontiers.clip`
2. Write `temperature_grad(u, v, theta)`: $\partial \mathcal L / \partial \theta$ in closed form
   (derive it from the softmax). Check it: `uv run pytest --exercise frontiers.clip`
3. Write `zero_shot_accuracy(image_emb, class_emb, labels)` for raw (unnormalised) embeddings.
   Check it: `uv run pytest --exercise frontiers.clip`
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.nlp.bpe import BPETokenizer

# The world of the experiment: three shapes in four colours, twelve classes, each named by its
# caption's words.
SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (1.0, 0.1, 0.1),
    "green": (0.1, 0.8, 0.1),
    "blue": (0.1, 0.2, 1.0),
    "yellow": (1.0, 0.9, 0.1),
}
CLASSES = [f"{c} {s}" for s in SHAPES for c in COLOURS]


def clip_loss(image_emb: Tensor, text_emb: Tensor, log_scale: Tensor) -> Tensor:
    r"""Symmetric InfoNCE of paired embeddings `(N, d)` each, logit scale $e^{\theta}$
    (`log_scale` $= \theta$, clamped at $\log 100$)."""
    if image_emb.shape != text_emb.shape or image_emb.dim() != 2:
        raise ValueError(
            f"image_emb and text_emb must both be (N, d), got {tuple(image_emb.shape)} and "
            f"{tuple(text_emb.shape)}"
        )
    # Cosine similarities of every image with every caption, times the learned temperature; row i's
    # correct column is i. The loss is the cross-entropy of the rows (image to text) and of the
    # columns (text to image), averaged.
    u, v = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    logits = log_scale.clamp(max=math.log(100.0)).exp() * u @ v.T  # (N, N)
    labels = torch.arange(u.shape[0], device=u.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


# ## Generated images
#
# A shape is a boolean mask on a pixel grid: a disc $(x - c_x)^2 + (y - c_y)^2 \le r^2$, an
# axis-aligned square $|x - c_x|, |y - c_y| \le r$, or an upright triangle (below the apex, inside
# two slanted edges). The mask is painted in the colour over a dark, slightly noisy background.


def draw_shapes(
    n: int, *, size: int = 16, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`n` images `(n, 3, size, size)` float32 in [0, 1], class ids `(n,)` into `CLASSES`, captions."""
    if n <= 0 or size < 8:
        raise ValueError(f"need n > 0 and size >= 8, got n={n}, size={size}")
    # A noisy dark background, one class per image, and a coordinate grid for the masks.
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = rng.uniform(0.0, 0.15, (n, 3, size, size)).astype(np.float32)
    labels = rng.integers(0, len(CLASSES), n)
    colours = list(COLOURS.values())
    for i, k in enumerate(labels):
        # Random size and position, the whole shape inside the image; the mask is painted in the
        # class's colour on all three channels.
        shape, colour = SHAPES[k // len(COLOURS)], colours[k % len(COLOURS)]
        r = rng.uniform(0.2, 0.35) * size
        cx, cy = rng.uniform(r, size - r, 2)
        if shape == "circle":
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
        elif shape == "square":
            mask = (np.abs(xx - cx) <= r * 0.85) & (np.abs(yy - cy) <= r * 0.85)
        else:
            top = cy - r
            mask = (yy >= top) & (yy <= cy + r) & (np.abs(xx - cx) <= (yy - top) / 2)
        images[i][:, mask] = np.asarray(colour, dtype=np.float32)[:, None]
    return images, labels, [f"a {CLASSES[k]}" for k in labels]


# Two towers into one space of width `d_embed`, and the temperature as a learnable log-scale.
class CLIPModel(nn.Module):
    r"""Two small encoders into a shared space and the learnable log-scale $\theta$.

    Images `(N, 3, S, S)` go through a small CNN; captions, as BPE ids padded with `pad_id` `(N, T)`,
    through a mean of token embeddings and a linear map.
    """

    def __init__(self, vocab_size: int, d_embed: int = 32, pad_id: int = 0):
        super().__init__()
        self.pad_id = pad_id
        # Two convolutions and a global max-pool: shape detectors that do not care where the shape is.
        self.image_encoder = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.GELU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.GELU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            nn.Linear(32, d_embed),
        )
        # The text tower: a bag of token embeddings (enough here, where a caption's meaning does not
        # depend on its word order), and the temperature initialised at 1 / 0.07 as in CLIP.
        self.token_emb = nn.Embedding(vocab_size, 64)
        self.text_proj = nn.Sequential(nn.GELU(), nn.Linear(64, d_embed))
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, images: Tensor) -> Tensor:
        """Unnormalised image embeddings `(N, d_embed)`."""
        return self.image_encoder(images)

    # The mean ignores padding: only real tokens count, in the sum and in the divisor.
    def encode_text(self, ids: Tensor) -> Tensor:
        """Unnormalised text embeddings `(N, d_embed)`: mean over non-pad tokens."""
        keep = (ids != self.pad_id).float()[..., None]  # (N, T, 1)
        mean = (self.token_emb(ids) * keep).sum(1) / keep.sum(1).clamp_min(1)  # (N, 64)
        return self.text_proj(mean)


# Captions and the zero-shot prompts share one small BPE vocabulary, trained on both templates.
def tokenize(tokenizer: BPETokenizer, texts: list[str], pad_id: int) -> Tensor:
    """BPE ids of `texts`, right-padded with `pad_id` to the longest, `(N, T)`."""
    ids = [tokenizer.encode(t) for t in texts]
    width = max(len(x) for x in ids)
    return torch.tensor([x + [pad_id] * (width - len(x)) for x in ids])


def caption_tokenizer() -> tuple[BPETokenizer, int]:
    """A BPE tokenizer trained on the captions and prompts, and its pad id (a special token)."""
    texts = [f"a {c}" for c in CLASSES] + [f"a photo of a {c}" for c in CLASSES]
    tok = BPETokenizer.train(texts * 4, 300, special_tokens=["<pad>"])
    return tok, tok.special_tokens["<pad>"]


# ## Training and zero-shot evaluation
#
# Each step draws a fresh batch of pairs, so there is nothing to overfit. Evaluation embeds one
# prompt per class, "a photo of a {colour} {shape}" (a template never seen in training), and
# classifies fresh images by cosine similarity.


def train_clip(steps: int = 300, *, batch: int = 64, lr: float = 3e-3, seed: int = 0):
    """Train `CLIPModel` on generated pairs; returns (model, tokenizer, pad id, zero-shot accuracy)."""
    torch.manual_seed(seed)
    tok, pad = caption_tokenizer()
    model = CLIPModel(tok.vocab_size, pad_id=pad)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    # Every batch is drawn afresh from its own seed; in a batch each image's own caption is its
    # positive and the other captions are its negatives.
    for step in range(steps):
        images, _, captions = draw_shapes(batch, seed=seed * 100_000 + step)
        loss = clip_loss(
            model.encode_image(torch.from_numpy(images)),
            model.encode_text(tokenize(tok, captions, pad)),
            model.log_scale,
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, tok, pad, zero_shot_accuracy(model, tok, pad, seed=seed + 1)


def zero_shot_accuracy(
    model: CLIPModel, tok: BPETokenizer, pad: int, *, n: int = 500, seed: int = 1
) -> float:
    """Accuracy on `n` fresh images of the classifier "nearest prompt embedding"."""
    # A seed far from the training seeds gives unseen images. The class embeddings are the prompts'
    # text embeddings; an image's prediction is the class of highest cosine similarity.
    images, labels, _ = draw_shapes(n, seed=10_000_000 + seed)
    with torch.no_grad():
        prompts = tokenize(tok, [f"a photo of a {c}" for c in CLASSES], pad)
        classes = F.normalize(model.encode_text(prompts), dim=-1)  # (K, d)
        emb = F.normalize(model.encode_image(torch.from_numpy(images)), dim=-1)  # (n, d)
        pred = (emb @ classes.T).argmax(-1).numpy()
    return float((pred == labels).mean())
