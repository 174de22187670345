"""GPT against Hugging Face's `GPT2LMHeadModel` with copied weights, and its generation."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from masterclass.transformer.gpt import GPT, GPTConfig
from masterclass.transformer.sampling import generate

HF = GPT2Config(
    vocab_size=101,
    n_positions=32,
    n_embd=32,
    n_layer=2,
    n_head=4,
    resid_pdrop=0.0,
    embd_pdrop=0.0,
    attn_pdrop=0.0,
    attn_implementation="eager",
)
OURS = GPTConfig(vocab_size=101, max_positions=32, d_model=32, n_layers=2, n_heads=4)


def _pair(seed, dtype=torch.float32):
    torch.manual_seed(seed)
    ref = GPT2LMHeadModel(HF).to(dtype).eval()
    ours = GPT(OURS).to(dtype).eval()
    ours.load_hf_state_dict(ref.state_dict())
    return ours, ref


def test_logits_match_hf_gpt2_float32():
    ours, ref = _pair(0)
    ids = torch.randint(0, 101, (3, 20), generator=torch.Generator().manual_seed(0))
    keep = torch.ones(3, 20, dtype=torch.long)
    keep[1, 12:] = 0  # right padding: the real tokens' logits must not change
    # float32: a few 32-wide layers; 1e-5 is a few hundred ulps at logits of size ~1.
    real = keep.bool()
    torch.testing.assert_close(
        ours(ids, keep)[0][real],
        ref(input_ids=ids, attention_mask=keep).logits[real],
        atol=1e-5,
        rtol=1e-5,
    )


def test_loss_and_gradients_match_hf_float64():
    ours, ref = _pair(1, torch.float64)
    ids = torch.randint(0, 101, (2, 16), generator=torch.Generator().manual_seed(1))
    loss = ours(ids, labels=ids)[1]
    # HF's own loss upcasts to float32; the reference loss is torch's cross-entropy on HF's float64
    # logits, shifted by one position.
    ref_logits = ref(input_ids=ids).logits
    ref_loss = torch.nn.functional.cross_entropy(
        ref_logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten()
    )
    torch.testing.assert_close(loss, ref_loss, atol=1e-10, rtol=1e-10)
    loss.backward()
    ref_loss.backward()
    torch.testing.assert_close(
        ours.embeddings.tokens.weight.grad, ref.transformer.wte.weight.grad, atol=1e-10, rtol=1e-8
    )
    torch.testing.assert_close(
        ours.blocks[0].attn.q_proj.weight.grad,
        ref.transformer.h[0].attn.c_attn.weight.grad[:, :32].T,
        atol=1e-10,
        rtol=1e-8,
    )


def test_greedy_generation_matches_hf_generate():
    ours, ref = _pair(2)
    prompt = torch.tensor([[5, 17, 42, 9]])
    out = generate(ours, prompt, max_new_tokens=12, greedy=True)
    ref_out = ref.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=12,
        do_sample=False,
        pad_token_id=0,
    )
    assert torch.equal(out, ref_out)


def test_generation_beyond_the_table_keeps_the_last_positions():
    ours, _ = _pair(3)
    out = generate(ours, torch.zeros(2, 30, dtype=torch.long), max_new_tokens=5, greedy=True)
    assert out.shape == (2, 35)


def test_bad_inputs_are_clear():
    ours, _ = _pair(4)
    with pytest.raises(ValueError, match="longer than the position table of 32"):
        ours(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match="does not divide"):
        GPT(GPTConfig(vocab_size=10, d_model=30, n_heads=4, n_layers=1))
    with pytest.raises(ValueError, match="non-empty"):
        generate(ours, torch.zeros(1, 0, dtype=torch.long), 3)
