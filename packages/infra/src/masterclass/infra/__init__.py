"""# masterclass.infra

Module 9: data and infrastructure: data pipelines, parallelism, sharding, checkpointing.

- `shards`: tokens written once to memory-mapped shards, streamed as deterministic,
  resumable batches (`write_token_shards`, `TokenShards`, `ShardBatcher`).
- `data_parallel`: joining a torchrun process group (gloo/NCCL), averaging gradients by
  all-reduce (`init_distributed`, `all_reduce_gradients`, `broadcast_parameters`).
- `crawler`, `robots`, `text_extraction`: a polite crawler writing WARC files, robots.txt
  decisions, HTML to main text.
- `quality`: perplexity under reference models, a fastText-style classifier, readability.
- `filtering`, `dedup`, `suffix_array`: cleaning a corpus (Gopher/C4 rules, language id, PII
  masking; exact, MinHash-LSH and repeated-substring dedup), each with a command line.
- `sharding`: ZeRO-1/2 (`ZeroOptimizer`) and ZeRO-3/FSDP (`FullyShardedModule`).
- `tensor_parallel`, `pipeline`: Megatron-style layers; GPipe and 1F1B schedules.
- `checkpoint`: atomic checkpoints of weights, optimizer, RNG and data position
  (`save_checkpoint`, `load_checkpoint`, `latest_checkpoint`).
"""

from masterclass.infra.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from masterclass.infra.data_parallel import (
    DistributedContext,
    all_reduce_gradients,
    broadcast_parameters,
    init_distributed,
)
from masterclass.infra.sharding import FullyShardedModule, ZeroOptimizer
from masterclass.infra.shards import ShardBatcher, TokenShards, write_token_shards

__all__ = [
    "DistributedContext",
    "FullyShardedModule",
    "ShardBatcher",
    "TokenShards",
    "ZeroOptimizer",
    "all_reduce_gradients",
    "broadcast_parameters",
    "init_distributed",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "write_token_shards",
]
