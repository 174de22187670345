r"""# Vision-language models: a ViT and a tiny captioner

A Vision Transformer (Dosovitskiy et al., 2021) reads an image the way a language model reads a
sentence: cut it into patches, embed each patch as a token, and let a stack of ordinary
transformer blocks attend between them. Nothing in the blocks knows it is looking at pixels; all
the vision is in how the tokens are made. A captioner then hands those tokens, through a small
projector, to a decoder-only language model as a *prefix* (the recipe of LLaVA and of many small
VLMs), and trains it to continue the prefix with the caption.

**Patch embedding.** An image $x \in \mathbb R^{C \times H \times W}$ is cut into
$N = (H/P)(W/P)$ non-overlapping $P \times P$ patches. Flattening patch $n$ to
$p_n \in \mathbb R^{C P^2}$ and multiplying by $E \in \mathbb R^{d \times C P^2}$ gives its token
$z_n = E p_n + b$. This is exactly a convolution with kernel size and stride $P$: the output at
grid cell $(i, j)$ is $\sum_{c, u, v} W_{k c u v}\, x_{c, iP + u, jP + v} + b_k$, the same dot
product with $E$ reshaped to $(d, C, P, P)$. So the layer is `Conv2d(C, d, P, stride=P)`, and the
$(d, H/P, W/P)$ map is flattened row by row into $N$ tokens.

**The class token.** A learnt vector $z_{\mathrm{cls}}$ is put in front: $[z_{\mathrm{cls}}, z_1,
.., z_N]$. It has no patch of its own, so after the blocks its output is a summary that every
patch wrote into by attention; a classifier (or here, nothing: we keep all tokens) reads it.

**2-D positions.** Attention is permutation-equivariant, so the model needs to be told where each
patch was. ViT adds a learnt vector per position, $z_n + e_n$, one for the class token and one per
grid cell. They are stored as a list, but they *are* a 2-D grid: $e_{(i, j)}$ at row $i$, column
$j$ (trained ViTs' position embeddings show row and column structure). That reading is what lets
a model trained at $G \times G$ patches run on a $G' \times G''$ grid: reshape the $N$ vectors to
$(d, G, G)$, resample the grid bicubically to $(G', G'')$, and flatten again; the class position
is kept as it is (`interpolate_positions`, equal to `transformers`' `interpolate_pos_encoding`).

**The encoder** is a stack of pre-norm transformer blocks,
$z \leftarrow z + \mathrm{MHA}(\mathrm{LN}(z))$, $z \leftarrow z + \mathrm{MLP}(\mathrm{LN}(z))$,
with GELU and no mask (every patch sees every patch), and a final LayerNorm: `transformer`'s
`TransformerBlock` as it is. With the weights copied in, `ViT` equals `transformers`' `ViTModel`
(random init from a `ViTConfig`, eval mode) to 1e-5; see the test.

**The captioner.** The ViT's $N + 1$ output tokens $h \in \mathbb R^{(N+1) \times d_v}$ pass
through a projector $g$ (Linear, GELU, Linear) into the language model's width $d$, and are
placed before the caption's token embeddings: the decoder sees
$[g(h_0), .., g(h_N), w_{\langle s \rangle}, w_1, .., w_{T}]$ under its causal mask, with its own
rotary positions counting from the first image token. The loss is next-token cross-entropy on the
caption positions only,

$$ \mathcal L = -\frac{1}{T + 1} \sum_{t=0}^{T} \log p_\theta(w_{t+1} \mid g(h), w_{\le t}), $$

with $w_0 = \langle s \rangle$ and $w_{T+1} = \langle /s \rangle$ (both the tokenizer's pad id).
Because the image comes first and the mask is causal, every caption token can attend to the whole
image; the image tokens themselves only see earlier image tokens inside the decoder, which costs
nothing since the ViT has already mixed them. Everything is trained end to end from scratch on
`clip.py`'s generated shapes ("a red circle"). An instructive result: a couple of hundred steps
on the CPU teach the captioner the sentence's form and the colour word (the test asks for 95% on
fresh images), while the shape word stays near chance in that budget (we measured about a third,
always one shape, for several widths, patch sizes, learning rates and up to 500 steps). Colour is
a mean over pixels, which one patch embedding and any attention pattern reads off; shape is a
relation between patches that a ViT, with no convolutional prior of locality or translation
equivariance, must learn from data. `clip.py`'s small CNN tells the shapes apart in the same
number of steps; Dosovitskiy et al. report the same trade-off at scale (ViTs overtake CNNs only
with large pretraining sets). The joint-training chapter comes back to this: a convolutional
stem alone is not enough for the captioner, a contrastive loss on the same tower is.

References: Dosovitskiy et al., *An image is worth 16x16 words: transformers for image
recognition at scale* (ViT), 2021, https://arxiv.org/abs/2010.11929; Liu et al., *Visual
instruction tuning* (LLaVA, the projector-into-the-LM recipe), 2023,
https://arxiv.org/abs/2304.08485; Mokady et al., *ClipCap: CLIP prefix for image captioning*,
2021, https://arxiv.org/abs/2111.09734.

Left out: pretraining at scale and freezing the encoder or the LM (the joint-training chapter),
patch dropout and register tokens, Q-Former/perceiver resamplers that shorten the prefix,
beam search.

>>> vit = ViT(ViTArgs(image_size=16, patch_size=4, d_model=8, n_layers=1, n_heads=2, d_ff=16))
>>> vit(torch.zeros(2, 3, 16, 16)).shape  # 16 patches and the class token
torch.Size([2, 17, 8])
>>> vit(torch.zeros(1, 3, 24, 16), interpolate=True).shape  # a 6 x 4 grid of patches
torch.Size([1, 25, 8])

## Exercises

1. Write `patchify(images, p)` turning `(B, C, H, W)` into `(B, N, C*p*p)` flattened patches,
   row-major over the grid, so that `patchify(x, p) @ E.T` equals the patch embedding
   `Conv2d` with weight `E.view(d, C, p, p)`. Check it: `uv run pytest --exercise frontiers.vit`
2. Write `interpolate_positions(pos, grid, new_grid)`: given position embeddings `(1, 1 + G*G, d)`
   return those for a `new_grid = (G', G'')` grid, class position unchanged, patch positions
   resampled bicubically. Check it: `uv run pytest --exercise frontiers.vit`
3. Write `caption_loss(logits, targets, n_prefix)`: the mean next-token cross-entropy over
   caption positions only, for logits `(B, n_prefix + T, V)` over the whole decoder sequence and
   targets `(B, T)`. Check it: `uv run pytest --exercise frontiers.vit`
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The data and tokenizer are the CLIP chapter's generated shapes; the decoder is `llm`'s language
# model, and the encoder blocks are the Transformer chapter's, configured the ViT way.
from masterclass.frontiers.clip import COLOURS, SHAPES, caption_tokenizer, draw_shapes
from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.nlp.bpe import BPETokenizer
from masterclass.transformer.transformer_block import BlockConfig, TransformerBlock, make_norm


@dataclass
class ViTArgs:
    """The shape of a ViT (the names of `transformers`' `ViTConfig` in comments)."""

    image_size: int = 16  # (image_size) side of the square training image
    patch_size: int = 4  # (patch_size) side P of a patch
    channels: int = 3  # (num_channels)
    d_model: int = 32  # (hidden_size)
    n_layers: int = 2  # (num_hidden_layers)
    n_heads: int = 4  # (num_attention_heads)
    d_ff: int = 64  # (intermediate_size)
    norm_eps: float = 1e-12  # (layer_norm_eps): ViT's default

    # The image must split into whole patches; the grid side follows.
    def __post_init__(self) -> None:
        if self.patch_size <= 0 or self.image_size % self.patch_size != 0:
            raise ValueError(
                f"patch_size={self.patch_size} must be positive and divide "
                f"image_size={self.image_size}; choose a divisor"
            )

    @property
    def grid(self) -> int:
        """Patches per side, G = image_size / patch_size."""
        return self.image_size // self.patch_size


# ## Patch embedding, class token, positions
#
# The convolution with kernel = stride = P is the linear map of each flattened patch; flattening
# its `(d, G_h, G_w)` output from axis 2 and moving channels last gives tokens in row-major grid
# order, the order the position vectors are stored in.


class PatchEmbedding(nn.Module):
    """`(B, C, H, W)` images to `(B, N, d)` patch tokens, N = (H/P)(W/P)."""

    def __init__(self, args: ViTArgs) -> None:
        super().__init__()
        self.patch_size = args.patch_size
        # A convolution with kernel and stride P is one linear map applied to each non-overlapping P
        # x P patch: the patch embedding.
        self.proj = nn.Conv2d(args.channels, args.d_model, args.patch_size, stride=args.patch_size)

    def forward(self, images: Tensor) -> Tensor:
        """Patch tokens `(B, N, d_model)` of `images` `(B, C, H, W)`, row by row."""
        if images.dim() != 4 or images.shape[1] != self.proj.in_channels:
            raise ValueError(
                f"images must be (B, {self.proj.in_channels}, H, W), got {tuple(images.shape)}"
            )
        H, W = images.shape[-2:]
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f"image height and width must be multiples of patch_size={self.patch_size}, "
                f"got {H}x{W}; crop or pad the image"
            )
        return self.proj(images).flatten(2).transpose(1, 2)  # (B, N, d)


