r"""# Exercises: GPT

The shifted next-token loss, and the causal mask it relies on: a position's logits must not
change when later tokens do."""

import torch
import torch.nn.functional as F

from masterclass.transformer.gpt import GPT, GPTConfig


def _model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=50, max_positions=16, d_model=16, n_layers=2, n_heads=2)).eval()


def solution_1_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Mean cross-entropy of the output at $t$ against the token at $t + 1$ (`-100` ignored):
    the last output has no target, the first token is never predicted."""
    V = logits.shape[-1]
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100
    )


def check_1_lm_loss(fn) -> None:
    """Compare with the loss `GPT.forward` returns with `labels`."""
    model = _model()
    g = torch.Generator().manual_seed(1)
    for B, T in [(1, 4), (3, 9), (2, 16)]:
        ids = torch.randint(0, 50, (B, T), generator=g)
        labels = ids.clone()
        labels[:, : T // 3] = -100  # a prompt that is not scored
        with torch.no_grad():
            logits, want = model(ids, labels=labels)
        got = fn(logits, labels)
        assert torch.allclose(got, want, atol=1e-6), (
            f"(B, T) = {(B, T)}: got {float(got):.6f}, GPT's loss is {float(want):.6f} "
            "(shift by one, ignore -100)"
        )


def solution_2_leaks(model: GPT, ids: torch.Tensor, t: int) -> bool:
    """Change every token after position `t` and report whether the logits at `0..t` move."""
    changed = ids.clone()
    changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % model.cfg.vocab_size
    with torch.no_grad():
        a, _ = model(ids)
        b, _ = model(changed)
    return not torch.allclose(a[:, : t + 1], b[:, : t + 1], atol=1e-6)


def check_2_leaks(fn) -> None:
    """A causal GPT must not leak (False); a model run without its mask must (True)."""
    model = _model()
    ids = torch.randint(0, 50, (2, 10), generator=torch.Generator().manual_seed(2))
    for t in (0, 4, 8):
        assert not fn(model, ids, t), f"t={t}: GPT's logits up to t must not see later tokens"

    class Bidirectional(GPT):
        def forward(self, input_ids, attention_mask=None, labels=None):
            h = self.embeddings(input_ids)
            for block in self.blocks:
                h = block(h)  # no causal mask: every position sees every other
            return self.norm(h) @ self.embeddings.tokens.weight.T, None

    leaky = Bidirectional(model.cfg).eval()
    leaky.load_state_dict(model.state_dict())
    assert fn(leaky, ids, 4), "without the causal mask the earlier logits must change"
