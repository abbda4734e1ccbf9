#!/usr/bin/env bash
# Issue 23's GPU check in one go (about 8 minutes on an H100/H200): install what the GPU machine lacks, run the
# CUDA tests, the hash-grid benchmark and the distillation benchmarks. Run from the repository root:
#
#     WHEELS=.gpu_wheels bash benchmarks/gpu_check.sh
#
# The GPU machine has no network: fetch the wheels beforehand on a connected machine and carry them over:
#
#     pip download --no-deps -d .gpu_wheels diffusers==0.42.1 nerfacc==0.5.3
#
# Logs go to stdout and, when $OUT is set, to $OUT/gpu_check/. Each stage has its own time limit so that one
# stuck stage does not eat the others' time.
set -uo pipefail
WHEELS=${WHEELS:-.gpu_wheels}
LOG=${OUT:-/tmp}/gpu_check
mkdir -p "$LOG"
export PYTHONPATH=$PWD
python -m pip install --quiet --no-deps --no-index --find-links "$WHEELS" diffusers==0.42.1 nerfacc==0.5.3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOG/gpu.txt"
python -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$LOG/gpu.txt"
stage() {  # stage NAME SECONDS COMMAND...
    local name=$1 seconds=$2
    shift 2
    echo "== $name: $*"
    timeout "$seconds" "$@" 2>&1 | tee "$LOG/$name.txt"
    echo "== $name: exit ${PIPESTATUS[0]}"
}
stage tests 150 python -m pytest -q -x tests/nerf/test_hash_grid.py tests/nerf/test_hash_grid_triton.py \
    tests/test_distill_memory.py tests/test_distill.py
stage bench_hash_grid 60 python benchmarks/bench_hash_grid.py --device cuda
# the tiny fixture model (random weights): the field, the renders and the memory budget are the official ones
stage distill_official 100 python benchmarks/bench_distill.py --preset official --steps 40 --device cuda
stage distill_official_12gib 100 python benchmarks/bench_distill.py --preset official --steps 40 --device cuda \
    --memory-budget-gib 12
stage distill_fast 60 python benchmarks/bench_distill.py --preset fast --steps 40 --device cuda
stage distill_fast_compiled 60 python benchmarks/bench_distill.py --preset fast --steps 40 --device cuda \
    --compile-unet
