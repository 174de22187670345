"""Chat template, loss masking (exactly zero gradient on the prompt) and packing with document
masks against per-example SFT."""

import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.nlp import BPETokenizer
from masterclass.training.instruction_tuning import (
    ChatTemplate,
    add_special_tokens,
    document_mask,
    pack,
    packed_forward,
    resize_embeddings,
    tokenize_chat,
)
from masterclass.training.losses import cross_entropy, next_token_loss

TEMPLATE = ChatTemplate()


@pytest.fixture(scope="module")
def tokenizer():
    base = BPETokenizer.train(["what is two plus two? four. hello there, friend."] * 5, 280)
    return add_special_tokens(base, TEMPLATE.special_tokens)


def _chat(q, a):
    return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


def test_template_tokens_are_special_and_round_trip(tokenizer):
    msgs = [{"role": "system", "content": "be brief"}, *_chat("two plus two?", "four")]
    ids, labels = tokenize_chat(tokenizer, msgs)
    text = TEMPLATE.render(msgs)
    assert tokenizer.decode(ids) == text
    # The markers are single special ids, and the tokenizer finds them in the rendered text.
    assert tokenizer.encode(text, allowed_special="all") == ids
    specials = set(tokenizer.special_tokens.values())
    assert sum(i in specials for i in ids) == 6  # 3 headers + 3 ends
    # Labels: only the assistant's content and its end token are kept.
    kept = [i for i, lab in zip(ids, labels, strict=True) if lab != -100]
    assert tokenizer.decode(kept) == "four<|end|>"


def test_prompt_tokens_get_exactly_zero_gradient(tokenizer):
    torch.manual_seed(0)
    model = LanguageModel(
        LMConfig(vocab_size=tokenizer.vocab_size, d_model=32, n_layers=1, n_heads=4)
    )
    ids, labels = tokenize_chat(tokenizer, _chat("what is two plus two?", "four."))
    ids, labels = torch.tensor([ids]), torch.tensor([labels])
    logits = model(ids).detach().requires_grad_(True)
    next_token_loss(logits, labels).backward()
    prompt_rows = labels[0, 1:] == -100  # positions t whose target x_{t+1} is not learned
    assert prompt_rows.any() and (~prompt_rows).any()
    assert torch.all(logits.grad[0, :-1][prompt_rows] == 0)  # exactly, not approximately
    assert torch.all(logits.grad[0, -1] == 0)
    assert torch.all(logits.grad[0, :-1][~prompt_rows].abs().sum(-1) > 0)


def test_resized_embeddings_keep_old_rows_and_start_new_ones_at_the_mean():
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=20, d_model=8, n_layers=1, n_heads=2))
    old = model.tok_emb.weight.detach().clone()
    resize_embeddings(model, 23)
    assert model.tok_emb.weight.shape == (23, 8) and model.lm_head.weight.shape == (23, 8)
    assert torch.equal(model.tok_emb.weight[:20], old)
    torch.testing.assert_close(model.tok_emb.weight[21], old.mean(0))
    assert model(torch.tensor([[22, 1]])).shape == (1, 2, 23)


def test_packing_equals_per_example_sft(tokenizer):
    torch.manual_seed(0)
    config = LMConfig(
        vocab_size=tokenizer.vocab_size, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2
    )
    model = LanguageModel(config).double()
    examples = [
        tokenize_chat(tokenizer, _chat(q, a))
        for q, a in [
            ("two plus two?", "four."),
            ("hello", "hello there, friend."),
            ("what is four?", "two plus two."),
            ("friend?", "there."),
        ]
    ]
    batch = pack(examples, seq_len=40)
    assert batch.ids.shape[0] < len(examples)  # several examples share a row
    packed = packed_forward(model, batch)  # (B, T, V)
    # Per-example reference: each conversation alone through the ordinary forward.
    num, den = 0.0, 0
    for b in range(batch.ids.shape[0]):
        for d in batch.doc_ids[b].unique().tolist():
            if d < 0:
                continue
            where = batch.doc_ids[b] == d
            alone = model(batch.ids[b, where][None])[0]
            # float64: the masked and the plain causal attention differ by rounding, ~1e-15;
            # asked for 1e-6.
            torch.testing.assert_close(packed[b, where], alone, atol=1e-6, rtol=1e-6)
    for ids, labels in examples:
        logits = model(torch.tensor([ids]))
        t = torch.tensor([labels])
        mask = t[:, 1:] != -100
        num += next_token_loss(logits, t).item() * mask.sum().item()
        den += mask.sum().item()
    packed_loss = cross_entropy(packed, batch.targets)
    assert packed_loss.item() == pytest.approx(num / den, abs=1e-6)
    # Without the document mask the documents see each other and the logits change.
    model.eval()
    plain = model(batch.ids[:1])
    second = batch.doc_ids[0] == 1
    assert not torch.allclose(plain[0, second], packed[0, second], atol=1e-3)


def test_document_mask_is_block_diagonal_causal():
    m = document_mask(torch.tensor([0, 0, 1, 1, 1, -1]))
    want = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [0, 0, 1, 0, 0, 0],
            [0, 0, 1, 1, 0, 0],
            [0, 0, 1, 1, 1, 0],
            [0, 0, 0, 0, 0, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(m, want)


def test_bad_input_is_refused(tokenizer):
    base = BPETokenizer.train(["abc"] * 3, 260)
    with pytest.raises(ValueError, match="add_special_tokens"):
        tokenize_chat(base, _chat("a", "b"))
    with pytest.raises(ValueError, match="role must be one of"):
        tokenize_chat(tokenizer, [{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match="seq_len"):
        pack([([1] * 10, [1] * 10)], seq_len=4)
    model = LanguageModel(LMConfig(vocab_size=20, d_model=8, n_layers=1, n_heads=2, pos="alibi"))
    with pytest.raises(ValueError, match="rope"):
        packed_forward(model, pack([([1, 2], [1, 2])], 4))
    with pytest.raises(ValueError, match="only growing"):
        resize_embeddings(model, 10)
