"""LoRA against Hugging Face peft's LoRA on `llm`'s model with copied adapter weights: outputs,
gradients, merged weights; merge/unmerge round trip."""

import copy

import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.lora import (
    LoRALinear,
    apply_lora,
    lora_parameters,
    merge_lora,
    unmerge_lora,
)

CONFIG = LMConfig(vocab_size=40, d_model=32, n_layers=2, n_heads=4, max_seq_len=32)


def _pair(r=4, alpha=8.0, rslora=False):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    base = LanguageModel(CONFIG).double()
    theirs = get_peft_model(
        copy.deepcopy(base),
        LoraConfig(
            r=r,
            lora_alpha=alpha,
            target_modules=["qkv", "o_proj"],
            lora_dropout=0.0,
            use_rslora=rslora,
        ),
    )
    ours = apply_lora(base, ("qkv", "o_proj"), r=r, alpha=alpha, rslora=rslora)
    # B starts at zero in both; give it random values (and copy A) so the update is non-trivial.
    g = torch.Generator().manual_seed(1)
    named = dict(theirs.named_modules())
    for name, m in ours.named_modules():
        if isinstance(m, LoRALinear):
            with torch.no_grad():
                m.lora_B.copy_(torch.randn(m.lora_B.shape, generator=g, dtype=torch.float64) * 0.1)
                peer = named["base_model.model." + name]
                peer.lora_A["default"].weight.copy_(m.lora_A)
                peer.lora_B["default"].weight.copy_(m.lora_B)
                torch.testing.assert_close(peer.base_layer.weight, m.base.weight, atol=0, rtol=0)
    return ours, theirs


@pytest.mark.slow  # importing peft takes seconds
@pytest.mark.parametrize("rslora", [False, True])
def test_outputs_and_gradients_match_peft(rslora):
    ours, theirs = _pair(rslora=rslora)
    idx = torch.randint(0, 40, (2, 9), generator=torch.Generator().manual_seed(2))
    a, b = ours(idx), theirs(idx)
    # float64, the same products: 1e-12.
    torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)
    a.square().sum().backward()
    b.square().sum().backward()
    named = dict(theirs.named_modules())
    n_checked = 0
    for name, m in ours.named_modules():
        if isinstance(m, LoRALinear):
            peer = named["base_model.model." + name]
            torch.testing.assert_close(
                m.lora_A.grad, peer.lora_A["default"].weight.grad, atol=1e-10, rtol=1e-10
            )
            torch.testing.assert_close(
                m.lora_B.grad, peer.lora_B["default"].weight.grad, atol=1e-10, rtol=1e-10
            )
            n_checked += 1
    assert n_checked == 4
    # Only the adapters train, in both.
    trainable = sum(p.numel() for p in ours.parameters() if p.requires_grad)
    theirs_trainable = sum(p.numel() for p in theirs.parameters() if p.requires_grad)
    assert trainable == theirs_trainable == sum(p.numel() for p in lora_parameters(ours))


@pytest.mark.slow
def test_merge_matches_peft_and_unmerge_restores_the_weights():
    ours, theirs = _pair()
    idx = torch.randint(0, 40, (2, 9), generator=torch.Generator().manual_seed(3))
    before = ours(idx).detach()
    original = {n: p.detach().clone() for n, p in ours.named_parameters() if "base.weight" in n}
    merge_lora(ours)
    merged = theirs.merge_and_unload()
    for name, m in ours.named_modules():
        if isinstance(m, LoRALinear):
            torch.testing.assert_close(
                m.base.weight, merged.get_submodule(name).weight, atol=1e-14, rtol=0
            )
    # Merged outputs equal the unmerged ones (float64 rounding of a different sum order: 1e-12).
    torch.testing.assert_close(ours(idx), before, atol=1e-12, rtol=1e-12)
    merge_lora(ours)  # idempotent
    unmerge_lora(ours)
    for n, p in ours.named_parameters():
        if n in original:
            # W + D - D in float64: within one or two ulps of W.
            torch.testing.assert_close(p, original[n], atol=1e-15, rtol=1e-15)
    torch.testing.assert_close(ours(idx), before, atol=1e-12, rtol=1e-12)


def test_a_fresh_adapter_leaves_the_model_unchanged():
    torch.manual_seed(0)
    model = LanguageModel(CONFIG)
    idx = torch.randint(0, 40, (1, 5))
    before = model(idx).detach()
    apply_lora(model, ("qkv", "o_proj", "up", "down"), r=2)
    assert torch.equal(model(idx), before)  # B = 0: exactly the base model


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match=r"nn\.Linear"):
        LoRALinear(torch.nn.Conv1d(2, 2, 1), 2, 4)
    with pytest.raises(ValueError, match="r must be >= 1"):
        LoRALinear(torch.nn.Linear(2, 2), 0, 4)
    with pytest.raises(ValueError, match=r"no nn\.Linear"):
        apply_lora(LanguageModel(CONFIG), ("nope",))
