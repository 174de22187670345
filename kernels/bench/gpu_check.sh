#!/usr/bin/env bash
# The whole GPU check of the repo in one command: what a CUDA machine can show that a CPU cannot.
#
#     OUT=/tmp/gpu-check bash kernels/bench/gpu_check.sh          # in the repo's root
#
# 1. The kernel ladder's tests, compiled for the GPU instead of run in Triton's interpreter
#    (`kernels/tests/conftest.py` sets `TRITON_INTERPRET=1` only when no CUDA device is present).
# 2. Every `gpu`-marked test of the other packages and of the capstone.
# 3. One benchmark per rung (`kernels/bench/*.py`), each checking its kernel against torch before
#    it times it with CUDA events.
#
# It runs with any Python that has torch with CUDA, Triton and pytest (set PYTHON; the repo's
# packages come from their source folders through PYTHONPATH, so nothing is installed). Each step
# has its own time limit, and the logs go to $OUT, so a step that fails or hangs costs only itself.
set -u
OUT=${OUT:-/tmp/gpu-check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
PYTHONPATH=$(printf '%s:' packages/*/src kernels/src capstone/src)
export PYTHONPATH PYTHONUNBUFFERED=1
# xdist spreads the kernel tests' compilations over the CPU's cores when it is installed.
XDIST=$($PY -c "import xdist" 2>/dev/null && echo "-n 8")

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    $PY -c "import torch, triton; print('torch', torch.__version__, '| triton', triton.__version__, '|', torch.cuda.get_device_name())"
} 2>&1 | tee "$OUT/env.txt"

echo "== 1. kernel tests, compiled" | tee "$OUT/tests.txt"
# shellcheck disable=SC2086
timeout 150 $PY -m pytest kernels/tests -q -p no:cacheprovider $XDIST 2>&1 | tail -40 | tee -a "$OUT/tests.txt"

echo "== 2. gpu-marked tests of the packages and the capstone" | tee "$OUT/gpu_tests.txt"
# Modules whose optional dependencies (a web server, an evaluation harness) are missing on the
# machine are reported as collection errors; the gpu tests of the rest still run.
timeout 150 $PY -m pytest packages capstone -m gpu -q -p no:cacheprovider \
    --continue-on-collection-errors 2>&1 | tail -40 | tee -a "$OUT/gpu_tests.txt"

echo "== 3. benchmarks" | tee "$OUT/bench.txt"
run_bench() {
    local limit=$1
    shift
    echo "-- $*" | tee -a "$OUT/bench.txt"
    timeout "$limit" $PY "$@" 2>&1 | tail -20 | tee -a "$OUT/bench.txt"
}
run_bench 40 kernels/bench/vector_add.py --dtype fp32
run_bench 40 kernels/bench/execution_model.py
run_bench 40 kernels/bench/softmax.py --dtype fp16
run_bench 40 kernels/bench/norms.py --norm rms --dtype fp16
run_bench 40 kernels/bench/norms.py --norm layer --dtype fp16
run_bench 60 kernels/bench/matmul.py --dtype fp16
run_bench 60 kernels/bench/matmul.py --dtype bf16
run_bench 60 kernels/bench/matmul.py --dtype fp32 --precision ieee
run_bench 60 kernels/bench/matmul.py --dtype fp32 --precision tf32
run_bench 40 kernels/bench/swiglu.py --dtype fp16
run_bench 120 kernels/bench/int8_matmul.py
run_bench 60 kernels/bench/flash_attention.py --dtype fp16
run_bench 60 kernels/bench/flash_attention.py --dtype fp16 --causal
run_bench 60 kernels/bench/flash_attention.py --dtype bf16 --head-dim 128
