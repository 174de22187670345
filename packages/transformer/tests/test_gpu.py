"""The same code on a CUDA device: attention against torch's fused kernels, a model against the CPU."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.transformer.attention import scaled_dot_product_attention
from masterclass.transformer.gpt import GPT, GPTConfig

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_attention_matches_torch_fused_kernels_on_cuda():
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(2, 8, 128, 64, device="cuda", generator=g)
    k = torch.randn(2, 2, 128, 64, device="cuda", generator=g)
    v = torch.randn(2, 2, 128, 64, device="cuda", generator=g)
    ours = scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    # float32 against torch's flash/efficient kernels (full float32, summed
    # in another order): 1e-4 absolute on outputs of size ~1.
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_gpt_on_cuda_matches_cpu():
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=101, max_positions=32, d_model=64, n_layers=2, n_heads=4)
    ).eval()
    ids = torch.randint(0, 101, (2, 24))
    with torch.no_grad():
        cpu = model(ids)[0]
        cuda = model.cuda()(ids.cuda())[0].cpu()
    torch.testing.assert_close(cuda, cpu, atol=1e-4, rtol=1e-4)
