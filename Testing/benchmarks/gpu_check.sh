#!/usr/bin/env bash
# One prepared run of the GPU figures in the README's Performance section, for a machine
# with an NVIDIA GPU and a python3 that has torch with CUDA, run from the repository root:
#
#     OUT=/tmp/gpu-check bash Testing/benchmarks/gpu_check.sh
#
# - Python packages that machine lacks may lie as wheels in .whl/ (SimpleITK and slicerio,
#   for example); they are installed into /tmp/site, not into the machine's Python.
# - CACHE=FOLDER adds the training throughput on a training cache (`interactiveseg train`
#   builds one).
# - DEVICE=cpu runs the same steps on the CPU, to try the script where there is no GPU.
# Every step has its own time limit, so one that hangs cannot eat the others' time. Each
# writes NAME.json and NAME.log under $OUT; the last line of each step says its exit code.
set -uo pipefail
OUT=${OUT:-gpu-check}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "could not install the wheels in .whl/"; exit 1; }
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=InteractiveSeg${PYTHONPATH:+:$PYTHONPATH}
command -v nvidia-smi >/dev/null && nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1

step() {  # step NAME SECONDS SCRIPT ARGS...
  local name=$1 seconds=$2
  shift 2
  timeout "$seconds" python3 "$@" --output "$OUT/$name.json" > "$OUT/$name.log" 2>&1
  echo "$name: exit $?"
}
# The demo's box (every slice, 30 x 96 x 96), then the 48 x 96 x 96 grid.
step refine-demo-box 150 Testing/benchmarks/benchmark_refine.py --device "$DEVICE" --rounds 5
step refine-48x96x96 150 Testing/benchmarks/benchmark_refine.py --device "$DEVICE" --rounds 5 --grid 48 96 96
if [ -n "${CACHE:-}" ]; then
  step training-2d 150 Testing/benchmarks/benchmark_training.py --cache "$CACHE" --device "$DEVICE" --batch 64
fi
