"""Benchmark: byte-level BPE training and encoding against Hugging Face `tokenizers`, sentencepiece and
tiktoken, in the same run.

Corpus: the default corpus, the `.py` files of the running interpreter's standard library
(`sysconfig.get_paths()["stdlib"]`, `site-packages` excluded), in sorted order; every tenth file is
held out for encoding. Each measurement runs in a fresh subprocess so that its peak memory (the
maximum resident set size of the process and of any worker processes it starts) is its own.

    .venv/bin/python packages/nlp/bench/bench_bpe.py            # full run, vocab 8,192
    .venv/bin/python packages/nlp/bench/bench_bpe.py --quick    # a tenth of the corpus

Targets: our training time <= 5x the faster reference (aim 2x); our encoding throughput >= 0.25x
tiktoken's with our merges (aim 0.5x); training on ~130 KB to 500 tokens in under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from masterclass.nlp.pretokenize import GPT4_PATTERN
from masterclass.nlp.stdlib_corpus import stdlib_files

SPECIAL = "<|endoftext|>"


def corpus_files(quick: bool) -> tuple[list[Path], list[Path]]:
    """(training files, held-out files) of the default corpus."""
    # Module 5's reader (`masterclass.nlp.stdlib_corpus`), sorted by full path: the order the
    # committed results were measured in.
    files = sorted(stdlib_files(recursive=True))
    if quick:
        files = files[::10]
    return [f for i, f in enumerate(files) if i % 10], files[::10]


def read_all(files: list[Path]):
    """Stream the files' texts (the corpus is never held in memory by this generator)."""
    for f in files:
        yield f.read_text(encoding="utf-8", errors="replace")


def peak_mb() -> float:
    """Peak resident memory of this process and of its largest child, in MB (Linux: ru_maxrss in kB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024


def run_one(name: str, quick: bool, vocab_size: int, workdir: str) -> dict:
    """One measurement, in this (fresh) process."""
    train_files, held_files = corpus_files(quick)
    train_mb = sum(f.stat().st_size for f in train_files) / 1e6
    held_text = "".join(read_all(held_files))
    held_mb = len(held_text.encode("utf-8")) / 1e6
    tok_path = Path(workdir) / "ours.json"
    if name == "train_ours":
        from masterclass.nlp import BPETokenizer

        t = time.perf_counter()
        tok = BPETokenizer.train(read_all(train_files), vocab_size, special_tokens=[SPECIAL])
        dt = time.perf_counter() - t
        tok.save(tok_path)
        return {"seconds": dt, "mb": train_mb, "peak_mb": peak_mb(), "vocab": tok.vocab_size}
    if name == "train_hf":
        from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

        hf = Tokenizer(models.BPE())
        pattern = GPT4_PATTERN.replace("{1,3}+", "{1,3}")  # Oniguruma dialect, see bpe.to_hf_json
        hf.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(pattern), "isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[SPECIAL],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        t = time.perf_counter()
        hf.train_from_iterator(read_all(train_files), trainer)
        dt = time.perf_counter() - t
        return {"seconds": dt, "mb": train_mb, "peak_mb": peak_mb(), "vocab": hf.get_vocab_size()}
    if name == "train_spm":
        import sentencepiece as spm

        def lines():
            for text in read_all(train_files):
                yield from text.splitlines()

        t = time.perf_counter()
        spm.SentencePieceTrainer.train(
            sentence_iterator=lines(),
            model_prefix=str(Path(workdir) / "spm"),
            model_type="bpe",
            vocab_size=vocab_size,
            character_coverage=1.0,
            byte_fallback=True,
            max_sentence_length=1 << 14,
            num_threads=os.cpu_count() or 1,
            user_defined_symbols=[SPECIAL],
            minloglevel=2,
        )
        dt = time.perf_counter() - t
        return {"seconds": dt, "mb": train_mb, "peak_mb": peak_mb(), "vocab": vocab_size}
    if name in ("encode_ours", "encode_tiktoken", "encode_hf"):
        from masterclass.nlp import BPETokenizer

        tok = BPETokenizer.load(tok_path)
        if name == "encode_ours":
            t = time.perf_counter()
            ids = tok.encode(held_text, allowed_special="all")
        elif name == "encode_tiktoken":
            enc = tok.to_tiktoken()
            t = time.perf_counter()
            ids = enc.encode(held_text, allowed_special="all")
        else:
            import tokenizers

            hf = tokenizers.Tokenizer.from_str(tok.to_hf_json())
            t = time.perf_counter()
            ids = hf.encode(held_text).ids
        dt = time.perf_counter() - t
        same = ids == tok.encode(held_text, allowed_special="all")
        return {
            "seconds": dt,
            "mb": held_mb,
            "peak_mb": peak_mb(),
            "tokens": len(ids),
            "same_ids": same,
        }
    if name == "small":
        from masterclass.nlp import BPETokenizer

        texts, size = [], 0
        for text in read_all(train_files):
            texts.append(text)
            size += len(text.encode("utf-8"))
            if size >= 130_000:
                break
        t = time.perf_counter()
        BPETokenizer.train(texts, 500)
        dt = time.perf_counter() - t
        return {"seconds": dt, "mb": size / 1e6, "peak_mb": peak_mb()}
    raise ValueError(f"unknown measurement {name!r}")


def main() -> None:
    """Run every measurement in a subprocess and print the table and the ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="use a tenth of the corpus")
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--skip-spm", action="store_true", help="leave out sentencepiece (slow)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.quick, args.vocab_size, args.workdir)))
        return
    names = [
        "small",
        "train_ours",
        "train_hf",
        "train_spm",
        "encode_ours",
        "encode_tiktoken",
        "encode_hf",
    ]
    if args.skip_spm:
        names.remove("train_spm")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                name,
                "--workdir",
                workdir,
                "--vocab-size",
                str(args.vocab_size),
            ]
            if args.quick:
                cmd.append("--quick")
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[name] = json.loads(out.strip().splitlines()[-1])
            r = results[name]
            print(
                f"{name:16s} {r['seconds']:8.2f} s  {r['mb'] / r['seconds']:8.2f} MB/s  "
                f"peak {r['peak_mb']:7.0f} MB  {r.get('vocab', r.get('tokens', ''))}"
                + ("" if "same_ids" not in r else f"  same ids as ours: {r['same_ids']}"),
                flush=True,
            )
    print(
        f"\ncorpus: {results['train_ours']['mb']:.1f} MB training, {results['encode_ours']['mb']:.1f} MB held out"
    )
    refs = [n for n in ("train_hf", "train_spm") if n in results]
    fastest = min(refs, key=lambda n: results[n]["seconds"])
    ratio = results["train_ours"]["seconds"] / results[fastest]["seconds"]
    print(f"training time, ours / {fastest}: {ratio:.2f}x   (must be <= 5x, aim 2x)")
    for n in refs:
        print(f"  ours / {n}: {results['train_ours']['seconds'] / results[n]['seconds']:.2f}x")
    enc = results["encode_tiktoken"]["seconds"] / results["encode_ours"]["seconds"]
    print(f"encoding throughput, ours / tiktoken: {enc:.2f}x   (must be >= 0.25x, aim 0.5x)")
    print(
        f"small corpus (130 KB -> 500 tokens): {results['small']['seconds']:.2f} s   (must be < 1 s)"
    )
    print(f"load: {os.getloadavg()[0]:.2f} (1-minute load average) on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
