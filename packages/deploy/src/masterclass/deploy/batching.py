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
are computed per row from those positions; row $b$'s cached keys are gathered from the
`BlockManager`'s pool through its block table, and query $i$ of row $b$ may see the key at
position $j$ iff

$$ j \le n_b + i \quad\text{and}\quad j < n_b + T_b . $$

(In memory the keys are laid out as $P = \max_b n_b$ gathered past positions followed by the $T$
new ones, so the same rule reads: past key $j$ iff $j < n_b$, new key $i'$ iff $i' \le i$ and
$i' < T_b$.) Afterwards each new key and value is written to `block_table[b][p // S]` at offset
`p % S`. For a real query this is exactly the causal mask of the sequence alone, and the keys
at $j < n_b$ are exactly the ones the sequence wrote earlier, so every row computes what a lone,
sequential pass computes: **greedy continuous batching is token-identical to greedy decoding
one request at a time** (the test runs `llm.generate` on each prompt). Padded queries see real
keys only (so they never produce NaN) and their outputs are discarded.

**Two backends.** The middle of the step, `ragged_step`, is a pure function of tensors (the
pool is read before it and written after it), so it exports to ONNX: the engine runs either
PyTorch (`ragged_forward`, the default) or onnxruntime (`llm_export.OnnxRaggedForward`) over
the same pool, scheduler and sampler, and greedy outputs are token-identical.

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

import functools
import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

# The paged pool is the previous chapter's; sampling and rotary tables are `llm`'s.
from masterclass.deploy.kv_memory import BlockManager, OutOfBlocks
from masterclass.llm.generate import sample_next
from masterclass.llm.rope import rope_cos_sin

__all__ = [
    "Engine",
    "RaggedBatch",
    "RaggedForward",
    "Request",
    "gather_ragged",
    "ragged_forward",
    "ragged_step",
    "scatter_ragged",
]

# A backend of the engine: `forward(blocks, tokens, cached, tables) -> logits (B, V)`, which
# also writes the new keys and values into `blocks`' pool.
RaggedForward = Callable[
    [BlockManager, Sequence[Sequence[int]], Sequence[int], Sequence[Sequence[int]]], Tensor
]


# ## The ragged forward pass
#
# The step is split in three, so that its middle is a pure function of tensors that an ONNX
# runtime can run as well as PyTorch (`llm_export.export_ragged_onnx`):
#
# 1. `gather_ragged` (host side) pads the new tokens to $T = \max_b T_b$ and reads each row's
#    cached keys and values out of the pool through its block table into a padded
#    `(L, B, H_kv, P, D)` view, $P = \max_b n_b$;
# 2. `ragged_step` (pure) runs the model's own blocks on the new tokens, attending to
#    `[past; new]` under the ragged mask, and returns the logits at each row's last real token
#    with the new keys and values;
# 3. `scatter_ragged` (host side) writes the new keys and values of the real tokens to
#    `block_table[b][p // S]` at offset `p % S`.
#
# Only the block's attention input changes from `LanguageModel.decode`: per-row positions, and
# a mask built from two integers per row.
def _check_supported(model: torch.nn.Module) -> None:
    c = model.config
    if c.pos not in ("rope", "learned", "none") or c.norm_position != "pre":
        raise ValueError(
            f"the batching engine supports pre-norm models with rope/learned/no positions, got "
            f"pos={c.pos!r}, norm_position={c.norm_position!r}"
        )
    if any(w is not None for w in model.layer_windows()):
        raise ValueError("the batching engine does not support sliding-window attention layers")


@dataclass
class RaggedBatch:
    """The padded tensors of one ragged step, and where its new keys go in the pool."""

    # (B, T) new tokens, padded with token 0
    input_ids: Tensor
    # (B,) n_b, positions already cached per row
    past_lengths: Tensor
    # (B,) T_b, real new tokens per row
    new_lengths: Tensor
    # (L, B, H_kv, P, D) cached keys gathered from the pool, padded to P = max n_b
    past_keys: Tensor
    # (L, B, H_kv, P, D) cached values, likewise
    past_values: Tensor
    # (n,) batch row and (n,) column of each real new token
    rows: Tensor
    cols: Tensor
    # (n,) physical block and (n,) offset where each real new token's key and value go
    write_block: Tensor
    write_offset: Tensor


def gather_ragged(
    blocks: BlockManager,
    tokens: Sequence[Sequence[int]],
    cached: Sequence[int],
    tables: Sequence[Sequence[int]],
) -> RaggedBatch:
    """Pad a ragged batch and read its cached keys/values out of the pool (see `ragged_forward`)."""
    # Pad the new tokens to T = max T_b (token 0 in the padding, masked in the step); P, the
    # padded past, is the longest cached length.
    k_pool, v_pool = blocks.k_pool, blocks.v_pool  # (L, N, H_kv, S, D)
    device = k_pool.device
    B, S = len(tokens), blocks.block_size
    lens = torch.tensor([len(t) for t in tokens], device=device)  # (B,) T_b
    start = torch.tensor(list(cached), device=device)  # (B,) n_b
    T, P = int(lens.max()), int(start.max())
    idx = torch.zeros(B, T, dtype=torch.long, device=device)  # (B, T) padded with token 0
    for b, t in enumerate(tokens):
        idx[b, : len(t)] = torch.tensor(list(t), device=device)
    total = start + lens  # (B,) sequence lengths after the step
    n_blk = -(-int(total.max()) // S)
    # Block tables padded to the longest row with block 0 (masked in the step, never written).
    table = torch.zeros(B, n_blk, dtype=torch.long, device=device)  # (B, n_blk)
    for b, t in enumerate(tables):
        need = -(-int(total[b]) // S)
        table[b, :need] = torch.tensor(list(t[:need]), device=device)
    # The past: the first ceil(P / S) blocks of every row, laid end to end, cut to P positions.
    p_blk = -(-P // S)
    L, _, H_kv, _, D = k_pool.shape

    def read(pool: Tensor) -> Tensor:
        out = pool[:, table[:, :p_blk]]  # (L, B, p_blk, H_kv, S, D)
        return out.permute(0, 1, 3, 2, 4, 5).reshape(L, B, H_kv, p_blk * S, D)[:, :, :, :P]

    # Where each real new token goes: physical block and offset.
    valid = torch.arange(T, device=device)[None, :] < lens[:, None]  # (B, T) real tokens
    rows, cols = valid.nonzero(as_tuple=True)  # (n,), (n,)
    p = start[rows] + cols  # (n,) absolute positions
    return RaggedBatch(
        idx, start, lens, read(k_pool), read(v_pool), rows, cols, table[rows, p // S], p % S
    )


def scatter_ragged(
    blocks: BlockManager, batch: RaggedBatch, new_keys: Tensor, new_values: Tensor
) -> None:
    """Write the new keys/values `(L, B, H_kv, T, D)` of the real tokens into the pool."""
    r, c, blk, off = batch.rows, batch.cols, batch.write_block, batch.write_offset
    for layer in range(blocks.k_pool.shape[0]):
        k_pool, v_pool = blocks.k_pool[layer], blocks.v_pool[layer]  # (N, H_kv, S, D)
        k_pool[blk, :, off] = new_keys[layer].transpose(1, 2)[r, c].to(k_pool.dtype)  # (n, H_kv, D)
        v_pool[blk, :, off] = new_values[layer].transpose(1, 2)[r, c].to(v_pool.dtype)


# ## The pure step
#
# Row $b$'s queries sit at positions $n_b .. n_b + T - 1$ (rotary angles per row); its keys are
# the $P$ gathered past positions followed by the $T$ new ones. Query $i$ may see past key $j$
# iff $j < n_b$ and new key $i'$ iff $i' \le i$ and $i' < T_b$. Everything is built from
# `arange`s of the input shapes and the two length vectors, never from a Python branch on a
# length, so the exported graph is valid for every $B$, $T$ and $P$ (including $P = 0$).
def ragged_step(
    model: torch.nn.Module,
    input_ids: Tensor,
    past_lengths: Tensor,
    new_lengths: Tensor,
    past_keys: Tensor,
    past_values: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """Logits `(B, V)` at each row's last real token, and the new keys/values `(L, B, H_kv, T, D)`.

    `input_ids` (B, T), `past_lengths` and `new_lengths` (B,) int64, `past_keys`/`past_values`
    (L, B, H_kv, P, D) with row b's first `past_lengths[b]` positions real.
    """
    # The attention mask, (B, 1, T, P + T): past key j is visible iff it is real (j < n_b); new
    # key i' iff it is causal (i' <= i) and real (i' < T_b). Padded queries' outputs go unread.
    B, T = input_ids.shape
    P = past_keys.shape[3]
    c = model.config
    device = input_ids.device
    i = torch.arange(T, device=device)  # (T,)
    pos = past_lengths[:, None] + i  # (B, T) absolute positions
    past_ok = torch.arange(P, device=device)[None, None, :] < past_lengths[:, None, None]
    new_ok = (i[None, None, :] <= i[None, :, None]) & (
        i[None, None, :] < new_lengths[:, None, None]
    )
    mask = torch.cat((past_ok.expand(B, T, P), new_ok), dim=2)[:, None]  # (B, 1, T, P + T)
    # Positions differ per row, so learned positions are looked up per row (clamped: padding may
    # run past the context) and rotary tables carry a batch axis.
    x = model.tok_emb(input_ids)  # (B, T, d_model)
    if model.pos_emb is not None:
        x = x + model.pos_emb(pos.clamp(max=c.max_seq_len - 1))
    rope = None
    if c.pos == "rope":
        cos, sin = rope_cos_sin(
            pos, model.inv_freq, interleaved=c.rope_interleaved, scale=model.rope_scale
        )  # (B, T, D) each
        rope = (cos[:, None], sin[:, None])  # (B, 1, T, D): per-row positions
    # Each block calls `attend_past` with its new keys and values: they are kept for the cache,
    # and the gathered past is put in front of them for attention.
    new_keys: list[Tensor] = []
    new_values: list[Tensor] = []

    def attend_past(layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        new_keys.append(k)  # (B, H_kv, T, D)
        new_values.append(v)
        k_all = torch.cat((past_keys[layer].to(k.dtype), k), dim=2)  # (B, H_kv, P + T, D)
        v_all = torch.cat((past_values[layer].to(v.dtype), v), dim=2)
        return k_all, v_all

    for layer, block in enumerate(model.blocks):
        x = block(x, rope, mask, attend_past, layer)  # (B, T, d_model)
    # Only the last real token of each row needs logits: gather it before the vocabulary matmul.
    last = (new_lengths - 1)[:, None, None].expand(B, 1, x.shape[-1])  # (B, 1, d_model)
    h = x.gather(1, last)[:, 0]  # (B, d_model)
    return model.lm_head(model.norm(h)), torch.stack(new_keys), torch.stack(new_values)


# The impure wrapper: gather the rows' past from the paged pool into padded tensors, run the
# pure step, scatter the new keys and values back into the rows' blocks.
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
    the blocks `tables[b]`, which must hold `cached[b] + T_b` positions. This is the PyTorch
    backend of `Engine`; `llm_export.OnnxRaggedForward` is the onnxruntime one.
    """
    # Gather, step, scatter: only the middle part is arithmetic, and it is the part exported.
    batch = gather_ragged(blocks, tokens, cached, tables)
    logits, new_k, new_v = ragged_step(
        model,
        batch.input_ids,
        batch.past_lengths,
        batch.new_lengths,
        batch.past_keys,
        batch.past_values,
    )
    scatter_ragged(blocks, batch, new_k, new_v)
    return logits


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

    # Filled by the engine: the id, the output so far, the block table and how much of the
    # sequence is cached, the prefix-cache hit, and the request's own random generator.
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


# The engine owns the pool and two queues: `waiting` (not yet admitted, or preempted) and
# `running` (holding blocks, stepped together). One thread steps it; `submit` and `abort` may be
# called from any thread and touch only what the lock guards.
class Engine:
    """Continuous-batching generation engine over a paged KV cache with prefix caching.

    `forward` is the backend of each step: PyTorch's `ragged_forward` on `model` by default, or
    any function of the same signature over the engine's pool, such as
    `llm_export.OnnxRaggedForward` (onnxruntime). `model` also gives the pool's shapes.

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

    # `num_blocks * block_size` is the pool's capacity in positions, shared by all requests;
    # `max_batch` caps the rows of one step.
    def __init__(
        self,
        model: torch.nn.Module,
        *,
        num_blocks: int = 256,
        block_size: int = 16,
        max_batch: int = 32,
        prefix_caching: bool = True,
        forward: RaggedForward | None = None,
    ) -> None:
        _check_supported(model)
        if max_batch <= 0:
            raise ValueError(f"max_batch must be positive, got {max_batch}")
        self.model = model.eval()
        # The backend: PyTorch's `ragged_forward` on the model, or any function with its
        # signature over the same pool (onnxruntime: `llm_export.OnnxRaggedForward`).
        self.forward: RaggedForward = forward or functools.partial(ragged_forward, self.model)
        self.blocks = BlockManager(model, num_blocks=num_blocks, block_size=block_size)
        self.max_batch = max_batch
        self.prefix_caching = prefix_caching
        self.max_len = model.config.max_seq_len if model.config.pos == "learned" else None
        # The queues, and the lock and condition that hand requests to the engine's thread.
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

    # Every check happens in the caller's thread, before queueing, so a bad request fails its
    # own HTTP call and never reaches the engine; a seeded request gets its own generator.
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

    # An abort only marks the id; the engine's thread removes the request at its next step, so
    # only that thread ever takes requests out of the queues.
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

    # Every way out of the engine frees the request's blocks; only an abort sends the final
    # `None` (a normal finish already reported its reason with the last token).
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

    # Preemption by recomputation: the newest running request gives its blocks back and returns
    # to the front of the queue with nothing cached; its tokens are kept, so it resumes later by
    # prefilling them again. A request may have to preempt itself.
    def _reserve_decode_blocks(self) -> None:
        for r in list(self.running):
            if r not in self.running:
                continue  # preempted earlier in this loop
            # Each running request needs room for every position it will hold after this step.
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
        # Steps 1 to 3: take the aborted ids under the lock, drop those requests, admit, reserve.
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
        # Step 4: each row feeds what is not cached yet: a new request its prompt past any cached
        # prefix (a prefill), a decoding one its last token, all in the same ragged forward.
        batch = list(self.running)
        feeds = [r.tokens[r.n_cached :] for r in batch]
        logits = self.forward(
            self.blocks, feeds, [r.n_cached for r in batch], [r.table for r in batch]
        )  # (B, V)
        self.steps += 1
        self.prefill_tokens += sum(len(f) for f in feeds if len(f) > 1)
        # Per row: its keys are now cached (full blocks become shareable prefixes), then one
        # token is sampled with the row's own settings and generator.
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
            # A stop token ends the request (and is emitted); so does reaching `max_tokens`.
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

    # Stopping wakes the thread so it sees the flag, then fails whatever is left, so no client
    # waits forever on a request that will never be stepped.
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

    # The wait has a timeout so a missed notification costs half a second, not a hang.
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
