r"""# Continuous batching over a paged KV cache, with prefix caching

Decoding one token for one sequence reads every weight once to do a few FLOPs per weight: the
matrix products are matrix-*vector* products and the machine waits on memory. Decoding $B$
sequences together reads the weights once for $B$ tokens, so throughput grows almost linearly in
$B$ until the products become compute-bound. The difficulty is that requests arrive at different
times and stop at different lengths.

**Static batching** waits for $B$ requests, pads them to one length and runs them to the end of
the longest: a finished sequence keeps its slot idle, and a new request waits for the whole
batch. **Continuous (iteration-level) batching** (Yu et al., 2022, *Orca*) schedules *every
step*: a finished sequence leaves at once and a waiting one joins at the next step. Each step of
`Engine.step` therefore runs one forward pass over a *ragged* batch in which a new request
contributes its (uncached) prompt, $T_b = $ prompt length, and a running one its last token,
$T_b = 1$ (prefill and decode mixed in one pass, as in Sarathi-Serve).

**The ragged step.** Sequence $b$ has $n_b$ tokens already in the cache and feeds $T_b$ new ones
at positions $n_b .. n_b + T_b - 1$. The inputs are padded to $T = \max_b T_b$; rotary angles
are computed per row from those positions; each new key and value is written to
`block_table[b][p // S]` at offset `p % S` of the `BlockManager`'s pool; then row $b$'s keys are
gathered into a padded `(B, H_kv, K, D)` view and query $i$ of row $b$ may see key $j$ iff

$$ j \le n_b + i \quad\text{and}\quad j < n_b + T_b . $$

For a real query this is exactly the causal mask of the sequence alone, and the keys at $j < n_b$
are exactly the ones the sequence wrote earlier, so every row computes what a lone, sequential
pass computes: **greedy continuous batching is token-identical to greedy decoding one request at
a time** (the test runs `llm.generate` on each prompt). Padded queries see real keys only (so
they never produce NaN) and their outputs are discarded.

**Prefix caching.** A new request first asks the `BlockManager` for blocks already holding a
prefix of its prompt (`kv_memory.py`): a shared system prompt is computed once, and the request
feeds only the rest. Outputs are unchanged, because the reused keys are the ones it would have
computed; the test checks both the tokens and that the prefill is shorter.

**Preemption.** If a step needs a block and the pool has none, the most recently admitted
sequence is preempted: its blocks are released and it goes back to the front of the queue with
its tokens so far, to be recomputed (its generated tokens become part of its "prompt"). The
oldest requests always make progress, so the engine never deadlocks while one sequence fits.

`bench/inference.py` measures it: tokens per second of the engine against `llm.generate` run
request by request, on the same requests in the same run.

References: Yu et al., 2022, *Orca: A Distributed Serving System for Transformer-Based
Generative Models* (OSDI); Kwon et al., 2023, *PagedAttention*
([arXiv:2309.06180](https://arxiv.org/abs/2309.06180)); Agrawal et al., 2024, *Sarathi-Serve*
([arXiv:2403.02310](https://arxiv.org/abs/2403.02310)).

Left out: chunked prefill with a token budget per step, a paged-attention kernel that reads the
blocks in place (we gather), CUDA graphs, and sliding-window or ALiBi models (refused).

## Exercises

1. Write `ragged_mask(cached, new)`: for lists `cached[b]` ($n_b$) and `new[b]` ($T_b$), the bool
   mask `(B, T, K)` of the ragged step ($T = \max T_b$, $K = \max(n_b + T_b)$). Check it:
   `uv run pytest --exercise deploy.batching`
2. Write `static_batch_steps(lengths, batch)`: the number of decode steps static batching needs
   for requests generating `lengths[i]` tokens, taken in order in batches of `batch` (each batch
   runs as long as its longest); continuous batching needs about `sum(lengths) / batch`. Check it: `uv run pytest --exercise deploy.batching`
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from masterclass.deploy.kv_memory import BlockManager, OutOfBlocks
from masterclass.llm.generate import sample_next
from masterclass.llm.rope import apply_rope, rope_cos_sin

__all__ = ["Engine", "Request", "ragged_forward"]


# ## The ragged forward pass
#
# The block's sub-layers are the model's own modules (norms, fused `qkv`, `o_proj`, FFN); only
# the positions, the cache writes and the mask differ from `LanguageModel.decode`, which has one
# length for the whole batch.
def _check_supported(model: torch.nn.Module) -> None:
    c = model.config
    if c.pos not in ("rope", "learned", "none") or c.norm_position != "pre":
        raise ValueError(
            f"the batching engine supports pre-norm models with rope/learned/no positions, got "
            f"pos={c.pos!r}, norm_position={c.norm_position!r}"
        )
    if any(w is not None for w in model.layer_windows()):
        raise ValueError("the batching engine does not support sliding-window attention layers")


@torch.no_grad()
def ragged_forward(
    model: torch.nn.Module,
    blocks: BlockManager,
    tokens: Sequence[Sequence[int]],
    cached: Sequence[int],
    tables: Sequence[Sequence[int]],
) -> Tensor:
    r"""One step over a ragged batch; returns the logits `(B, V)` at each row's last new token.

    Row `b` feeds `tokens[b]` (length $T_b \ge 1$) after `cached[b]` positions already stored in
    the blocks `tables[b]`, which must hold `cached[b] + T_b` positions.
    """
    device = model.lm_head.weight.device
    B = len(tokens)
    lens = torch.tensor([len(t) for t in tokens], device=device)  # (B,) T_b
    start = torch.tensor(list(cached), device=device)  # (B,) n_b
    T = int(lens.max())
    idx = torch.zeros(B, T, dtype=torch.long, device=device)  # (B, T) padded with token 0
    for b, t in enumerate(tokens):
        idx[b, : len(t)] = torch.tensor(list(t), device=device)
    pos = start[:, None] + torch.arange(T, device=device)  # (B, T) absolute positions
    valid = torch.arange(T, device=device)[None, :] < lens[:, None]  # (B, T) real tokens
    total = start + lens  # (B,) sequence lengths after the step
    K = int(total.max())
    S = blocks.block_size
    n_blk = -(-K // S)
    # Block tables padded to the longest row with block 0 (masked below, never written).
    table = torch.zeros(B, n_blk, dtype=torch.long, device=device)  # (B, n_blk)
    for b, t in enumerate(tables):
        need = -(-int(total[b]) // S)
        table[b, :need] = torch.tensor(list(t[:need]), device=device)
    # Where each real new token goes: physical block and offset.
    rows, cols = valid.nonzero(as_tuple=True)  # (n,), (n,)
    p = pos[rows, cols]  # (n,)
    w_blk, w_off = table[rows, p // S], p % S  # (n,), (n,)
    k_pos = torch.arange(K, device=device)  # (K,)
    allowed = (k_pos[None, None, :] <= pos[:, :, None]) & (
        k_pos[None, None, :] < total[:, None, None]
    )  # (B, T, K)
    mask = allowed[:, None]  # (B, 1, T, K) broadcast over heads

    c = model.config
    x = model.tok_emb(idx)  # (B, T, d_model)
    if model.pos_emb is not None:
        x = x + model.pos_emb(pos.clamp(max=c.max_seq_len - 1))
    rope = None
    if c.pos == "rope":
        cos, sin = rope_cos_sin(
            pos, model.inv_freq, interleaved=c.rope_interleaved, scale=model.rope_scale
        )  # (B, T, D) each
        rope = (cos[:, None], sin[:, None])  # (B, 1, T, D): per-row positions
    H, H_kv, D = c.n_heads, c.n_kv_heads, c.head_dim
    for layer, block in enumerate(model.blocks):
        attn = block.attn
        h = block.attn_norm(x)
        qkv = attn.qkv(h).view(B, T, H + 2 * H_kv, D).transpose(1, 2)  # (B, H + 2 H_kv, T, D)
        qk, v = qkv.split([H + H_kv, H_kv], dim=1)
        if rope is not None:
            qk = apply_rope(qk, *rope, interleaved=attn.rope_interleaved)
        q, k = qk.split([H, H_kv], dim=1)  # (B, H, T, D), (B, H_kv, T, D)
        # Write the new keys/values, then read the whole sequence back through the table.
        k_pool, v_pool = blocks.k_pool[layer], blocks.v_pool[layer]  # (N, H_kv, S, D)
        k_pool[w_blk, :, w_off] = k.transpose(1, 2)[rows, cols]  # (n, H_kv, D)
        v_pool[w_blk, :, w_off] = v.transpose(1, 2)[rows, cols]
        k_all = k_pool[table].permute(0, 2, 1, 3, 4).reshape(B, H_kv, n_blk * S, D)[:, :, :K]
        v_all = v_pool[table].permute(0, 2, 1, 3, 4).reshape(B, H_kv, n_blk * S, D)[:, :, :K]
        if H_kv != H:
            k_all = k_all.repeat_interleave(H // H_kv, dim=1)  # (B, H, K, D)
            v_all = v_all.repeat_interleave(H // H_kv, dim=1)
        y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)  # (B, H, T, D)
        x = x + attn.o_proj(y.transpose(1, 2).reshape(B, T, H * D))
        x = x + block.ffn(block.ffn_norm(x))
    last = x[torch.arange(B, device=device), lens - 1]  # (B, d_model)
    return model.lm_head(model.norm(last))  # (B, V)


# ## Requests and their life cycle
#
# A request carries its sampling parameters and a callback. `tokens` is prompt plus generated;
# `n_cached` counts the positions whose keys are in the cache. `on_token(request, token, reason)`
# is called from the engine's thread for every new token (`reason` is None, "length" or
# "stop"), and once with `token=None` if the request is aborted or fails.


@dataclass(eq=False)
class Request:
    """One generation request."""

    # prompt token ids
    prompt: list[int]
    # maximum number of new tokens
    max_tokens: int
    # 0 = greedy
    temperature: float = 0.0
    # nucleus sampling threshold (None = off)
    top_p: float | None = None
    # token ids that end the request (the token is emitted)
    stop_tokens: tuple[int, ...] = ()
    # seed of this request's sampler (None = nondeterministic)
    seed: int | None = None
    # called as on_token(request, token_or_None, finish_reason_or_None)
    on_token: Callable[[Request, int | None, str | None], None] | None = None
    # filled by the engine
    id: int = -1
    generated: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    table: list[int] = field(default_factory=list)
    n_cached: int = 0
    prefix_hit_tokens: int = 0
    generator: torch.Generator | None = None

    @property
    def tokens(self) -> list[int]:
        """Prompt followed by the generated tokens."""
        return self.prompt + self.generated


class Engine:
    """Continuous-batching generation engine over a paged KV cache with prefix caching.

    >>> from masterclass.llm import LanguageModel, LMConfig
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> cfg = LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2)
    >>> engine = Engine(LanguageModel(cfg).eval(), num_blocks=16, block_size=4)
    >>> a = engine.submit(Request([1, 2, 3], max_tokens=5))
    >>> b = engine.submit(Request([4, 5], max_tokens=3))
    >>> engine.run_until_idle()
    >>> len(a.generated), len(b.generated), engine.blocks.report().used_blocks
    (5, 3, 0)
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        num_blocks: int = 256,
        block_size: int = 16,
        max_batch: int = 32,
        prefix_caching: bool = True,
    ) -> None:
        _check_supported(model)
        if max_batch <= 0:
            raise ValueError(f"max_batch must be positive, got {max_batch}")
        self.model = model.eval()
        self.blocks = BlockManager(model, num_blocks=num_blocks, block_size=block_size)
        self.max_batch = max_batch
        self.prefix_caching = prefix_caching
        self.max_len = model.config.max_seq_len if model.config.pos == "learned" else None
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.lock = threading.Lock()
        self.wakeup = threading.Condition(self.lock)
        self._ids = itertools.count()
        self._aborted: set[int] = set()
        # Counters the monitoring chapter reads.
        self.steps = 0
        self.tokens_generated = 0
        self.prefill_tokens = 0
        self.preemptions = 0
        self.aborts = 0

    # ## Admission control
    #
    # A request that cannot fit even in an empty pool is refused at once (the server turns the
    # `ValueError` into HTTP 400); one that fits waits its turn.
    def check_fits(self, prompt_len: int, max_tokens: int) -> None:
        """Raise `ValueError` if a request of this size can never fit in the KV pool."""
        need = self.blocks.blocks_needed(prompt_len + max_tokens)
        if need > self.blocks.num_blocks:
            raise ValueError(
                f"prompt ({prompt_len} tokens) + max_tokens ({max_tokens}) needs {need} KV blocks "
                f"of {self.blocks.block_size}, the pool has {self.blocks.num_blocks}; "
                f"shorten the prompt or lower max_tokens"
            )
        if self.max_len is not None and prompt_len + max_tokens > self.max_len:
            raise ValueError(
                f"prompt + max_tokens = {prompt_len + max_tokens} exceeds the model's context "
                f"{self.max_len}"
            )

    def submit(self, request: Request) -> Request:
        """Queue `request` (thread-safe); returns it with its id set."""
        if not request.prompt:
            raise ValueError("prompt must contain at least one token")
        if request.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {request.max_tokens}")
        if request.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {request.temperature}")
        self.check_fits(len(request.prompt), request.max_tokens)
        request.id = next(self._ids)
        if request.seed is not None:
            request.generator = torch.Generator(device=self.model.lm_head.weight.device)
            request.generator.manual_seed(request.seed)
        with self.wakeup:
            self.waiting.append(request)
            self.wakeup.notify()
        return request

    def abort(self, request: Request) -> None:
        """Stop `request` at the next step and free its blocks (thread-safe)."""
        with self.lock:
            self._aborted.add(request.id)

    def queue_depth(self) -> int:
        """Requests waiting for admission."""
        return len(self.waiting)

    def has_work(self) -> bool:
        """Whether a step would do anything."""
        return bool(self.waiting or self.running or self._aborted)

    def _finish(self, r: Request, reason: str | None) -> None:
        r.finish_reason = reason
        self.aborts += reason == "abort"
        self.blocks.release(r.table)
        if r.on_token is not None and reason == "abort":
            r.on_token(r, None, "abort")

    # ## Scheduling one step
    #
    # 1. Drop aborted requests. 2. Admit waiting requests, oldest first, while the batch has room
    # and their blocks can be had (prefix hits first). 3. Make sure every running sequence has a
    # block for the position it is about to write, preempting the newest ones if the pool is dry.
    # 4. One ragged forward, one token per sequence, bookkeeping.
    def _admit(self) -> None:
        while self.waiting and len(self.running) < self.max_batch:
            r = self.waiting[0]
            toks = r.tokens
            if self.prefix_caching:
                r.table, r.n_cached = self.blocks.lookup_prefix(toks)
                r.prefix_hit_tokens = r.n_cached
            try:
                self.blocks.allocate(r.table, len(toks))
            except OutOfBlocks:
                self.blocks.release(r.table)
                r.n_cached = 0
                return
            self.waiting.popleft()
            self.running.append(r)

    def _reserve_decode_blocks(self) -> None:
        for r in list(self.running):
            if r not in self.running:
                continue
            while True:
                try:
                    self.blocks.allocate(r.table, len(r.tokens))
                    break
                except OutOfBlocks:
                    victim = self.running[-1]
                    self.running.remove(victim)
                    self.blocks.release(victim.table)
                    victim.n_cached = 0
                    self.waiting.appendleft(victim)
                    self.preemptions += 1
                    if victim is r:
                        break

    def step(self) -> int:
        """Run one scheduling step; returns the number of tokens generated."""
        with self.lock:
            aborted, self._aborted = self._aborted, set()
        for r in [r for r in self.running if r.id in aborted]:
            self.running.remove(r)
            self._finish(r, "abort")
        for r in [r for r in self.waiting if r.id in aborted]:
            self.waiting.remove(r)
            self._finish(r, "abort")
        with self.lock:
            self._admit()
        self._reserve_decode_blocks()
        if not self.running:
            return 0
        batch = list(self.running)
        feeds = [r.tokens[r.n_cached :] for r in batch]
        logits = ragged_forward(
            self.model, self.blocks, feeds, [r.n_cached for r in batch], [r.table for r in batch]
        )  # (B, V)
        self.steps += 1
        self.prefill_tokens += sum(len(f) for f in feeds if len(f) > 1)
        for b, r in enumerate(batch):
            r.n_cached = len(r.tokens)
            if self.prefix_caching:
                self.blocks.register_full(r.table, r.tokens)
            nxt = int(
                sample_next(
                    logits[b : b + 1].float(),
                    temperature=r.temperature,
                    top_p=r.top_p,
                    generator=r.generator,
                )[0]
            )
            r.generated.append(nxt)
            self.tokens_generated += 1
            reason = None
            if nxt in r.stop_tokens:
                reason = "stop"
            elif len(r.generated) >= r.max_tokens:
                reason = "length"
            if r.on_token is not None:
                r.on_token(r, nxt, reason)
            if reason is not None:
                self.running.remove(r)
                self._finish(r, reason)
        return len(batch)

    def run_until_idle(self) -> None:
        """Step until nothing is waiting or running (for tests and offline batches)."""
        while self.has_work():
            self.step()

    # ## Running in a thread
    #
    # The server calls `start()`: one background thread steps while there is work and sleeps on
    # a condition variable otherwise, so an idle server uses no CPU.
    def start(self) -> None:
        """Start the engine's background thread."""
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="engine", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the background thread (running requests are aborted)."""
        self._stop.set()
        with self.wakeup:
            self.wakeup.notify()
        self.thread.join(timeout=10)
        for r in self.running + list(self.waiting):
            self._finish(r, "abort")
        self.running.clear()
        self.waiting.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self.wakeup:
                while not self.has_work() and not self._stop.is_set():
                    self.wakeup.wait(timeout=0.5)
            if self._stop.is_set():
                return
            try:
                self.step()
            except Exception as exc:  # a failing step must not kill the server: fail its requests
                for r in self.running:
                    r.finish_reason = f"error: {exc}"
                    self._finish(r, "abort")
                self.running.clear()
