r"""# Exercises: Vision-language models: a ViT and a tiny captioner

Patches as tokens, resampling the 2-D position grid, and the captioning loss on the caption only."""

import torch
import torch.nn.functional as F

from masterclass.frontiers.vit import ViT, ViTArgs


def solution_1_patchify(images, p):
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // p, p, W // p, p)  # (B, C, Gh, p, Gw, p)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(B, (H // p) * (W // p), C * p * p)


def check_1_patchify(fn) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 12, generator=g, dtype=torch.float64)
    E = torch.randn(5, 3 * 2 * 2, generator=g, dtype=torch.float64)
    want = F.conv2d(x, E.view(5, 3, 2, 2), stride=2).flatten(2).transpose(1, 2)  # (B, N, d)
    got = fn(x, 2)
    assert tuple(got.shape) == (2, 24, 12), f"shape {tuple(got.shape)}, want (2, 24, 12)"
    assert torch.allclose(got @ E.T, want, atol=1e-10), "patches @ E.T differ from the Conv2d"


def solution_2_interpolate_positions(pos, grid, new_grid):
    d = pos.shape[-1]
    image = pos[:, 1:].reshape(1, grid, grid, d).permute(0, 3, 1, 2)
    image = F.interpolate(image, size=new_grid, mode="bicubic", align_corners=False)
    return torch.cat((pos[:, :1], image.permute(0, 2, 3, 1).reshape(1, -1, d)), dim=1)


def check_2_interpolate_positions(fn) -> None:
    from transformers import ViTConfig
    from transformers.models.vit.modeling_vit import ViTEmbeddings

    torch.manual_seed(0)
    emb = ViTEmbeddings(ViTConfig(image_size=16, patch_size=4, hidden_size=8)).eval()
    pos = emb.position_embeddings.detach()
    for new in ((6, 5), (2, 2), (4, 7)):
        x = torch.zeros(1, 1 + new[0] * new[1], 8)
        want = emb.interpolate_pos_encoding(x, new[0] * 4, new[1] * 4)
        got = fn(pos, 4, new)
        assert tuple(got.shape) == tuple(want.shape), f"shape {tuple(got.shape)} for grid {new}"
        assert torch.allclose(got, want, atol=1e-6), f"wrong positions for grid {new}"


def solution_3_caption_loss(logits, targets, n_prefix):
    caption = logits[:, n_prefix:]
    return F.cross_entropy(caption.flatten(0, 1), targets.flatten(), ignore_index=-100)


def check_3_caption_loss(fn) -> None:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 7 + 4, 10, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 10, (3, 4), generator=g)
    targets[0, -1] = -100
    logp = logits[:, 7:].log_softmax(-1)
    keep = targets != -100
    picked = logp.gather(-1, targets.clamp_min(0)[..., None])[..., 0]
    want = -(picked * keep).sum() / keep.sum()
    got = fn(logits, targets, 7)
    assert torch.allclose(torch.as_tensor(got), want, atol=1e-10), (
        f"loss {float(got):.6f}, want {float(want):.6f} (caption positions only, -100 ignored)"
    )
    # The chapter's ViT makes `n_prefix = 1 + grid**2` tokens: 17 for 16x16 images, 4x4 patches.
    assert ViT(ViTArgs()).pos_emb.shape[1] == 17
