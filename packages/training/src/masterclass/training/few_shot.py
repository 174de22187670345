r"""# Few-shot learning: in-context evaluation

A pretrained language model can do a task it was never fine-tuned on when the prompt shows it a
few solved examples (GPT-3, Brown et al., 2020, *Language Models are Few-Shot Learners*,
[arXiv:2005.14165](https://arxiv.org/abs/2005.14165)). Nothing is trained: the **$k$ shots** are
text, and the model's weights stay fixed. Evaluating that ability is how base models are
compared, and this chapter implements the two measurements every harness makes, following the
conventions of EleutherAI's `lm-evaluation-harness` so that the numbers agree with it (the test
runs `lm-eval` on the same model and task).

**The prompt.** Each example is a dict. `doc_to_text` turns it into a question string, the
target follows after a target delimiter (a space), and shots are separated by a blank line:

```
Q: 2+3=?  A: 5            <- shot 1: text + " " + target
                          <- fewshot delimiter "\n\n"
Q: 4+4=?  A: 8            <- shot 2
                          <- "\n\n"
Q: 1+6=?  A:              <- the query: text only; the model continues
```

**Log-likelihood multiple choice.** For a query with choices $c_1..c_m$, score each by the
log-probability of its tokens after the context,

$$ \ell_j = \log p(c_j \mid \text{ctx}) = \sum_{t \in c_j} \log p(x_t \mid x_{<t}), $$

and predict $\arg\max_j \ell_j$: **acc** is the fraction right. Longer choices collect more
negative log terms, so a length-fair variant divides by the choice's length in characters:
**acc_norm** predicts $\arg\max_j \ell_j / |c_j|$ (the harness's definition; characters, not
tokens, so that it does not depend on the tokenizer).

Tokenisation must split context and choice exactly as the harness does: trailing spaces of the
context move to the front of the choice (a BPE merges a space with the following word), the
whole string `ctx + choice` is encoded, and the choice is the tokens after the first
`len(encode(ctx))`.

**Exact-match generation.** For open answers the model continues the prompt greedily until a
stop string (a blank line) or a token budget, and the stripped output must equal the answer.

The public API (used by Module 12's safety benchmarks) takes any causal model (`LanguageModel`,
or a Hugging Face model, whose output has `.logits`) and any tokenizer with `encode(str) ->
list[int]` (adding no special tokens) and `decode(list[int]) -> str`:

- `fewshot_prompt(shots, query, ...)`: the prompt string;
- `loglikelihood(model, tokenizer, context, continuation)`: $(\ell, \text{is\_greedy})$;
- `multiple_choice_eval(model, tokenizer, docs, ...)`: `{"acc", "acc_norm", "n", "predictions"}`;
- `generate_greedy(model, tokenizer, prompt, ...)` and
  `exact_match_eval(model, tokenizer, docs, ...)`: `{"exact_match", "n", "outputs"}`.

Left out: batching and length-sorted scheduling (the harness's speed-ups; the results are the
same), calibration of choices (mutual-information scoring), chat-formatted few-shot, and
chain-of-thought prompting.

## Exercises

1. Write `pick_with_norm(lls, choices)` returning the acc_norm prediction (an index) from a list
   of log-likelihoods and the list of choice strings. Check it:
   `uv run pytest --exercise training.few_shot`
2. Write `split_pair(encode, context, continuation)` returning `(context_ids, continuation_ids)`
   with the harness's rule (trailing spaces move to the continuation; the whole is encoded and
   split). Check it: `uv run pytest --exercise training.few_shot`
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor

__all__ = [
    "Tokenizer",
    "encode_pair",
    "exact_match_eval",
    "fewshot_prompt",
    "generate_greedy",
    "loglikelihood",
    "multiple_choice_eval",
    "select_shots",
]


# Any tokenizer with these two methods will do, the course's BPE among them.
class Tokenizer(Protocol):
    """What the evaluation needs of a tokenizer: `encode` adds no special tokens."""

    def encode(self, text: str) -> list[int]:
        """The token ids of `text`, with no special tokens added."""
        ...

    def decode(self, ids: list[int]) -> str:
        """The text of the token ids `ids`."""
        ...


# The default document format, `Question: ...\nAnswer:`, with the target either the answer itself
# or, for multiple choice, the text of the right choice.
def _default_text(doc: dict[str, Any]) -> str:
    return f"Question: {doc['question']}\nAnswer:"


def _default_target(doc: dict[str, Any]) -> str:
    answer = doc["answer"]
    return doc["choices"][answer] if isinstance(answer, int) and "choices" in doc else str(answer)


# ## Building the prompt
#
# Shots are drawn from a pool *other* than the evaluated documents (a train split), either the
# first $k$ (deterministic, the harness's `first_n` sampler) or $k$ drawn with a seeded RNG.


def select_shots(
    pool: Sequence[dict[str, Any]], k: int, *, seed: int | None = None
) -> list[dict[str, Any]]:
    """`k` examples of `pool`: its first `k` when `seed` is None, else a seeded sample."""
    if not 0 <= k <= len(pool):
        raise ValueError(f"k must be in 0..{len(pool)} (the pool's size), got {k}")
    if seed is None:
        return list(pool[:k])
    return random.Random(seed).sample(list(pool), k)


# The prompt is plain concatenation; the knobs carry lm-evaluation-harness's names and defaults.
def fewshot_prompt(
    shots: Sequence[dict[str, Any]],
    query: dict[str, Any],
    *,
    doc_to_text: Callable[[dict[str, Any]], str] = _default_text,
    doc_to_target: Callable[[dict[str, Any]], str] = _default_target,
    target_delimiter: str = " ",
    fewshot_delimiter: str = "\n\n",
    description: str = "",
) -> str:
    r"""The $k$-shot prompt: `description`, each shot as text + delimiter + target, then the query.

    >>> shots = [{"question": "1+1", "answer": "2"}]
    >>> fewshot_prompt(shots, {"question": "2+2", "answer": "4"})
    'Question: 1+1\nAnswer: 2\n\nQuestion: 2+2\nAnswer:'
    """
    parts = [doc_to_text(s) + target_delimiter + doc_to_target(s) for s in shots]
    return description + "".join(p + fewshot_delimiter for p in parts) + doc_to_text(query)


# ## Scoring a continuation
#
# The split of `ctx + continuation` into tokens follows the harness (see the introduction). One
# forward pass over the whole sequence gives, at each position $t-1$, the distribution of token
# $t$; the continuation's log-likelihood is the sum over its positions, and it is *greedy* when
# every one of its tokens is the argmax there.


def encode_pair(
    tokenizer: Tokenizer, context: str, continuation: str
) -> tuple[list[int], list[int]]:
    """Token ids of `context` and of `continuation` as the harness splits them."""
    if not context:
        raise ValueError("context must be non-empty; put at least the question in it")
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    whole = list(tokenizer.encode(context + continuation))
    n_ctx = len(tokenizer.encode(context))
    return whole[:n_ctx], whole[n_ctx:]


# Models return logits directly or inside an output object (Hugging Face); both are accepted.
def _logits(model: torch.nn.Module, ids: Tensor) -> Tensor:
    out = model(ids)
    return out.logits if hasattr(out, "logits") else out  # (B, T, V)


@torch.no_grad()
def loglikelihood(
    model: torch.nn.Module, tokenizer: Tokenizer, context: str, continuation: str
) -> tuple[float, bool]:
    r"""$\log p(\text{continuation} \mid \text{context})$ and whether it is the greedy continuation."""
    # One forward pass over context + continuation: the logits at position t predict token t + 1, so
    # the continuation's tokens are scored by the rows from `len(ctx) - 1` to the second to last.
    ctx, cont = encode_pair(tokenizer, context, continuation)
    if not cont:
        raise ValueError(f"continuation {continuation!r} encodes to no tokens; it must add text")
    model.eval()
    device = next(model.parameters()).device
    ids = torch.tensor([ctx + cont], device=device)  # (1, T)
    logp = _logits(model, ids)[0, len(ctx) - 1 : -1].float().log_softmax(-1)  # (n_cont, V)
    target = ids[0, len(ctx) :]  # (n_cont,)
    ll = logp.gather(-1, target[:, None]).sum().item()
    return ll, bool((logp.argmax(-1) == target).all())


# ## Multiple choice: acc and acc_norm
#
# Each document needs its `choices` (strings) and the index of the right one (`answer`); the
# context is the few-shot prompt and each choice is scored with the target delimiter in front.


def multiple_choice_eval(
    model: torch.nn.Module,
    tokenizer: Tokenizer,
    docs: Sequence[dict[str, Any]],
    *,
    shots: Sequence[dict[str, Any]] = (),
    doc_to_text: Callable[[dict[str, Any]], str] = _default_text,
    target_delimiter: str = " ",
    fewshot_delimiter: str = "\n\n",
    description: str = "",
) -> dict[str, Any]:
    """Log-likelihood multiple choice over `docs` (dicts with `choices: list[str]`, `answer: int`).

    Returns `acc`, `acc_norm` (per-character normalised), `n`, and per document the
    `predictions` `(pred, pred_norm)` and `loglikelihoods`.
    """
    if not docs:
        raise ValueError("docs is empty; give at least one document to evaluate")
    # Each choice is scored by the log-likelihood of `delimiter + choice` after the same prompt. The
    # raw score favours short choices; `acc_norm` divides by the choice's length in characters.
    right = right_norm = 0
    predictions, all_lls = [], []
    for i, doc in enumerate(docs):
        choices, gold = doc.get("choices"), doc.get("answer")
        if not isinstance(choices, list) or not isinstance(gold, int):
            raise ValueError(
                f"docs[{i}] needs 'choices' (a list of strings) and 'answer' (an int index), "
                f"got keys {sorted(doc)}"
            )
        # The same prompt serves every choice; only the continuation differs.
        context = fewshot_prompt(
            shots,
            doc,
            doc_to_text=doc_to_text,
            target_delimiter=target_delimiter,
            fewshot_delimiter=fewshot_delimiter,
            description=description,
        )
        lls = [loglikelihood(model, tokenizer, context, target_delimiter + c)[0] for c in choices]
        pred = max(range(len(choices)), key=lambda j: lls[j])
        pred_norm = max(range(len(choices)), key=lambda j: lls[j] / len(choices[j]))
        right += pred == gold
        right_norm += pred_norm == gold
        predictions.append((pred, pred_norm))
        all_lls.append(lls)
    # Accuracies, with the per-document predictions and scores kept for inspection.
    n = len(docs)
    return {
        "acc": right / n,
        "acc_norm": right_norm / n,
        "n": n,
        "predictions": predictions,
        "loglikelihoods": all_lls,
    }


# ## Greedy generation and exact match
#
# The loop re-runs the whole sequence each step (no KV cache), which keeps it valid for any
# model; the outputs are short. Generation stops at the first stop string, which is cut off.


@torch.no_grad()
def generate_greedy(
    model: torch.nn.Module,
    tokenizer: Tokenizer,
    prompt: str,
    *,
    max_new_tokens: int = 16,
    stop: Sequence[str] = ("\n\n",),
) -> str:
    """The greedy continuation of `prompt`, cut at the first of `stop`."""
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    # Greedy decoding, one full forward pass per new token (no cache). The text is decoded anew
    # each step, since a stop string may span token boundaries.
    model.eval()
    device = next(model.parameters()).device
    prompt_ids = list(tokenizer.encode(prompt))
    ids = torch.tensor([prompt_ids], device=device)  # (1, T)
    text = ""
    for _ in range(max_new_tokens):
        nxt = _logits(model, ids)[0, -1].argmax()  # ()
        ids = torch.cat([ids, nxt.view(1, 1)], dim=1)  # (1, T + 1)
        text = tokenizer.decode(ids[0, len(prompt_ids) :].tolist())
        if any(s in text for s in stop):
            break
    # Cut at the earliest stop string that occurred.
    cut = min((text.index(s) for s in stop if s in text), default=len(text))
    return text[:cut]


def exact_match_eval(
    model: torch.nn.Module,
    tokenizer: Tokenizer,
    docs: Sequence[dict[str, Any]],
    *,
    shots: Sequence[dict[str, Any]] = (),
    doc_to_text: Callable[[dict[str, Any]], str] = _default_text,
    max_new_tokens: int = 16,
    stop: Sequence[str] = ("\n\n",),
) -> dict[str, Any]:
    """Fraction of `docs` whose stripped greedy answer equals `str(doc["answer"]).strip()`."""
    if not docs:
        raise ValueError("docs is empty; give at least one document to evaluate")
    # Exact match compares stripped strings: no normalisation beyond whitespace.
    outputs, right = [], 0
    for doc in docs:
        prompt = fewshot_prompt(shots, doc, doc_to_text=doc_to_text)
        out = generate_greedy(model, tokenizer, prompt, max_new_tokens=max_new_tokens, stop=stop)
        outputs.append(out)
        right += out.strip() == str(doc["answer"]).strip()
    return {"exact_match": right / len(docs), "n": len(docs), "outputs": outputs}