# Position vectors are a `(G, G)` grid of `d`-vectors flattened row by row; resampling them to
# another grid is a bicubic interpolation of a `d`-channel `G x G` image, the class position apart.


def interpolate_positions(pos: Tensor, grid: int, new_grid: tuple[int, int]) -> Tensor:
    """Position embeddings `(1, 1 + grid**2, d)` resampled to `(1, 1 + G' * G'', d)`."""
    cls_pos, patch_pos = pos[:, :1], pos[:, 1:]  # (1, 1, d), (1, G*G, d)
    if new_grid == (grid, grid):
        return pos
    d = pos.shape[-1]
    image = patch_pos.reshape(1, grid, grid, d).permute(0, 3, 1, 2)  # (1, d, G, G)
    image = F.interpolate(image, size=new_grid, mode="bicubic", align_corners=False)
    return torch.cat((cls_pos, image.permute(0, 2, 3, 1).reshape(1, -1, d)), dim=1)


# ## The encoder
#
# `transformer`'s pre-norm block with LayerNorm, exact GELU and biases is ViT's layer; the blocks
# run without a mask. The random init follows ViT's: truncated normals of std 0.02 for the class
# token and positions (the projections keep torch's defaults; the reference test copies them).


class ViT(nn.Module):
    """Patch embedding, class token, learnt 2-D positions, pre-norm blocks, final LayerNorm."""

    # A learnt class token and one learnt position per token (class token included), both
    # initialised small, as in the reference ViT.
    def __init__(self, args: ViTArgs) -> None:
        super().__init__()
        self.args = args
        self.patch = PatchEmbedding(args)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, args.d_model))
        self.pos_emb = nn.Parameter(torch.zeros(1, 1 + args.grid**2, args.d_model))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_emb, std=0.02)
        # ViT's blocks: a GELU MLP and LayerNorm in pre-norm order, with a final LayerNorm after the
        # last block.
        cfg = BlockConfig(
            d_model=args.d_model,
            n_heads=args.n_heads,
            d_ff=args.d_ff,
            activation="gelu",
            norm="layernorm",
            norm_eps=args.norm_eps,
            norm_first=True,
        )
        self.blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(args.n_layers))
        self.norm = make_norm("layernorm", args.d_model, args.norm_eps)

    def forward(self, images: Tensor, interpolate: bool = False) -> Tensor:
        """Tokens `(B, 1 + N, d)` (class token first) of `images` `(B, C, H, W)`.

        Without `interpolate` the image must have the training size; with it, any multiple of the
        patch size, the positions resampled to the new grid.
        """
        # Patches become tokens, the class token goes in front, and the positions are added
        # (resampled when the grid differs from training's); then the blocks.
        H, W = images.shape[-2:]
        if not interpolate and (self.args.image_size,) * 2 != (H, W):
            raise ValueError(
                f"images are {H}x{W} but the ViT was built for {self.args.image_size}x"
                f"{self.args.image_size}; resize them or pass interpolate=True"
            )
        z = self.patch(images)  # (B, N, d)
        z = torch.cat((self.cls_token.expand(z.shape[0], -1, -1), z), dim=1)  # (B, 1 + N, d)
        P = self.args.patch_size
        z = z + interpolate_positions(self.pos_emb, self.args.grid, (H // P, W // P))
        for block in self.blocks:
            z = block(z)  # (B, 1 + N, d)
        return self.norm(z)


# ## The captioner: ViT tokens as the prefix of `llm`'s decoder
#
# The decoder's forward pass is `LanguageModel`'s own (embedding, rotary tables, masks, blocks,
# final norm, head) called through its helpers, as in `crossmodal.py`, with one change: the
# projected image tokens are concatenated before the token embeddings. `lm._layer_masks(...,
# always=False)` gives `None` for plain causal layers, so the blocks apply their causal mask over
# the whole prefix-plus-caption sequence.


class Captioner(nn.Module):
    """ViT encoder, a two-layer projector, and `llm`'s `LanguageModel` reading the image as a prefix."""

    # With learnt absolute positions, the LM's context must fit the image prefix and at least one
    # caption token. The projector maps ViT's width to the LM's, LLaVA-style.
    def __init__(self, vit: ViT, lm: LanguageModel) -> None:
        super().__init__()
        if lm.config.pos == "learned" and lm.config.max_seq_len <= 1 + vit.args.grid**2:
            raise ValueError(
                f"the LM's max_seq_len={lm.config.max_seq_len} leaves no room for a caption after "
                f"{1 + vit.args.grid**2} image tokens; raise it"
            )
        self.vit, self.lm = vit, lm
        d_v, d = vit.args.d_model, lm.config.d_model
        self.projector = nn.Sequential(nn.Linear(d_v, d), nn.GELU(), nn.Linear(d, d))

    @property
    def n_prefix(self) -> int:
        """How many image positions (class token and patches) precede the caption."""
        return 1 + self.vit.args.grid**2

    def forward(self, images: Tensor, ids: Tensor) -> Tensor:
        """Logits `(B, T, V)` at the caption positions for `ids` `(B, T)` after `images`."""
        return self.decode(self.projector(self.vit(images)), ids)

    # The decoder's own forward pass, with the image prefix spliced in before the token embeddings:
    # positions (learnt or RoPE) and the causal masks span prefix and caption together, so caption
    # tokens attend to every image token.
    def decode(self, prefix: Tensor, ids: Tensor) -> Tensor:
        """Logits `(B, T, V)` at the caption positions for `ids` `(B, T)` after the projected
        image tokens `prefix` `(B, P, d)` (the joint-training chapter edits the prefix)."""
        lm = self.lm
        P, T = prefix.shape[1], ids.shape[1]
        if lm.pos_emb is not None:
            pos = lm.pos_emb(torch.arange(P + T, device=ids.device))  # (P + T, d)
            x = torch.cat((prefix, lm.tok_emb(ids)), dim=1) + pos  # (B, P + T, d)
        else:
            x = torch.cat((prefix, lm.tok_emb(ids)), dim=1)  # (B, P + T, d)
        rope = lm._rope(0, P + T, ids.device)
        masks = lm._layer_masks(0, P + T, ids.device, always=False)
        for layer, block in enumerate(lm.blocks):
            x = block(x, rope, masks[layer], None, layer)
        return lm.lm_head(lm.norm(x[:, P:]))  # (B, T, V)

    # Greedy decoding without a cache: the whole prefix and caption run again for each new token,
    # which is cheap at these sizes.
    @torch.no_grad()
    def caption(self, images: Tensor, bos: int, eos: int, max_new: int = 8) -> list[list[int]]:
        """Greedy captions of `images`: token ids after `bos`, stopped at `eos` (not included)."""
        ids = torch.full((images.shape[0], 1), bos, dtype=torch.long)
        for _ in range(max_new):
            nxt = self(images, ids)[:, -1].argmax(-1, keepdim=True)  # (B, 1)
            ids = torch.cat((ids, nxt), dim=1)
        out = []
        for row in ids[:, 1:].tolist():
            out.append(row[: row.index(eos)] if eos in row else row)
        return out


# ## Data and training
#
# A caption "a red circle" becomes `[<s>] + ids + [</s>]` with the pad id as both markers;
# shorter captions are right-padded with targets -100 (ignored). Every step draws fresh images
# from `clip.draw_shapes`, so there is nothing to overfit; evaluation scores the greedy caption of
# images from an unseen seed word by word.


def caption_batch(tok: BPETokenizer, captions: list[str], pad: int) -> tuple[Tensor, Tensor]:
    """Decoder inputs `(B, T)` (starting with `<s>`) and targets `(B, T)` (ending with `</s>`)."""
    # The pad token doubles as begin and end of a caption; inputs drop the last token and targets
    # the first, and the targets' padding is -100, so the loss ignores it.
    seqs = [[pad, *tok.encode(c), pad] for c in captions]
    width = max(len(s) for s in seqs) - 1
    inputs = torch.tensor([s[:-1] + [pad] * (width + 1 - len(s)) for s in seqs])
    targets = torch.tensor([s[1:] + [-100] * (width + 1 - len(s)) for s in seqs])
    return inputs, targets


def make_captioner(vocab_size: int, *, seed: int = 0) -> Captioner:
    """A small ViT (16x16 images, 4x4 patches) and a 2-layer LLaMA-style `llm` decoder."""
    torch.manual_seed(seed)
    vit = ViT(ViTArgs(image_size=16, patch_size=4, d_model=32, n_layers=2, n_heads=4, d_ff=64))
    cfg = LMConfig.llama(vocab_size=vocab_size, d_model=32, n_layers=2, n_heads=4, max_seq_len=32)
    return Captioner(vit, LanguageModel(cfg))


def train_captioner(steps: int = 300, *, batch: int = 32, lr: float = 3e-3, seed: int = 0):
    """Train a captioner on generated shapes; returns (model, tokenizer, pad id, accuracies)."""
    # A fresh batch of shapes every step, the captions as teacher-forced inputs, and cross-entropy
    # on the caption positions only.
    tok, pad = caption_tokenizer()
    model = make_captioner(tok.vocab_size, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    for step in range(steps):
        images, _, captions = draw_shapes(batch, seed=seed * 100_000 + step)
        inputs, targets = caption_batch(tok, captions, pad)
        logits = model(torch.from_numpy(images), inputs)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model, tok, pad, caption_accuracy(model, tok, pad, seed=seed + 1)


def caption_accuracy(
    model: Captioner, tok: BPETokenizer, pad: int, *, n: int = 200, seed: int = 1
) -> dict[str, float]:
    """On `n` fresh images: the fractions of greedy captions of the form "a <colour> <shape>",
    with the right colour word, the right shape word, and exactly right."""
    # Held-out images from a seed range training never uses; each greedy caption is checked for its
    # form, then word by word.
    images, _, captions = draw_shapes(n, seed=10_000_000 + seed)
    model.eval()
    got = [tok.decode(g).split() for g in model.caption(torch.from_numpy(images), pad, pad)]
    model.train()
    want = [c.split() for c in captions]
    form = [len(g) == 3 and g[0] == "a" and g[1] in COLOURS and g[2] in SHAPES for g in got]
    return {
        "form": sum(form) / n,
        "colour": sum(f and g[1] == w[1] for f, g, w in zip(form, got, want, strict=True)) / n,
        "shape": sum(f and g[2] == w[2] for f, g, w in zip(form, got, want, strict=True)) / n,
        "exact": sum(g == w for g, w in zip(got, want, strict=True)) / n,
    }
